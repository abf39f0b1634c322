package server

import (
	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
)

// Role groups used in the table below.
var (
	memberReaders = []access.Role{access.RoleApp, access.RoleAgent, access.RoleAuditor}
	apps          = []access.Role{access.RoleApp}
	appsAndAgents = []access.Role{access.RoleApp, access.RoleAgent}
	marketers     = []access.Role{access.RoleMarketer}
	campaignReads = []access.Role{access.RoleMarketer, access.RoleAuditor}
	auditors      = []access.Role{access.RoleAuditor}
	everyone      = []access.Role{access.RoleApp, access.RoleAgent, access.RoleMarketer, access.RoleAuditor}
	adminOnly     = []access.Role{}
)

// methodRoles is the single role table: for each gRPC method (and so each REST
// route, which goes through the same gRPC server), the roles besides admin that may
// call it. Admin may call every method in the table. A method that is not in the
// table is refused for everyone: new methods are denied until someone decides.
var methodRoles = map[string][]access.Role{
	loyaltyv1.MemberService_EnrollMember_FullMethodName: apps,
	loyaltyv1.MemberService_GetMember_FullMethodName:    memberReaders,
	loyaltyv1.MemberService_UpdateMember_FullMethodName: apps,

	loyaltyv1.ActivityService_RecordActivity_FullMethodName:     apps,
	loyaltyv1.ActivityService_ListActivityTypes_FullMethodName:  everyone,
	loyaltyv1.ActivityService_CreateActivityType_FullMethodName: adminOnly,

	loyaltyv1.ReferralService_RecordReferral_FullMethodName: apps,
	loyaltyv1.ReferralService_ListReferrals_FullMethodName:  memberReaders,

	loyaltyv1.PointsService_Earn_FullMethodName:          apps,
	loyaltyv1.PointsService_Redeem_FullMethodName:        apps,
	loyaltyv1.PointsService_CreateHold_FullMethodName:    apps,
	loyaltyv1.PointsService_CaptureHold_FullMethodName:   apps,
	loyaltyv1.PointsService_VoidHold_FullMethodName:      apps,
	loyaltyv1.PointsService_GetHold_FullMethodName:       memberReaders,
	loyaltyv1.PointsService_ReverseEntry_FullMethodName:  adminOnly,
	loyaltyv1.PointsService_GetBalance_FullMethodName:    memberReaders,
	loyaltyv1.PointsService_ListActivity_FullMethodName:  memberReaders,
	loyaltyv1.PointsService_RefundOrder_FullMethodName:   apps,
	loyaltyv1.PointsService_GetOrder_FullMethodName:      memberReaders,
	loyaltyv1.PointsService_ListOrders_FullMethodName:    memberReaders,
	loyaltyv1.PointsService_ListLots_FullMethodName:      memberReaders,
	loyaltyv1.PointsService_ListEntryLots_FullMethodName: memberReaders,

	loyaltyv1.LedgerService_VerifyLedger_FullMethodName:       auditors,
	loyaltyv1.LedgerService_GetLiabilityReport_FullMethodName: auditors,

	loyaltyv1.GoodwillService_GrantGoodwill_FullMethodName:     {access.RoleAgent},
	loyaltyv1.GoodwillService_ApproveGoodwill_FullMethodName:   adminOnly,
	loyaltyv1.GoodwillService_RejectGoodwill_FullMethodName:    adminOnly,
	loyaltyv1.GoodwillService_ListApprovals_FullMethodName:     auditors,
	loyaltyv1.GoodwillService_SetGoodwillLimits_FullMethodName: adminOnly,
	loyaltyv1.GoodwillService_GetGoodwillLimits_FullMethodName: adminOnly,
	// Only the agent's own approvals (the key is the caller's, goodwill.go): an
	// agent never sees others' approvals; everyone's are ListApprovals'.
	loyaltyv1.GoodwillService_ListOwnApprovals_FullMethodName: {access.RoleAgent},

	loyaltyv1.ProgramService_GetProgram_FullMethodName:    everyone,
	loyaltyv1.ProgramService_UpdateProgram_FullMethodName: adminOnly,

	loyaltyv1.ApiKeyService_CreateApiKey_FullMethodName:       adminOnly,
	loyaltyv1.ApiKeyService_RevokeApiKey_FullMethodName:       adminOnly,
	loyaltyv1.ApiKeyService_ListApiKeys_FullMethodName:        adminOnly,
	loyaltyv1.ApiKeyService_SetApiKeyRateLimit_FullMethodName: adminOnly,
	loyaltyv1.ApiKeyService_GetApiKeyRateLimit_FullMethodName: adminOnly,
	loyaltyv1.ApiKeyService_GetCallerKey_FullMethodName:       everyone,

	loyaltyv1.ClockService_GetClock_FullMethodName:     everyone,
	loyaltyv1.ClockService_AdvanceClock_FullMethodName: adminOnly,

	loyaltyv1.TierService_GetTierPolicy_FullMethodName:      everyone,
	loyaltyv1.TierService_UpdateTierPolicy_FullMethodName:   adminOnly,
	loyaltyv1.TierService_GetPerks_FullMethodName:           memberReaders,
	loyaltyv1.TierService_ListTierHistory_FullMethodName:    memberReaders,
	loyaltyv1.TierService_ListMemberships_FullMethodName:    memberReaders,
	loyaltyv1.TierService_CreateMembership_FullMethodName:   apps,
	loyaltyv1.TierService_CancelMembership_FullMethodName:   apps,
	loyaltyv1.TierService_CheckEntitlement_FullMethodName:   appsAndAgents,
	loyaltyv1.TierService_ConsumeEntitlement_FullMethodName: appsAndAgents,
	loyaltyv1.TierService_ListEntitlements_FullMethodName:   memberReaders,

	loyaltyv1.CampaignService_CreateCampaign_FullMethodName:    marketers,
	loyaltyv1.CampaignService_GetCampaign_FullMethodName:       campaignReads,
	loyaltyv1.CampaignService_ListCampaigns_FullMethodName:     campaignReads,
	loyaltyv1.CampaignService_ActivateCampaign_FullMethodName:  marketers,
	loyaltyv1.CampaignService_PauseCampaign_FullMethodName:     marketers,
	loyaltyv1.CampaignService_EndCampaign_FullMethodName:       marketers,
	loyaltyv1.CampaignService_SimulateCampaign_FullMethodName:  marketers,
	loyaltyv1.CampaignService_CheckCampaignRule_FullMethodName: marketers,
	loyaltyv1.CampaignService_GetCampaignStats_FullMethodName:  campaignReads,

	loyaltyv1.CouponService_IssueCoupon_FullMethodName:  {access.RoleApp, access.RoleAgent, access.RoleMarketer},
	loyaltyv1.CouponService_ListCoupons_FullMethodName:  memberReaders,
	loyaltyv1.CouponService_GetCoupon_FullMethodName:    memberReaders,
	loyaltyv1.CouponService_RedeemCoupon_FullMethodName: apps,
	loyaltyv1.CouponService_RevokeCoupon_FullMethodName: {access.RoleMarketer, access.RoleAgent},
	// The allowance's campaign is marketing's choice of coupon; the tiers' quota
	// (admin's policy) decides how many.
	loyaltyv1.CouponService_GetCouponAllowance_FullMethodName:    campaignReads,
	loyaltyv1.CouponService_UpdateCouponAllowance_FullMethodName: marketers,

	loyaltyv1.AfterSalesService_ReportAfterSalesEvent_FullMethodName: appsAndAgents,

	loyaltyv1.AuditService_ListAuditLog_FullMethodName: auditors,

	// The feed holds every member's every change: for the auditors (finance, BI)
	// and the admin, like the audit log; integrations get it by webhook.
	loyaltyv1.EventService_ListEvents_FullMethodName:  auditors,
	loyaltyv1.EventService_WatchEvents_FullMethodName: auditors,

	loyaltyv1.WebhookService_CreateWebhookEndpoint_FullMethodName: adminOnly,
	loyaltyv1.WebhookService_ListWebhookEndpoints_FullMethodName:  adminOnly,
	loyaltyv1.WebhookService_GetWebhookEndpoint_FullMethodName:    adminOnly,
	loyaltyv1.WebhookService_DeleteWebhookEndpoint_FullMethodName: adminOnly,
	loyaltyv1.WebhookService_RotateWebhookSecret_FullMethodName:   adminOnly,
	loyaltyv1.WebhookService_ListWebhookDeliveries_FullMethodName: adminOnly,
	loyaltyv1.WebhookService_RetryWebhookDelivery_FullMethodName:  adminOnly,
	loyaltyv1.WebhookService_ReplayWebhookEndpoint_FullMethodName: adminOnly,

	// The streamed REST routes (streams_rest.go), which no gRPC method serves:
	// the import writes (admin), each export has the roles of the read it is the
	// whole of (the liability report, a member's activity, a campaign's reads;
	// the entries of a period are the ledger's, like verify).
	opImportMembers:   adminOnly,
	opExportEntries:   auditors,
	opExportStatement: memberReaders,
	opExportLiability: auditors,
	opExportCoupons:   campaignReads,
	// Marketers run the bulk credits a campaign's budget funds (bulk.go checks the
	// funding); auditors read them.
	loyaltyv1.BulkCreditService_CreateBulkCredit_FullMethodName:       marketers,
	loyaltyv1.BulkCreditService_GetBulkCredit_FullMethodName:          campaignReads,
	loyaltyv1.BulkCreditService_ListBulkCredits_FullMethodName:        campaignReads,
	loyaltyv1.BulkCreditService_PauseBulkCredit_FullMethodName:        marketers,
	loyaltyv1.BulkCreditService_ResumeBulkCredit_FullMethodName:       marketers,
	loyaltyv1.BulkCreditService_CancelBulkCredit_FullMethodName:       marketers,
	loyaltyv1.BulkCreditService_ListBulkCreditFailures_FullMethodName: campaignReads,
}

// Allowed tells whether role may call the method.
func Allowed(role access.Role, fullMethod string) bool {
	roles, ok := methodRoles[fullMethod]
	if !ok {
		return false
	}
	if role == access.RoleAdmin {
		return true
	}
	for _, r := range roles {
		if r == role {
			return true
		}
	}
	return false
}
