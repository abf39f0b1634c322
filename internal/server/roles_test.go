package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/api/openapi"
	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/internal/server"
)

var (
	matrixProgram = &loyaltyv1.Program{EarnPoints: 2, EarnPerAmountMinor: 100, ReturnWindowDays: 7,
		Expiry: &loyaltyv1.ExpiryPolicy{Kind: "END_OF_FOLLOWING_YEAR"}, PointsPerUnit: 100, TimeZone: "Asia/Shanghai"}
	matrixTierPolicy = &loyaltyv1.TierPolicy{Metric: "QUALIFYING_POINTS", WindowDays: 365, PeriodDays: 365, GraceDays: 30, OneDown: true,
		QualifyingSources: []string{"BASE", "TIER"}, Tiers: []*loyaltyv1.Tier{
			{Id: "member", DisplayName: "Member", Perks: &loyaltyv1.Perks{EarnMultiplierPercent: 100, SupportPriority: "STANDARD", RefundMode: "STANDARD"}},
			{Id: "gold", DisplayName: "Gold", Threshold: 5000, Perks: &loyaltyv1.Perks{EarnMultiplierPercent: 150, SupportPriority: "PRIORITY",
				RefundMode: "FAST", FreeReturnPickups: 2}},
		}}
	apps            = []access.Role{access.RoleApp}
	readers         = []access.Role{access.RoleApp, access.RoleAgent, access.RoleAuditor}
	marketers       = []access.Role{access.RoleMarketer}
	campaignReaders = []access.Role{access.RoleMarketer, access.RoleAuditor}
)

// matrixCase is one method of the API: a valid request, and who may call it.
type matrixCase struct {
	request proto.Message
	allowed []access.Role // besides admin
}

// restBodies are the REST bodies of routes that map one field of the request as the
// body (body: "program"); elsewhere the whole request is the body.
var restBodies = map[string]proto.Message{
	loyaltyv1.ProgramService_UpdateProgram_FullMethodName: matrixProgram,
	loyaltyv1.TierService_UpdateTierPolicy_FullMethodName: matrixTierPolicy,
}

// roleMatrix is the expected access of every method, written independently of the
// server's role table so that a change to either is caught. Every method of the API
// must be here.
var roleMatrix = map[string]matrixCase{
	loyaltyv1.MemberService_EnrollMember_FullMethodName: {&loyaltyv1.EnrollMemberRequest{MemberId: "matrix-member"}, apps},
	loyaltyv1.MemberService_GetMember_FullMethodName:    {&loyaltyv1.GetMemberRequest{MemberId: "matrix-member"}, readers},
	loyaltyv1.MemberService_UpdateMember_FullMethodName: {&loyaltyv1.UpdateMemberRequest{MemberId: "matrix-member"}, apps},
	loyaltyv1.ActivityService_RecordActivity_FullMethodName: {&loyaltyv1.RecordActivityRequest{RequestId: "m-activity",
		MemberId: "matrix-member", Type: "SHARE"}, apps},
	loyaltyv1.ActivityService_ListActivityTypes_FullMethodName: {&loyaltyv1.ListActivityTypesRequest{},
		[]access.Role{access.RoleApp, access.RoleAgent, access.RoleMarketer, access.RoleAuditor}},
	loyaltyv1.ActivityService_CreateActivityType_FullMethodName: {&loyaltyv1.CreateActivityTypeRequest{Type: "MATRIX"}, nil},
	loyaltyv1.ReferralService_RecordReferral_FullMethodName: {&loyaltyv1.RecordReferralRequest{RequestId: "m-referral",
		MemberId: "matrix-member", ReferredMemberId: "matrix-referred"}, apps},
	loyaltyv1.ReferralService_ListReferrals_FullMethodName: {&loyaltyv1.ListReferralsRequest{MemberId: "matrix-member"}, readers},
	loyaltyv1.PointsService_Earn_FullMethodName:            {&loyaltyv1.EarnRequest{MemberId: "matrix-member", RequestId: "m-earn", Points: 100}, apps},
	loyaltyv1.PointsService_Redeem_FullMethodName:          {&loyaltyv1.RedeemRequest{MemberId: "matrix-member", RequestId: "m-redeem", Points: 1}, apps},
	loyaltyv1.PointsService_CreateHold_FullMethodName:      {&loyaltyv1.CreateHoldRequest{MemberId: "matrix-member", RequestId: "m-hold", Points: 1}, apps},
	loyaltyv1.PointsService_CaptureHold_FullMethodName:     {&loyaltyv1.CaptureHoldRequest{HoldId: "1", RequestId: "m-capture"}, apps},
	loyaltyv1.PointsService_VoidHold_FullMethodName:        {&loyaltyv1.VoidHoldRequest{HoldId: "1", RequestId: "m-void"}, apps},
	loyaltyv1.PointsService_GetHold_FullMethodName:         {&loyaltyv1.GetHoldRequest{HoldId: "1"}, readers},
	loyaltyv1.PointsService_ReverseEntry_FullMethodName:    {&loyaltyv1.ReverseEntryRequest{EntryId: "1", RequestId: "m-reverse", Reason: "matrix"}, nil},
	loyaltyv1.PointsService_GetBalance_FullMethodName:      {&loyaltyv1.GetBalanceRequest{MemberId: "matrix-member"}, readers},
	loyaltyv1.PointsService_ListActivity_FullMethodName:    {&loyaltyv1.ListActivityRequest{MemberId: "matrix-member"}, readers},
	loyaltyv1.PointsService_RefundOrder_FullMethodName: {&loyaltyv1.RefundOrderRequest{OrderId: "matrix-order", RequestId: "m-refund",
		MemberId: "matrix-member"}, apps},
	loyaltyv1.PointsService_GetOrder_FullMethodName:      {&loyaltyv1.GetOrderRequest{MemberId: "matrix-member", OrderId: "matrix-order"}, readers},
	loyaltyv1.PointsService_ListOrders_FullMethodName:    {&loyaltyv1.ListOrdersRequest{MemberId: "matrix-member", PageSize: 5}, readers},
	loyaltyv1.PointsService_ListLots_FullMethodName:      {&loyaltyv1.ListLotsRequest{MemberId: "matrix-member", IncludeSpent: true}, readers},
	loyaltyv1.PointsService_ListEntryLots_FullMethodName: {&loyaltyv1.ListEntryLotsRequest{EntryId: "1"}, readers},
	loyaltyv1.LedgerService_VerifyLedger_FullMethodName:  {&loyaltyv1.VerifyLedgerRequest{}, []access.Role{access.RoleAuditor}},
	loyaltyv1.LedgerService_GetLiabilityReport_FullMethodName: {&loyaltyv1.GetLiabilityReportRequest{},
		[]access.Role{access.RoleAuditor}},
	loyaltyv1.GoodwillService_GrantGoodwill_FullMethodName: {&loyaltyv1.GrantGoodwillRequest{MemberId: "matrix-member", RequestId: "m-gw",
		Points: 10, ReasonCode: "LATE_DELIVERY", TicketId: "T-1"}, []access.Role{access.RoleAgent}},
	loyaltyv1.GoodwillService_ApproveGoodwill_FullMethodName:   {&loyaltyv1.ApproveGoodwillRequest{ApprovalId: "1"}, nil},
	loyaltyv1.GoodwillService_RejectGoodwill_FullMethodName:    {&loyaltyv1.RejectGoodwillRequest{ApprovalId: "1"}, nil},
	loyaltyv1.GoodwillService_ListApprovals_FullMethodName:     {&loyaltyv1.ListApprovalsRequest{}, []access.Role{access.RoleAuditor}},
	loyaltyv1.GoodwillService_SetGoodwillLimits_FullMethodName: {&loyaltyv1.SetGoodwillLimitsRequest{KeyId: "key_matrix", PerGrant: 1, PerDay: 1}, nil},
	loyaltyv1.GoodwillService_GetGoodwillLimits_FullMethodName: {&loyaltyv1.GetGoodwillLimitsRequest{KeyId: "key_matrix"}, nil},
	loyaltyv1.GoodwillService_ListOwnApprovals_FullMethodName:  {&loyaltyv1.ListOwnApprovalsRequest{Status: "PENDING"}, []access.Role{access.RoleAgent}},
	loyaltyv1.ProgramService_GetProgram_FullMethodName:         {&loyaltyv1.GetProgramRequest{}, []access.Role{access.RoleApp, access.RoleAgent, access.RoleMarketer, access.RoleAuditor}},
	loyaltyv1.ProgramService_UpdateProgram_FullMethodName:      {&loyaltyv1.UpdateProgramRequest{Program: matrixProgram}, nil},
	loyaltyv1.ApiKeyService_CreateApiKey_FullMethodName:        {&loyaltyv1.CreateApiKeyRequest{Name: "matrix", Role: "auditor"}, nil},
	loyaltyv1.ApiKeyService_RevokeApiKey_FullMethodName:        {&loyaltyv1.RevokeApiKeyRequest{KeyId: "key_matrix_unknown"}, nil},
	loyaltyv1.ApiKeyService_ListApiKeys_FullMethodName:         {&loyaltyv1.ListApiKeysRequest{}, nil},
	loyaltyv1.ApiKeyService_SetApiKeyRateLimit_FullMethodName:  {&loyaltyv1.SetApiKeyRateLimitRequest{KeyId: "key_matrix_unknown", RequestsPerSecond: 10}, nil},
	loyaltyv1.ApiKeyService_GetApiKeyRateLimit_FullMethodName:  {&loyaltyv1.GetApiKeyRateLimitRequest{KeyId: "key_matrix_unknown"}, nil},
	loyaltyv1.ApiKeyService_GetCallerKey_FullMethodName:        {&loyaltyv1.GetCallerKeyRequest{}, []access.Role{access.RoleApp, access.RoleAgent, access.RoleMarketer, access.RoleAuditor}},
	loyaltyv1.ClockService_GetClock_FullMethodName:             {&loyaltyv1.GetClockRequest{}, []access.Role{access.RoleApp, access.RoleAgent, access.RoleMarketer, access.RoleAuditor}},
	loyaltyv1.ClockService_AdvanceClock_FullMethodName:         {&loyaltyv1.AdvanceClockRequest{Hours: 1}, nil},
	loyaltyv1.TierService_GetTierPolicy_FullMethodName: {&loyaltyv1.GetTierPolicyRequest{},
		[]access.Role{access.RoleApp, access.RoleAgent, access.RoleMarketer, access.RoleAuditor}},
	loyaltyv1.TierService_UpdateTierPolicy_FullMethodName: {&loyaltyv1.UpdateTierPolicyRequest{Policy: matrixTierPolicy}, nil},
	loyaltyv1.TierService_GetPerks_FullMethodName:         {&loyaltyv1.GetPerksRequest{MemberId: "matrix-member"}, readers},
	loyaltyv1.TierService_ListTierHistory_FullMethodName:  {&loyaltyv1.ListTierHistoryRequest{MemberId: "matrix-member"}, readers},
	loyaltyv1.TierService_ListMemberships_FullMethodName:  {&loyaltyv1.ListMembershipsRequest{MemberId: "matrix-member"}, readers},
	loyaltyv1.TierService_CreateMembership_FullMethodName: {&loyaltyv1.CreateMembershipRequest{MemberId: "matrix-member", RequestId: "m-membership",
		TierId: "gold", EndTime: timestamppb.New(time.Now().Add(365 * 24 * time.Hour).Truncate(time.Second))}, apps},
	loyaltyv1.TierService_CancelMembership_FullMethodName: {&loyaltyv1.CancelMembershipRequest{MemberId: "matrix-member", MembershipId: "1"}, apps},
	loyaltyv1.TierService_CheckEntitlement_FullMethodName: {&loyaltyv1.CheckEntitlementRequest{MemberId: "matrix-member", Perk: "freeReturnPickups"},
		[]access.Role{access.RoleApp, access.RoleAgent}},
	loyaltyv1.TierService_ConsumeEntitlement_FullMethodName: {&loyaltyv1.ConsumeEntitlementRequest{MemberId: "matrix-member", Perk: "freeReturnPickups",
		RequestId: "m-consume"}, []access.Role{access.RoleApp, access.RoleAgent}},
	loyaltyv1.TierService_ListEntitlements_FullMethodName: {&loyaltyv1.ListEntitlementsRequest{MemberId: "matrix-member"}, readers},

	loyaltyv1.CampaignService_CreateCampaign_FullMethodName: {&loyaltyv1.CreateCampaignRequest{RequestId: "m-campaign", DisplayName: "Matrix bonus",
		Type: "POINTS_BONUS", BonusPoints: 10}, marketers},
	loyaltyv1.CampaignService_GetCampaign_FullMethodName:      {&loyaltyv1.GetCampaignRequest{CampaignId: "cmp_matrix"}, campaignReaders},
	loyaltyv1.CampaignService_ListCampaigns_FullMethodName:    {&loyaltyv1.ListCampaignsRequest{Status: "ACTIVE"}, campaignReaders},
	loyaltyv1.CampaignService_ActivateCampaign_FullMethodName: {&loyaltyv1.ActivateCampaignRequest{CampaignId: "cmp_matrix"}, marketers},
	loyaltyv1.CampaignService_PauseCampaign_FullMethodName:    {&loyaltyv1.PauseCampaignRequest{CampaignId: "cmp_matrix"}, marketers},
	loyaltyv1.CampaignService_EndCampaign_FullMethodName:      {&loyaltyv1.EndCampaignRequest{CampaignId: "cmp_matrix"}, marketers},
	loyaltyv1.CampaignService_SimulateCampaign_FullMethodName: {&loyaltyv1.SimulateCampaignRequest{CampaignId: "cmp_matrix", MemberId: "matrix-member",
		Spend: &loyaltyv1.Money{AmountMinor: 10000, Currency: "CNY"}}, marketers},
	loyaltyv1.CampaignService_CheckCampaignRule_FullMethodName: {&loyaltyv1.CheckCampaignRuleRequest{Rule: "order.spendMinor > 0",
		Type: "POINTS_MULTIPLIER"}, marketers},
	loyaltyv1.CampaignService_GetCampaignStats_FullMethodName: {&loyaltyv1.GetCampaignStatsRequest{CampaignId: "cmp_matrix"}, campaignReaders},
	loyaltyv1.CouponService_IssueCoupon_FullMethodName: {&loyaltyv1.IssueCouponRequest{MemberId: "matrix-member", RequestId: "m-coupon",
		CampaignId: "cmp_matrix"}, []access.Role{access.RoleApp, access.RoleAgent, access.RoleMarketer}},
	loyaltyv1.CouponService_ListCoupons_FullMethodName: {&loyaltyv1.ListCouponsRequest{MemberId: "matrix-member"}, readers},
	loyaltyv1.CouponService_GetCoupon_FullMethodName:   {&loyaltyv1.GetCouponRequest{Code: "0000-0000-0000-0000"}, readers},
	loyaltyv1.CouponService_RedeemCoupon_FullMethodName: {&loyaltyv1.RedeemCouponRequest{Code: "0000-0000-0000-0000", RequestId: "m-redeem-coupon",
		MemberId: "matrix-member", OrderId: "matrix-order"}, apps},
	loyaltyv1.CouponService_RevokeCoupon_FullMethodName: {&loyaltyv1.RevokeCouponRequest{Code: "0000-0000-0000-0000"},
		[]access.Role{access.RoleMarketer, access.RoleAgent}},
	loyaltyv1.CouponService_GetCouponAllowance_FullMethodName:    {&loyaltyv1.GetCouponAllowanceRequest{}, campaignReaders},
	loyaltyv1.CouponService_UpdateCouponAllowance_FullMethodName: {&loyaltyv1.UpdateCouponAllowanceRequest{}, marketers},
	loyaltyv1.AfterSalesService_ReportAfterSalesEvent_FullMethodName: {&loyaltyv1.ReportAfterSalesEventRequest{RequestId: "m-after-sales",
		MemberId: "matrix-member", OrderId: "matrix-order", Type: "LATE_DELIVERY", DelayHours: 72}, []access.Role{access.RoleApp, access.RoleAgent}},
	loyaltyv1.AuditService_ListAuditLog_FullMethodName: {&loyaltyv1.ListAuditLogRequest{MemberId: "matrix-member"}, []access.Role{access.RoleAuditor}},

	loyaltyv1.EventService_ListEvents_FullMethodName: {&loyaltyv1.ListEventsRequest{MemberId: "matrix-member"}, []access.Role{access.RoleAuditor}},
	loyaltyv1.WebhookService_CreateWebhookEndpoint_FullMethodName: {&loyaltyv1.CreateWebhookEndpointRequest{
		Url: "https://hooks.invalid/matrix", EventTypes: []string{"points.earned"}}, nil},
	loyaltyv1.WebhookService_ListWebhookEndpoints_FullMethodName:  {&loyaltyv1.ListWebhookEndpointsRequest{}, nil},
	loyaltyv1.WebhookService_GetWebhookEndpoint_FullMethodName:    {&loyaltyv1.GetWebhookEndpointRequest{EndpointId: "whe_matrix"}, nil},
	loyaltyv1.WebhookService_DeleteWebhookEndpoint_FullMethodName: {&loyaltyv1.DeleteWebhookEndpointRequest{EndpointId: "whe_matrix"}, nil},
	loyaltyv1.WebhookService_RotateWebhookSecret_FullMethodName:   {&loyaltyv1.RotateWebhookSecretRequest{EndpointId: "whe_matrix"}, nil},
	loyaltyv1.WebhookService_ListWebhookDeliveries_FullMethodName: {&loyaltyv1.ListWebhookDeliveriesRequest{EndpointId: "whe_matrix"}, nil},
	loyaltyv1.WebhookService_RetryWebhookDelivery_FullMethodName: {&loyaltyv1.RetryWebhookDeliveryRequest{EndpointId: "whe_matrix",
		DeliveryId: "1"}, nil},
	loyaltyv1.WebhookService_ReplayWebhookEndpoint_FullMethodName: {&loyaltyv1.ReplayWebhookEndpointRequest{EndpointId: "whe_matrix"}, nil},

	// A marketer's bulk credit needs a campaign (TestBulkCreditsREST refuses one
	// without); the matrix's names one, which does not exist (a 400, past the role).
	loyaltyv1.BulkCreditService_CreateBulkCredit_FullMethodName: {&loyaltyv1.CreateBulkCreditRequest{RequestId: "m-bulk", Points: 1,
		Reason: "matrix", CampaignId: "cmp_matrix", Target: &loyaltyv1.BulkCreditTarget{All: true}}, []access.Role{access.RoleMarketer}},
	loyaltyv1.BulkCreditService_GetBulkCredit_FullMethodName:   {&loyaltyv1.GetBulkCreditRequest{BulkCreditId: "1"}, []access.Role{access.RoleMarketer, access.RoleAuditor}},
	loyaltyv1.BulkCreditService_ListBulkCredits_FullMethodName: {&loyaltyv1.ListBulkCreditsRequest{}, []access.Role{access.RoleMarketer, access.RoleAuditor}},
	loyaltyv1.BulkCreditService_ListBulkCreditFailures_FullMethodName: {&loyaltyv1.ListBulkCreditFailuresRequest{BulkCreditId: "1"},
		[]access.Role{access.RoleMarketer, access.RoleAuditor}},
	loyaltyv1.BulkCreditService_PauseBulkCredit_FullMethodName:  {&loyaltyv1.PauseBulkCreditRequest{BulkCreditId: "1"}, []access.Role{access.RoleMarketer}},
	loyaltyv1.BulkCreditService_ResumeBulkCredit_FullMethodName: {&loyaltyv1.ResumeBulkCreditRequest{BulkCreditId: "1"}, []access.Role{access.RoleMarketer}},
	loyaltyv1.BulkCreditService_CancelBulkCredit_FullMethodName: {&loyaltyv1.CancelBulkCreditRequest{BulkCreditId: "1"}, []access.Role{access.RoleMarketer}},
}

// streamRoles is the expected access of the server streams, which have no REST
// route and are checked by their own tests (TestWatchEventsRoles).
var streamRoles = map[string][]access.Role{
	loyaltyv1.EventService_WatchEvents_FullMethodName: {access.RoleAuditor},
}

// apiMethods lists every method of every service in package loyalty.v1.
func apiMethods(t *testing.T) map[string]protoreflect.MethodDescriptor {
	t.Helper()
	methods := map[string]protoreflect.MethodDescriptor{}
	protoregistry.GlobalFiles.RangeFilesByPackage("loyalty.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				methods["/"+string(sd.FullName())+"/"+string(md.Name())] = md
			}
		}
		return true
	})
	if len(methods) == 0 {
		t.Fatal("no API methods found")
	}
	return methods
}

type restRoute struct{ method, path string }

// restRoutes maps gRPC methods to their REST routes, read from the OpenAPI document.
func restRoutes(t *testing.T) map[string]restRoute {
	t.Helper()
	raw, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	routes := map[string]restRoute{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			svc, name, _ := strings.Cut(op.OperationID, "_")
			routes["/loyalty.v1."+svc+"/"+name] = restRoute{strings.ToUpper(method), path}
		}
	}
	return routes
}

// fillPath puts the request's fields into the route's {placeholders}.
func fillPath(t *testing.T, path string, req proto.Message) string {
	t.Helper()
	var fields map[string]any
	b, _ := protojson.Marshal(req)
	_ = json.Unmarshal(b, &fields)
	for {
		open := strings.Index(path, "{")
		if open < 0 {
			return path
		}
		end := strings.Index(path[open:], "}") + open
		v, ok := fields[path[open+1:end]].(string)
		if !ok {
			t.Fatalf("path %s: request has no %s", path, path[open+1:end])
		}
		path = path[:open] + v + path[end+1:]
	}
}

func TestEveryMethodIsInTheRoleMatrixAndHasARestRoute(t *testing.T) {
	routes := restRoutes(t)
	for name, md := range apiMethods(t) {
		if md.IsStreamingServer() {
			if _, ok := streamRoles[name]; !ok {
				t.Errorf("stream %s is not in streamRoles", name)
			}
			continue
		}
		if _, ok := roleMatrix[name]; !ok {
			t.Errorf("%s is not in the test role matrix", name)
		}
		if _, ok := routes[name]; !ok {
			t.Errorf("%s has no REST route", name)
		}
	}
	for name := range roleMatrix {
		if _, ok := apiMethods(t)[name]; !ok {
			t.Errorf("role matrix names %s, which the API does not have", name)
		}
	}
}

// countRows is a fingerprint of the database's contents, to prove denied calls
// change nothing. The audit log is left out: it records refused calls too, the one
// thing they write (see auditRecords).
func countRows(t *testing.T, env *apitest.Env) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	rows, err := env.Pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
		AND table_name <> 'audit_log' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	counts := map[string]int64{}
	for _, tbl := range tables {
		var n int64
		if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM "`+tbl+`"`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[tbl] = n
	}
	return counts
}

// auditRecords is the number of records in the audit log.
func auditRecords(t *testing.T, env *apitest.Env) int64 {
	t.Helper()
	var n int64
	if err := env.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func sameCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestRoleMatrixOnGRPCAndREST(t *testing.T) {
	env := apitest.Start(t)
	keys := map[access.Role]string{}
	for _, r := range access.Roles {
		keys[r] = env.Key(r)
	}
	methods := apiMethods(t)
	routes := restRoutes(t)

	names := make([]string, 0, len(roleMatrix))
	for n := range roleMatrix {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		tc := roleMatrix[name]
		md := methods[name]
		route := routes[name]
		t.Run(name, func(t *testing.T) {
			isAllowed := func(r access.Role) bool {
				if r == access.RoleAdmin {
					return true
				}
				for _, a := range tc.allowed {
					if a == r {
						return true
					}
				}
				return false
			}
			callGRPC := func(key string) codes.Code {
				resp := dynamicpb.NewMessage(md.Output())
				err := env.Conn.Invoke(env.Ctx(key), name, tc.request, resp)
				return status.Code(err)
			}
			callREST := func(key string) int {
				var body any
				if route.method == http.MethodPost || route.method == http.MethodPut || route.method == http.MethodPatch {
					msg := tc.request
					if b, ok := restBodies[name]; ok {
						msg = b
					}
					b, _ := protojson.Marshal(msg)
					body = b
				}
				return env.REST(route.method, fillPath(t, route.path, tc.request), key, body).Status
			}

			// Denied callers first, and prove they changed nothing.
			before, auditBefore := countRows(t, env), auditRecords(t, env)
			for _, key := range []string{"", "lk_not_a_key"} {
				if got := callGRPC(key); got != codes.Unauthenticated {
					t.Errorf("gRPC with key %q: got %v, want Unauthenticated", key, got)
				}
				if got := callREST(key); got != http.StatusUnauthorized {
					t.Errorf("REST with key %q: got %d, want 401", key, got)
				}
			}
			for _, r := range access.Roles {
				if isAllowed(r) {
					continue
				}
				if got := callGRPC(keys[r]); got != codes.PermissionDenied {
					t.Errorf("gRPC as %s: got %v, want PermissionDenied", r, got)
				}
				if got := callREST(keys[r]); got != http.StatusForbidden {
					t.Errorf("REST as %s: got %d, want 403", r, got)
				}
			}
			// The one thing a denied call may write is its audit record (writes
			// only, and only with a key): one PERMISSION_DENIED per call.
			denied := 0
			for _, r := range access.Roles {
				if !isAllowed(r) {
					denied += 2
				}
			}
			var refusals int64
			if err := env.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE method = $1 AND outcome = 'PERMISSION_DENIED'`,
				name).Scan(&refusals); err != nil {
				t.Fatal(err)
			}
			if grown := auditRecords(t, env) - auditBefore; (grown != 0 && grown != int64(denied)) || refusals != grown {
				t.Errorf("denied calls wrote %d audit records, %d of them refusals of %s; want none (a read) or %d", grown, refusals, name, denied)
			}
			if after := countRows(t, env); !sameCounts(before, after) {
				t.Errorf("denied calls changed the database: before %v, after %v", before, after)
			}

			for _, r := range access.Roles {
				if !isAllowed(r) {
					continue
				}
				if got := callGRPC(keys[r]); got == codes.PermissionDenied || got == codes.Unauthenticated {
					t.Errorf("gRPC as %s: got %v, want allowed", r, got)
				}
				if got := callREST(keys[r]); got == http.StatusForbidden || got == http.StatusUnauthorized {
					t.Errorf("REST as %s: got %d, want allowed", r, got)
				}
			}
		})
	}
}

func TestMethodsMissingFromTheRoleTableAreDenied(t *testing.T) {
	for _, r := range access.Roles {
		if server.Allowed(r, "/loyalty.v1.NotAService/NotAMethod") {
			t.Errorf("role %s may call a method that is not in the role table", r)
		}
	}
	// Every method the API has is decided in the role table.
	for name := range apiMethods(t) {
		if !server.Allowed(access.RoleAdmin, name) {
			t.Errorf("%s is not in the role table", name)
		}
	}
}
