package server

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/audit"
)

// auditTarget names what a call acts on, as a resource name, from its request and,
// once it has answered, its response (nil before, or when it failed): a call that
// creates something is recorded against what it created.
type auditTarget func(req, resp proto.Message) string

// on adapts a typed target function. A nil response reads as a nil message, whose
// getters answer zero values; a request of another type (a mistake in the table)
// has no target, which a test catches.
func on[Req, Resp proto.Message](f func(Req, Resp) string) auditTarget {
	return func(req, resp proto.Message) string {
		r, ok := req.(Req)
		if !ok {
			return ""
		}
		out, _ := resp.(Resp)
		return f(r, out)
	}
}

// auditedMethods is the table of the API's writes, each with what it acts on. Every
// call of a method here is recorded, refused ones too. Together with readMethods it
// classifies every method of loyalty.v1, which a test checks: a new method is
// neither audited nor a read until someone puts it in one of the two tables.
var auditedMethods = map[string]auditTarget{
	v1.MemberService_EnrollMember_FullMethodName: on(func(r *v1.EnrollMemberRequest, _ *v1.EnrollMemberResponse) string {
		return "members/" + r.GetMemberId()
	}),
	v1.MemberService_UpdateMember_FullMethodName: on(func(r *v1.UpdateMemberRequest, _ *v1.UpdateMemberResponse) string {
		return "members/" + r.GetMemberId()
	}),
	v1.ActivityService_RecordActivity_FullMethodName: on(func(r *v1.RecordActivityRequest, _ *v1.RecordActivityResponse) string {
		return "members/" + r.GetMemberId() + "/activities"
	}),
	v1.ActivityService_CreateActivityType_FullMethodName: on(func(r *v1.CreateActivityTypeRequest, _ *v1.CreateActivityTypeResponse) string {
		return "activityTypes/" + r.GetType()
	}),
	v1.ReferralService_RecordReferral_FullMethodName: on(func(r *v1.RecordReferralRequest, _ *v1.RecordReferralResponse) string {
		return "members/" + r.GetMemberId() + "/referrals/" + r.GetReferredMemberId()
	}),

	v1.ApiKeyService_CreateApiKey_FullMethodName: on(func(_ *v1.CreateApiKeyRequest, resp *v1.CreateApiKeyResponse) string {
		return child("apiKeys", resp.GetKeyId())
	}),
	v1.ApiKeyService_RevokeApiKey_FullMethodName: on(func(r *v1.RevokeApiKeyRequest, _ *v1.RevokeApiKeyResponse) string {
		return "apiKeys/" + r.GetKeyId()
	}),
	v1.ApiKeyService_SetApiKeyRateLimit_FullMethodName: on(func(r *v1.SetApiKeyRateLimitRequest, _ *v1.SetApiKeyRateLimitResponse) string {
		return "apiKeys/" + r.GetKeyId() + "/rateLimit"
	}),

	v1.PointsService_Earn_FullMethodName: on(func(r *v1.EarnRequest, _ *v1.EarnResponse) string {
		return "members/" + r.GetMemberId()
	}),
	v1.PointsService_Redeem_FullMethodName: on(func(r *v1.RedeemRequest, _ *v1.RedeemResponse) string {
		return "members/" + r.GetMemberId()
	}),
	v1.PointsService_CreateHold_FullMethodName: on(func(r *v1.CreateHoldRequest, _ *v1.CreateHoldResponse) string {
		return "members/" + r.GetMemberId()
	}),
	v1.PointsService_CaptureHold_FullMethodName: on(func(r *v1.CaptureHoldRequest, _ *v1.CaptureHoldResponse) string {
		return "holds/" + r.GetHoldId()
	}),
	v1.PointsService_VoidHold_FullMethodName: on(func(r *v1.VoidHoldRequest, _ *v1.VoidHoldResponse) string {
		return "holds/" + r.GetHoldId()
	}),
	v1.PointsService_ReverseEntry_FullMethodName: on(func(r *v1.ReverseEntryRequest, _ *v1.ReverseEntryResponse) string {
		return "entries/" + r.GetEntryId()
	}),
	v1.PointsService_RefundOrder_FullMethodName: on(func(r *v1.RefundOrderRequest, _ *v1.RefundOrderResponse) string {
		return "orders/" + r.GetOrderId()
	}),

	v1.GoodwillService_GrantGoodwill_FullMethodName: on(func(r *v1.GrantGoodwillRequest, _ *v1.GrantGoodwillResponse) string {
		return "members/" + r.GetMemberId()
	}),
	v1.GoodwillService_ApproveGoodwill_FullMethodName: on(func(r *v1.ApproveGoodwillRequest, _ *v1.ApproveGoodwillResponse) string {
		return "approvals/" + r.GetApprovalId()
	}),
	v1.GoodwillService_RejectGoodwill_FullMethodName: on(func(r *v1.RejectGoodwillRequest, _ *v1.RejectGoodwillResponse) string {
		return "approvals/" + r.GetApprovalId()
	}),
	v1.GoodwillService_SetGoodwillLimits_FullMethodName: on(func(r *v1.SetGoodwillLimitsRequest, _ *v1.SetGoodwillLimitsResponse) string {
		return "apiKeys/" + r.GetKeyId() + "/goodwillLimits"
	}),

	v1.ProgramService_UpdateProgram_FullMethodName: on(func(*v1.UpdateProgramRequest, *v1.UpdateProgramResponse) string {
		return "program"
	}),
	v1.ClockService_AdvanceClock_FullMethodName: on(func(*v1.AdvanceClockRequest, *v1.AdvanceClockResponse) string {
		return "clock"
	}),

	v1.TierService_UpdateTierPolicy_FullMethodName: on(func(*v1.UpdateTierPolicyRequest, *v1.UpdateTierPolicyResponse) string {
		return "tierPolicy"
	}),
	v1.TierService_CreateMembership_FullMethodName: on(func(r *v1.CreateMembershipRequest, resp *v1.CreateMembershipResponse) string {
		return child("members/"+r.GetMemberId()+"/memberships", resp.GetMembership().GetMembershipId())
	}),
	v1.TierService_CancelMembership_FullMethodName: on(func(r *v1.CancelMembershipRequest, _ *v1.CancelMembershipResponse) string {
		return "members/" + r.GetMemberId() + "/memberships/" + r.GetMembershipId()
	}),
	v1.TierService_ConsumeEntitlement_FullMethodName: on(func(r *v1.ConsumeEntitlementRequest, _ *v1.ConsumeEntitlementResponse) string {
		return "members/" + r.GetMemberId() + "/entitlements/" + r.GetPerk()
	}),

	v1.WebhookService_CreateWebhookEndpoint_FullMethodName: on(func(_ *v1.CreateWebhookEndpointRequest, resp *v1.CreateWebhookEndpointResponse) string {
		return child("webhookEndpoints", resp.GetEndpoint().GetEndpointId())
	}),
	v1.WebhookService_DeleteWebhookEndpoint_FullMethodName: on(func(r *v1.DeleteWebhookEndpointRequest, _ *v1.DeleteWebhookEndpointResponse) string {
		return "webhookEndpoints/" + r.GetEndpointId()
	}),
	v1.WebhookService_RotateWebhookSecret_FullMethodName: on(func(r *v1.RotateWebhookSecretRequest, _ *v1.RotateWebhookSecretResponse) string {
		return "webhookEndpoints/" + r.GetEndpointId()
	}),
	v1.WebhookService_RetryWebhookDelivery_FullMethodName: on(func(r *v1.RetryWebhookDeliveryRequest, _ *v1.RetryWebhookDeliveryResponse) string {
		return "webhookEndpoints/" + r.GetEndpointId() + "/deliveries/" + r.GetDeliveryId()
	}),
	v1.WebhookService_ReplayWebhookEndpoint_FullMethodName: on(func(r *v1.ReplayWebhookEndpointRequest, _ *v1.ReplayWebhookEndpointResponse) string {
		return "webhookEndpoints/" + r.GetEndpointId()
	}),

	v1.CampaignService_CreateCampaign_FullMethodName: on(func(_ *v1.CreateCampaignRequest, resp *v1.CreateCampaignResponse) string {
		return child("campaigns", resp.GetCampaign().GetCampaignId())
	}),
	v1.CampaignService_ActivateCampaign_FullMethodName: on(func(r *v1.ActivateCampaignRequest, _ *v1.ActivateCampaignResponse) string {
		return "campaigns/" + r.GetCampaignId()
	}),
	v1.CampaignService_PauseCampaign_FullMethodName: on(func(r *v1.PauseCampaignRequest, _ *v1.PauseCampaignResponse) string {
		return "campaigns/" + r.GetCampaignId()
	}),
	v1.CampaignService_EndCampaign_FullMethodName: on(func(r *v1.EndCampaignRequest, _ *v1.EndCampaignResponse) string {
		return "campaigns/" + r.GetCampaignId()
	}),

	v1.CouponService_IssueCoupon_FullMethodName: on(func(r *v1.IssueCouponRequest, resp *v1.IssueCouponResponse) string {
		return child("members/"+r.GetMemberId()+"/coupons", resp.GetCoupon().GetCode())
	}),
	v1.CouponService_RedeemCoupon_FullMethodName: on(func(r *v1.RedeemCouponRequest, _ *v1.RedeemCouponResponse) string {
		return "coupons/" + r.GetCode()
	}),
	v1.CouponService_RevokeCoupon_FullMethodName: on(func(r *v1.RevokeCouponRequest, _ *v1.RevokeCouponResponse) string {
		return "coupons/" + r.GetCode()
	}),
	v1.CouponService_UpdateCouponAllowance_FullMethodName: on(func(*v1.UpdateCouponAllowanceRequest, *v1.UpdateCouponAllowanceResponse) string {
		return "couponAllowance"
	}),

	v1.AfterSalesService_ReportAfterSalesEvent_FullMethodName: on(func(r *v1.ReportAfterSalesEventRequest, _ *v1.ReportAfterSalesEventResponse) string {
		return "orders/" + r.GetOrderId()
	}),

	v1.BulkCreditService_CreateBulkCredit_FullMethodName: on(func(_ *v1.CreateBulkCreditRequest, resp *v1.CreateBulkCreditResponse) string {
		return child("bulkCredits", resp.GetBulkCredit().GetBulkCreditId())
	}),
	v1.BulkCreditService_PauseBulkCredit_FullMethodName: on(func(r *v1.PauseBulkCreditRequest, _ *v1.PauseBulkCreditResponse) string {
		return "bulkCredits/" + r.GetBulkCreditId()
	}),
	v1.BulkCreditService_ResumeBulkCredit_FullMethodName: on(func(r *v1.ResumeBulkCreditRequest, _ *v1.ResumeBulkCreditResponse) string {
		return "bulkCredits/" + r.GetBulkCreditId()
	}),
	v1.BulkCreditService_CancelBulkCredit_FullMethodName: on(func(r *v1.CancelBulkCreditRequest, _ *v1.CancelBulkCreditResponse) string {
		return "bulkCredits/" + r.GetBulkCreditId()
	}),
}

// readMethods are the methods that change nothing, so are not recorded. A POST may
// be one (a dry run, a check).
var readMethods = map[string]bool{
	v1.MemberService_GetMember_FullMethodName:                  true,
	v1.ActivityService_ListActivityTypes_FullMethodName:        true,
	v1.ReferralService_ListReferrals_FullMethodName:            true,
	v1.ApiKeyService_ListApiKeys_FullMethodName:                true,
	v1.ApiKeyService_GetApiKeyRateLimit_FullMethodName:         true,
	v1.ApiKeyService_GetCallerKey_FullMethodName:               true,
	v1.PointsService_GetHold_FullMethodName:                    true,
	v1.PointsService_GetBalance_FullMethodName:                 true,
	v1.PointsService_ListActivity_FullMethodName:               true,
	v1.PointsService_GetOrder_FullMethodName:                   true,
	v1.PointsService_ListOrders_FullMethodName:                 true,
	v1.PointsService_ListLots_FullMethodName:                   true,
	v1.PointsService_ListEntryLots_FullMethodName:              true,
	v1.LedgerService_VerifyLedger_FullMethodName:               true,
	v1.LedgerService_GetLiabilityReport_FullMethodName:         true,
	v1.GoodwillService_ListApprovals_FullMethodName:            true,
	v1.GoodwillService_ListOwnApprovals_FullMethodName:         true,
	v1.GoodwillService_GetGoodwillLimits_FullMethodName:        true,
	v1.ProgramService_GetProgram_FullMethodName:                true,
	v1.ClockService_GetClock_FullMethodName:                    true,
	v1.TierService_GetTierPolicy_FullMethodName:                true,
	v1.TierService_GetPerks_FullMethodName:                     true,
	v1.TierService_ListTierHistory_FullMethodName:              true,
	v1.TierService_ListMemberships_FullMethodName:              true,
	v1.TierService_CheckEntitlement_FullMethodName:             true,
	v1.TierService_ListEntitlements_FullMethodName:             true,
	v1.CampaignService_GetCampaign_FullMethodName:              true,
	v1.CampaignService_ListCampaigns_FullMethodName:            true,
	v1.CampaignService_SimulateCampaign_FullMethodName:         true,
	v1.CampaignService_CheckCampaignRule_FullMethodName:        true,
	v1.CampaignService_GetCampaignStats_FullMethodName:         true,
	v1.CouponService_ListCoupons_FullMethodName:                true,
	v1.CouponService_GetCoupon_FullMethodName:                  true,
	v1.CouponService_GetCouponAllowance_FullMethodName:         true,
	v1.AuditService_ListAuditLog_FullMethodName:                true,
	v1.EventService_ListEvents_FullMethodName:                  true,
	v1.EventService_WatchEvents_FullMethodName:                 true,
	v1.WebhookService_ListWebhookEndpoints_FullMethodName:      true,
	v1.WebhookService_GetWebhookEndpoint_FullMethodName:        true,
	v1.WebhookService_ListWebhookDeliveries_FullMethodName:     true,
	v1.BulkCreditService_GetBulkCredit_FullMethodName:          true,
	v1.BulkCreditService_ListBulkCredits_FullMethodName:        true,
	v1.BulkCreditService_ListBulkCreditFailures_FullMethodName: true,
}

// child is collection/id, or the collection while the id is unknown (the call
// failed before creating it).
func child(collection, id string) string {
	if id == "" {
		return collection
	}
	return collection + "/" + id
}

// auditCalls records every call of an audited method made with a key. It starts
// the call's record before the handler runs and puts it in the context, where
// authorize names the key and the ledger writes it with its entries; whatever no
// committed transaction wrote is written here after the call, with the outcome the
// caller got. It sits outside panic recovery and error mapping, so it sees the
// final status; calls without a valid key are not recorded (they are by no key).
func auditCalls(store *audit.Store, log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		target, audited := auditedMethods[info.FullMethod]
		if !audited {
			return handler(ctx, req)
		}
		msg, _ := req.(proto.Message)
		call := store.Start(info.FullMethod)
		call.Describe(target(msg, nil), memberOf(msg), auditRequestID(ctx, msg))
		resp, err := handler(audit.With(ctx, call), req)
		if call.Snapshot().KeyID == "" {
			return resp, err
		}
		// The caller may be gone; the record is still owed.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		var created string
		if err == nil {
			out, _ := resp.(proto.Message)
			created = target(msg, out)
		}
		if call.Written() {
			// Written in the effect's transaction, before the answer named what the
			// call created (a campaign's id): one more write, for creations only.
			if created != "" && created != call.Snapshot().Target {
				if werr := store.Retarget(wctx, call, created); werr != nil {
					log.ErrorContext(ctx, "audit record not retargeted", "error", werr, "method", info.FullMethod,
						"requestId", requestIDFrom(ctx))
				}
			}
			return resp, err
		}
		if created != "" {
			call.Describe(created, memberOf(msg), auditRequestID(ctx, msg))
		}
		outcome, reason := outcomeOf(err)
		if werr := store.Finish(wctx, call, outcome, reason); werr != nil {
			// The effect stands, so the answer does too; a retry (same requestId)
			// would be recorded, a call without one could be applied twice.
			log.ErrorContext(ctx, "audit record not written", "error", werr, "method", info.FullMethod,
				"requestId", requestIDFrom(ctx))
		}
		return resp, err
	}
}

// memberOf is the member a request names, if it names one.
func memberOf(req proto.Message) string {
	if m, ok := req.(interface{ GetMemberId() string }); ok {
		return m.GetMemberId()
	}
	return ""
}

// auditRequestID is the idempotency key of a call: the body's requestId or the
// Idempotency-Key header, as the handlers take it.
func auditRequestID(ctx context.Context, req proto.Message) string {
	if r, ok := req.(interface{ GetRequestId() string }); ok && r.GetRequestId() != "" {
		return r.GetRequestId()
	}
	if v := metadata.ValueFromIncomingContext(ctx, idempotencyKeyHeader); len(v) > 0 {
		return v[0]
	}
	return ""
}

// outcomeOf is the gRPC code name of a call's status and its ErrorInfo reason.
func outcomeOf(err error) (outcome, reason string) {
	st := status.Convert(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			reason = info.GetReason()
		}
	}
	return code.Code(st.Code()).String(), reason
}

type auditServer struct {
	v1.UnimplementedAuditServiceServer
	store *audit.Store
}

func (s *auditServer) ListAuditLog(ctx context.Context, req *v1.ListAuditLogRequest) (*v1.ListAuditLogResponse, error) {
	q := audit.Query{KeyID: req.GetKeyId(), MemberID: req.GetMemberId(), Method: req.GetMethod(),
		PageSize: req.GetPageSize(), PageToken: req.GetPageToken()}
	if req.GetStartTime() != nil {
		q.Start = req.GetStartTime().AsTime()
	}
	if req.GetEndTime() != nil {
		q.End = req.GetEndTime().AsTime()
	}
	page, err := s.store.List(ctx, q)
	if err != nil {
		return nil, err
	}
	resp := &v1.ListAuditLogResponse{NextPageToken: page.NextPageToken, Records: make([]*v1.AuditRecord, len(page.Records))}
	for i, r := range page.Records {
		resp.Records[i] = &v1.AuditRecord{AuditId: formatID(r.ID), Time: timestamppb.New(r.Time), KeyId: r.KeyID, Role: r.Role,
			Method: r.Method, Target: r.Target, MemberId: r.MemberID, RequestId: r.RequestID, Outcome: r.Outcome, Reason: r.Reason}
	}
	return resp, nil
}
