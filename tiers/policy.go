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
	// Tiers, by ascending threshold; the first has threshold 0.
	Tiers []Tier `json:"tiers" validate:"min=1,max=20,dive"`

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
