package events

import (
	"slices"
	"time"
)

// Type names an event: dot-separated, the thing first and what happened to it
// after ("points.earned"). docs/EVENTS.md documents each with its data and an
// example; the data structs below are the shapes.
type Type string

// The catalogue.
const (
	// MemberEnrolled: a member joined. Data: MemberData.
	MemberEnrolled Type = "member.enrolled"
	// MemberUpdated: a member's display name or profile changed. Data: MemberData.
	MemberUpdated Type = "member.updated"
	// MemberImported: a member came in through a member import, with its opening
	// balance and start tier, in one event (instead of member.enrolled,
	// points.opened and tier.changed). Data: ImportedData.
	MemberImported Type = "member.imported"

	// Entries of the ledger. Data: EntryData.
	PointsEarned          Type = "points.earned"
	PointsRedeemed        Type = "points.redeemed"
	HoldPlaced            Type = "hold.placed"
	HoldCaptured          Type = "hold.captured"
	HoldVoided            Type = "hold.voided"
	HoldExpired           Type = "hold.expired"
	EntryReversed         Type = "entry.reversed"
	PointsRefunded        Type = "points.refunded"
	PointsRefundReturned  Type = "points.refund_returned"
	PointsReleased        Type = "points.released"
	PointsExpired         Type = "points.expired"
	PointsGoodwill        Type = "points.goodwill"
	PointsCampaignCredit  Type = "points.campaign_credited"
	PointsCompensation    Type = "points.compensated"
	PointsOpened          Type = "points.opened" // no longer written: an import's opening is in member.imported
	PointsActivity        Type = "points.activity_rewarded"
	PointsBirthday        Type = "points.birthday_bonus"
	PointsBulkCredited    Type = "points.bulk_credited"
	PointsReferral        Type = "points.referral_rewarded"
	ApprovalRequested     Type = "approval.requested" // Data: ApprovalData
	ApprovalDecided       Type = "approval.decided"   // Data: ApprovalData
	TierChanged           Type = "tier.changed"       // Data: TierData (upgrade or downgrade)
	TierGraceStarted      Type = "tier.grace_started" // Data: TierData
	MembershipPurchased   Type = "membership.purchased"
	MembershipCancelled   Type = "membership.cancelled"
	MembershipEnded       Type = "membership.ended"
	EntitlementConsumed   Type = "entitlement.consumed"      // Data: EntitlementData
	CampaignStatusChanged Type = "campaign.status_changed"   // Data: CampaignData
	CampaignBudgetSpent   Type = "campaign.budget_exhausted" // Data: CampaignData, once per campaign
	CouponIssued          Type = "coupon.issued"             // Data: CouponData
	CouponRedeemed        Type = "coupon.redeemed"
	CouponRevoked         Type = "coupon.revoked"
	CouponExpired         Type = "coupon.expired"
	CompensationGranted   Type = "compensation.granted" // Data: CompensationData
	CompensationRefused   Type = "compensation.refused"
	ActivityRecorded      Type = "activity.recorded"         // Data: ActivityData
	ReferralRecorded      Type = "referral.recorded"         // Data: ReferralData
	ReferralSettled       Type = "referral.settled"          // Data: ReferralData (PAID, VOID, CAPPED ...)
	PointsExpiring        Type = "points.expiring"           // Data: ExpiringData
	TierDowngradeDue      Type = "tier.downgrade_due"        // Data: DowngradeDueData
	WebhookDisabled       Type = "webhook_endpoint.disabled" // Data: WebhookDisabledData
)

// catalogue lists every type, in the order docs/EVENTS.md documents them.
var catalogue = []Type{
	MemberEnrolled, MemberUpdated, MemberImported,
	PointsEarned, PointsRedeemed, HoldPlaced, HoldCaptured, HoldVoided, HoldExpired, EntryReversed,
	PointsRefunded, PointsRefundReturned, PointsReleased, PointsExpired, PointsGoodwill,
	PointsCampaignCredit, PointsCompensation, PointsOpened, PointsActivity, PointsBirthday, PointsBulkCredited, PointsReferral,
	ApprovalRequested, ApprovalDecided,
	TierChanged, TierGraceStarted, MembershipPurchased, MembershipCancelled, MembershipEnded,
	EntitlementConsumed,
	CampaignStatusChanged, CampaignBudgetSpent,
	CouponIssued, CouponRedeemed, CouponRevoked, CouponExpired,
	CompensationGranted, CompensationRefused,
	ActivityRecorded, ReferralRecorded, ReferralSettled,
	PointsExpiring, TierDowngradeDue,
	WebhookDisabled,
}

// Types is the catalogue, in documentation order.
func Types() []Type { return slices.Clone(catalogue) }

// Valid tells whether t is in the catalogue.
func (t Type) Valid() bool { return slices.Contains(catalogue, t) }

// MemberData is the data of member.enrolled and member.updated.
type MemberData struct {
	MemberID    string            `json:"memberId"`
	DisplayName string            `json:"displayName,omitempty"`
	TierID      string            `json:"tierId,omitempty"`
	JoinTime    time.Time         `json:"joinTime"`
	Birthday    *Birthday         `json:"birthday,omitempty"`
	Channel     string            `json:"channel,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
}

// ImportedData is the data of member.imported: what a member import did with the
// member, in one event. Created: the import enrolled the member (DisplayName and
// JoinTime are then the row's; else the member's own, which the import keeps).
// Opening: the OPENING entry (nil: the member opened at zero). Tier: the tier the
// member is in after the import, Metric its qualifying metric in the current window
// counting the import's; Started is set when the import started that tier (else
// the member kept the tier it had, as good or better).
type ImportedData struct {
	MemberID    string           `json:"memberId"`
	DisplayName string           `json:"displayName,omitempty"`
	JoinTime    time.Time        `json:"joinTime"`
	Created     bool             `json:"created"`
	Opening     *ImportedOpening `json:"opening,omitempty"`
	TierID      string           `json:"tierId"`
	Metric      int64            `json:"metric"`
	Started     *ImportedTier    `json:"started,omitempty"`
}

// ImportedOpening is an imported member's OPENING entry in ImportedData: its points,
// the member's balances right after it, and the lot the points are in (LotID empty
// when they all repaid a debt) with its expiry.
type ImportedOpening struct {
	EntryID    string     `json:"entryId"`
	Points     int64      `json:"points"`
	Available  int64      `json:"available"`
	Pending    int64      `json:"pending"`
	Held       int64      `json:"held"`
	LotID      string     `json:"lotId,omitempty"`
	ExpireTime *time.Time `json:"expireTime,omitempty"`
}

// ImportedTier is the tier an import started in ImportedData: from which tier,
// why (IMPORTED) and until when, as a tier.changed upgrade would say.
type ImportedTier struct {
	FromTierID string     `json:"fromTierId"`
	Reason     string     `json:"reason"`
	PeriodEnd  *time.Time `json:"periodEnd,omitempty"`
}

// Birthday is a member's birthday in MemberData (year 0: not told).
type Birthday struct {
	Month int32 `json:"month"`
	Day   int32 `json:"day"`
	Year  int32 `json:"year,omitempty"`
}

// ActivityData is the data of activity.recorded: what each ACTIVITY_REWARD
// campaign granted the activity (its CAMPAIGN points are their own
// points.activity_rewarded events) or why not.
type ActivityData struct {
	RequestID    string            `json:"requestId"`
	ActivityType string            `json:"activityType"`
	ActivityKey  string            `json:"activityKey,omitempty"`
	Points       int64             `json:"points"`
	Grants       []ActivityGrant   `json:"grants"`
	Refusals     []ActivityRefusal `json:"refusals"`
}

// ActivityGrant is a campaign's grant in ActivityData.
type ActivityGrant struct {
	CampaignID string `json:"campaignId"`
	Points     int64  `json:"points"`
	EntryID    string `json:"entryId"`
}

// ActivityRefusal is a campaign that gave an activity nothing, and why.
type ActivityRefusal struct {
	CampaignID string `json:"campaignId"`
	Reason     string `json:"reason"`
}

// ReferralData is the data of referral.recorded and referral.settled: who
// referred whom, and, once settled, its status and what each side was paid (the
// REFERRAL entries are their own points.referral_rewarded events).
type ReferralData struct {
	RequestID        string `json:"requestId,omitempty"`
	ReferrerMemberID string `json:"referrerMemberId"`
	ReferredMemberID string `json:"referredMemberId"`
	Status           string `json:"status"`
	CampaignID       string `json:"campaignId,omitempty"`
	ReferrerPoints   int64  `json:"referrerPoints"`
	ReferredPoints   int64  `json:"referredPoints"`
	ReferrerEntryID  string `json:"referrerEntryId,omitempty"`
	ReferredEntryID  string `json:"referredEntryId,omitempty"`
}

// EntryData is the data of every event of a ledger entry (points.*, hold.*,
// entry.reversed). Points is the change to the member's available points (negative
// for a redemption); the balances are the member's right after the entry.
type EntryData struct {
	EntryID         string `json:"entryId"`
	Kind            string `json:"kind"` // the entry's kind: EARN, REDEEM, HOLD, ...
	Points          int64  `json:"points"`
	Available       int64  `json:"available"`
	Pending         int64  `json:"pending"`
	Held            int64  `json:"held"`
	RequestID       string `json:"requestId,omitempty"`
	OrderID         string `json:"orderId,omitempty"`
	HoldID          string `json:"holdId,omitempty"`
	ReversesEntryID string `json:"reversesEntryId,omitempty"`
	CampaignID      string `json:"campaignId,omitempty"`
	BulkCreditID    string `json:"bulkCreditId,omitempty"` // points.bulk_credited only
	ReasonCode      string `json:"reasonCode,omitempty"`
	Memo            string `json:"memo,omitempty"`
}

// ApprovalData is the data of approval.requested and approval.decided.
type ApprovalData struct {
	ApprovalID  string `json:"approvalId"`
	Points      int64  `json:"points"`
	ReasonCode  string `json:"reasonCode,omitempty"`
	RequestedBy string `json:"requestedBy,omitempty"` // key id
	// Decision is APPROVED or REJECTED (approval.decided only).
	Decision  string `json:"decision,omitempty"`
	DecidedBy string `json:"decidedBy,omitempty"`
	EntryID   string `json:"entryId,omitempty"` // the goodwill entry an approval posted
}

// TierData is the data of tier.changed, tier.grace_started and membership.*.
type TierData struct {
	FromTierID string `json:"fromTierId,omitempty"`
	ToTierID   string `json:"toTierId"`
	// Change is UPGRADE, DOWNGRADE, GRACE, PURCHASED, CANCELLED or ENDED.
	Change       string     `json:"change"`
	Reason       string     `json:"reason,omitempty"`
	MembershipID string     `json:"membershipId,omitempty"`
	PeriodEnd    *time.Time `json:"periodEnd,omitempty"`
}

// EntitlementData is the data of entitlement.consumed.
type EntitlementData struct {
	PerkID    string `json:"perkId"`
	RequestID string `json:"requestId,omitempty"`
	Remaining int64  `json:"remaining"`
}

// CampaignData is the data of campaign.status_changed and campaign.budget_exhausted.
type CampaignData struct {
	CampaignID string `json:"campaignId"`
	FromStatus string `json:"fromStatus,omitempty"`
	Status     string `json:"status"`
	Budget     int64  `json:"budget,omitempty"`
	Spent      int64  `json:"spent,omitempty"`
}

// CouponData is the data of coupon.*.
type CouponData struct {
	CouponID   string `json:"couponId"`
	CampaignID string `json:"campaignId,omitempty"`
	Code       string `json:"code,omitempty"`
	OrderID    string `json:"orderId,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// CompensationData is the data of compensation.granted and compensation.refused.
type CompensationData struct {
	CampaignID string `json:"campaignId,omitempty"`
	RequestID  string `json:"requestId,omitempty"`
	Points     int64  `json:"points,omitempty"`
	CouponID   string `json:"couponId,omitempty"`
	Reason     string `json:"reason,omitempty"` // why it was refused
}

// ExpiringData is the data of points.expiring: Points expire at ExpireTime, and the
// reminder is the one DaysBefore that date (once per member, date and reminder day).
type ExpiringData struct {
	Points     int64     `json:"points"`
	ExpireTime time.Time `json:"expireTime"`
	DaysBefore int       `json:"daysBefore"`
}

// DowngradeDueData is the data of tier.downgrade_due: the member's tier period ends
// at PeriodEnd and the member is short of KeepNeeded to keep TierID.
type DowngradeDueData struct {
	TierID     string    `json:"tierId"`
	NextTierID string    `json:"nextTierId"`
	PeriodEnd  time.Time `json:"periodEnd"`
	KeepNeeded int64     `json:"keepNeeded"`
	DaysBefore int       `json:"daysBefore"`
}

// WebhookDisabledData is the data of webhook_endpoint.disabled.
type WebhookDisabledData struct {
	EndpointID string `json:"endpointId"`
	URL        string `json:"url"`
	Reason     string `json:"reason"`
	// FailingSince is when the attempts started failing without a success.
	FailingSince time.Time `json:"failingSince"`
}
