package tiers

import (
	"fmt"
	"slices"
	"time"

	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
)

// Metrics a tier policy can qualify members on.
const (
	// MetricQualifyingPoints: points earned (base and tier parts, not goodwill or
	// bonuses) over the rolling window, less what refunds took back.
	MetricQualifyingPoints = "QUALIFYING_POINTS"
	// MetricQualifyingSpend: spend in minor units over the rolling window, less
	// refunds.
	MetricQualifyingSpend = "QUALIFYING_SPEND"
)

// Support priorities and refund modes, the typed perks other systems act on.
const (
	SupportStandard = "STANDARD"
	SupportPriority = "PRIORITY"
	SupportVIP      = "VIP"

	RefundStandard = "STANDARD"
	RefundFast     = "FAST"
	RefundInstant  = "INSTANT"
)

// Sources of points, as the earn breakdown names them.
const (
	SourceBase     = "BASE"
	SourceTier     = "TIER"
	SourceExplicit = "EXPLICIT"
	SourceGoodwill = "GOODWILL"
	SourceCampaign = "CAMPAIGN"
)

// Perks are what a tier gives its members, as data other systems act on.
type Perks struct {
	// EarnMultiplierPercent scales points earned from spend (100: none).
	EarnMultiplierPercent int32  `json:"earnMultiplierPercent" validate:"gte=100,lte=1000"`
	SupportPriority       string `json:"supportPriority" validate:"oneof=STANDARD PRIORITY VIP"`
	// SupportResponseHours is the support desk's response-time target.
	SupportResponseHours int32  `json:"supportResponseHours" validate:"gte=0,lte=720"`
	RefundMode           string `json:"refundMode" validate:"oneof=STANDARD FAST INSTANT"`
	// InstantRefundLimitMinor caps an instant refund (refund mode INSTANT).
	InstantRefundLimitMinor int64 `json:"instantRefundLimitMinor" validate:"gte=0,lte=100000000000"`
	FreeReturnShipping      bool  `json:"freeReturnShipping"`
	BirthdayBonusPoints     int64 `json:"birthdayBonusPoints" validate:"gte=0,lte=1000000"`
	MonthlyCouponAllowance  int32 `json:"monthlyCouponAllowance" validate:"gte=0,lte=100"`
	// FreeReturnPickups is a quota perk, renewed on the member's monthly
	// anniversary.
	FreeReturnPickups int32 `json:"freeReturnPickups" validate:"gte=0,lte=1000"`
}

// Tier is one rung of the ladder.
type Tier struct {
	ID          string `json:"id" validate:"required,shopid,max=32"`
	DisplayName string `json:"displayName" validate:"max=64"`
	// Threshold is the metric a member needs to qualify.
	Threshold int64 `json:"threshold" validate:"gte=0,lte=1000000000000"`
	Perks     Perks `json:"perks"`
}

// Policy is how members qualify for tiers and what each tier gives.
type Policy struct {
	Metric string `json:"metric" validate:"oneof=QUALIFYING_POINTS QUALIFYING_SPEND"`
	// WindowDays is the rolling window the metric is summed over.
	WindowDays int32 `json:"windowDays" validate:"gte=1,lte=1096"`
	// PeriodDays is how long a tier, once reached or kept, holds at least.
	PeriodDays int32 `json:"periodDays" validate:"gte=1,lte=1096"`
	// GraceDays: when a period ends below the tier's threshold, the member keeps
	// the tier this much longer to requalify before the downgrade.
	GraceDays int32 `json:"graceDays" validate:"gte=0,lte=365"`
	// OneDown: a downgrade drops one tier at most, whatever the metric.
	OneDown bool `json:"oneDown"`
	// QualifyingSources are the parts of earnings that count towards the metric
	// (points, and for QUALIFYING_SPEND the spend of orders that earned from it):
	// BASE and TIER (points earned from spend, the default), EXPLICIT (points
	// given explicitly through earn), GOODWILL, CAMPAIGN (bonus points).
	QualifyingSources []string `json:"qualifyingSources" validate:"min=1,max=5,dive,oneof=BASE TIER EXPLICIT GOODWILL CAMPAIGN"`
	// Tiers, by ascending threshold; the first has threshold 0.
	Tiers []Tier `json:"tiers" validate:"min=1,max=20,dive"`
	// DowngradeReminderDays: how many days before a tier period (or grace) ends
	// a member not on track to keep the tier is told (tier.downgrade_due), each
	// day once; none: no reminders.
	DowngradeReminderDays []int32 `json:"downgradeReminderDays" validate:"max=5,dive,gte=1,lte=365"`

	Version    int64     `json:"-"`
	UpdateTime time.Time `json:"-"`
}

// DefaultPolicy is the tier policy of a fresh install (PRODUCT.md).
func DefaultPolicy() Policy {
	perks := func(multiplier int32, support string, hours int32, refund string, instantLimit int64, freeShipping bool, birthday int64, coupons, pickups int32) Perks {
		return Perks{EarnMultiplierPercent: multiplier, SupportPriority: support, SupportResponseHours: hours, RefundMode: refund,
			InstantRefundLimitMinor: instantLimit, FreeReturnShipping: freeShipping, BirthdayBonusPoints: birthday,
			MonthlyCouponAllowance: coupons, FreeReturnPickups: pickups}
	}
	return Policy{
		Metric: MetricQualifyingPoints, WindowDays: 365, PeriodDays: 365, GraceDays: 30, OneDown: true,
		QualifyingSources: []string{SourceBase, SourceTier}, DowngradeReminderDays: []int32{30},
		Tiers: []Tier{
			{ID: "member", DisplayName: "Member", Threshold: 0, Perks: perks(100, SupportStandard, 48, RefundStandard, 0, false, 0, 0, 0)},
			{ID: "silver", DisplayName: "Silver", Threshold: 1000, Perks: perks(125, SupportStandard, 24, RefundStandard, 0, false, 100, 1, 0)},
			{ID: "gold", DisplayName: "Gold", Threshold: 5000, Perks: perks(150, SupportPriority, 8, RefundFast, 0, true, 300, 2, 2)},
			{ID: "platinum", DisplayName: "Platinum", Threshold: 20000, Perks: perks(200, SupportVIP, 2, RefundInstant, 200000, true, 1000, 4, 5)},
		},
	}
}

// Validate checks the policy and names every offending field, including what tags
// cannot say: thresholds strictly ascending from 0, unique ids.
func (p Policy) Validate() error {
	var fields []problem.FieldViolation
	if err := validation.Struct(p); err != nil {
		pe, ok := problem.As(err)
		if !ok {
			return err
		}
		fields = append(fields, pe.Fields...)
	}
	seen := map[string]bool{}
	for i, t := range p.Tiers {
		field := fmt.Sprintf("tiers[%d]", i)
		if i == 0 && t.Threshold != 0 {
			fields = append(fields, problem.FieldViolation{Field: field + ".threshold", Description: "the first tier's threshold must be 0: every member has a tier"})
		}
		if i > 0 && t.Threshold <= p.Tiers[i-1].Threshold {
			fields = append(fields, problem.FieldViolation{Field: field + ".threshold", Description: "thresholds must ascend strictly"})
		}
		if seen[t.ID] {
			fields = append(fields, problem.FieldViolation{Field: field + ".id", Description: "tier ids must be unique"})
		}
		seen[t.ID] = true
	}
	sources := map[string]bool{}
	for i, src := range p.QualifyingSources {
		if sources[src] {
			fields = append(fields, problem.FieldViolation{Field: fmt.Sprintf("qualifyingSources[%d]", i), Description: "is listed twice"})
		}
		sources[src] = true
	}
	if p.GraceDays >= p.PeriodDays {
		fields = append(fields, problem.FieldViolation{Field: "graceDays", Description: "must be shorter than periodDays"})
	}
	if len(fields) > 0 {
		return problem.InvalidFields(fields...)
	}
	return nil
}

// Index is the position of a tier in the ladder, or -1.
func (p Policy) Index(tierID string) int {
	return slices.IndexFunc(p.Tiers, func(t Tier) bool { return t.ID == tierID })
}

// QualifiedIndex is the highest tier the metric reaches.
func (p Policy) QualifiedIndex(metric int64) int {
	best := 0
	for i, t := range p.Tiers {
		if metric >= t.Threshold {
			best = i
		}
	}
	return best
}

// Counts tells whether points of a source count towards the metric.
func (p Policy) Counts(source string) bool { return slices.Contains(p.QualifyingSources, source) }

// MetricOf is the qualifying metric of qualifying points and spend: whichever of
// them the policy qualifies by.
func (p Policy) MetricOf(points, spend int64) int64 {
	if p.Metric == MetricQualifyingSpend {
		return spend
	}
	return points
}

// Bottom is the tier every member has at least.
func (p Policy) Bottom() Tier { return p.Tiers[0] }

// Tier returns a tier of the ladder by id, or the bottom tier (for a tier the
// policy no longer has).
func (p Policy) Tier(id string) Tier {
	if i := p.Index(id); i >= 0 {
		return p.Tiers[i]
	}
	return p.Bottom()
}

// Day is the UTC calendar day of t, which the qualifying metric is counted by.
func Day(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// WindowStart is the first day the metric counts at t: the window is the day of t
// and the WindowDays-1 days before it.
func (p Policy) WindowStart(t time.Time) time.Time {
	return Day(t).AddDate(0, 0, -int(p.WindowDays)+1)
}

// Qualification is the policy as the ledger's write statement applies it to a
// qualifying earning (see tier_qualify in the migrations): the metric over the
// window, ladder ids and thresholds in order, and the period an upgrade starts.
type Qualification struct {
	Metric      string
	WindowStart time.Time
	TierIDs     []string
	Thresholds  []int64
	PeriodEnd   time.Time
	Version     int64
	// At is the instant of the earning.
	At time.Time
}

// QualificationAt is the policy's qualification for an earning at now.
func (p Policy) QualificationAt(now time.Time) Qualification {
	q := Qualification{Metric: p.Metric, WindowStart: p.WindowStart(now), Version: p.Version, At: now,
		PeriodEnd: now.Add(time.Duration(p.PeriodDays) * 24 * time.Hour)}
	for _, t := range p.Tiers {
		q.TierIDs = append(q.TierIDs, t.ID)
		q.Thresholds = append(q.Thresholds, t.Threshold)
	}
	return q
}

// PerkMonthlyCouponAllowance is the quota perk of coupons per cycle, which the
// allowance job issues (campaigns.IssueAllowances).
const PerkMonthlyCouponAllowance = "monthlyCouponAllowance"

// CouponAllowance is how many coupons a tier with these perks gets per quota
// cycle: its monthlyCouponAllowance quota.
func (p Perks) CouponAllowance() int32 {
	q, _ := p.Quota(PerkMonthlyCouponAllowance)
	return q
}

// quotaPerks are the perks that carry a quota per monthly cycle, by the name
// entitlements are checked and consumed with.
var quotaPerks = map[string]func(Perks) int32{
	"freeReturnPickups":        func(p Perks) int32 { return p.FreeReturnPickups },
	PerkMonthlyCouponAllowance: func(p Perks) int32 { return p.MonthlyCouponAllowance },
}

// QuotaPerks lists the names of quota perks.
func QuotaPerks() []string {
	names := make([]string, 0, len(quotaPerks))
	for n := range quotaPerks {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Quota is a quota perk's allowance per cycle, and whether the perk is one.
func (p Perks) Quota(perk string) (int32, bool) {
	f, ok := quotaPerks[perk]
	if !ok {
		return 0, false
	}
	return f(p), true
}
