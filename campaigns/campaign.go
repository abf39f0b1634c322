package campaigns

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/ledger"
)

// Campaign types.
const (
	TypeMultiplier   = "POINTS_MULTIPLIER"
	TypeBonus        = "POINTS_BONUS"
	TypeCouponDrop   = "COUPON_DROP"
	TypeCompensation = "COMPENSATION"
	TypeActivity     = "ACTIVITY_REWARD"
	TypeReferral     = "REFERRAL"
)

// Campaign statuses.
const (
	StatusDraft     = "DRAFT"
	StatusScheduled = "SCHEDULED"
	StatusActive    = "ACTIVE"
	StatusPaused    = "PAUSED"
	StatusEnded     = "ENDED"
)

// Coupon kinds.
const (
	CouponAmountOff    = "AMOUNT_OFF"
	CouponPercentOff   = "PERCENT_OFF"
	CouponFreeShipping = "FREE_SHIPPING"
)

// EventTypes are the after-sales event types (and goodwill reason codes).
var EventTypes = []string{"LATE_DELIVERY", "DAMAGED_ITEM", "WRONG_ITEM", "MISSING_ITEM", "REFUND_DELAY", "SERVICE_COMPLAINT", "OTHER"}

// Schedule is when a campaign runs: local wall times in an IANA time zone. Without
// times it runs from activation until ended.
type Schedule struct {
	StartTime string `json:"startTime" validate:"omitempty,max=40"`
	EndTime   string `json:"endTime" validate:"omitempty,max=40"`
	TimeZone  string `json:"timeZone" validate:"omitempty,max=64"`
}

// Eligibility is who a campaign is for: members of the tiers (all when empty) for
// whom the rule holds (always when empty).
type Eligibility struct {
	Tiers []string `json:"tiers" validate:"max=20,dive,required,max=32"`
	Rule  string   `json:"rule" validate:"max=2000"`
}

// CouponTemplate is the coupon a campaign issues.
type CouponTemplate struct {
	Kind           string `json:"kind" validate:"omitempty,oneof=AMOUNT_OFF PERCENT_OFF FREE_SHIPPING"`
	AmountOffMinor int64  `json:"amountOffMinor" validate:"gte=0,lte=100000000000"`
	PercentOff     int32  `json:"percentOff" validate:"gte=0,lte=100"`
	MinSpendMinor  int64  `json:"minSpendMinor" validate:"gte=0,lte=100000000000"`
	ValidDays      int32  `json:"validDays" validate:"gte=0,lte=3650"`
}

// Compensation is what a COMPENSATION campaign grants for matching after-sales
// events: points (scaled per tier by TierPercent) and/or its coupon.
type Compensation struct {
	EventTypes    []string         `json:"eventTypes" validate:"max=7,dive,oneof=LATE_DELIVERY DAMAGED_ITEM WRONG_ITEM MISSING_ITEM REFUND_DELAY SERVICE_COMPLAINT OTHER"`
	MinDelayHours int32            `json:"minDelayHours" validate:"gte=0,lte=8760"`
	Points        int64            `json:"points" validate:"gte=0,lte=1000000"`
	TierPercent   map[string]int32 `json:"tierPercent" validate:"max=20,dive,gte=0,lte=1000"`
}

// ActivityReward is what an ACTIVITY_REWARD campaign grants for the activities of
// the types it lists: Points per activity, within Caps.
type ActivityReward struct {
	ActivityTypes []string     `json:"activityTypes" validate:"max=10,dive,required,max=32"`
	Points        int64        `json:"points" validate:"gte=0,lte=1000000"`
	Caps          ActivityCaps `json:"caps"`
}

// ActivityCaps bound how many of a member's activities a campaign rewards (zero:
// unbounded): per day, week (Monday to Sunday) and month of the program's time
// zone, and per activity key (the same reviewed order line rewarded once across
// the campaign's types, say).
type ActivityCaps struct {
	PerDay         int32 `json:"perDay" validate:"gte=0,lte=1000"`
	PerWeek        int32 `json:"perWeek" validate:"gte=0,lte=1000"`
	PerMonth       int32 `json:"perMonth" validate:"gte=0,lte=10000"`
	PerActivityKey int32 `json:"perActivityKey" validate:"gte=0,lte=1000"`
}

// Budget bounds what a campaign gives in all (zero: unbounded).
type Budget struct {
	Points  int64 `json:"points" validate:"gte=0,lte=1000000000000"`
	Coupons int64 `json:"coupons" validate:"gte=0,lte=1000000000"`
}

// Cap bounds what one member gets from a campaign (zero: unbounded).
type Cap struct {
	Points  int64 `json:"points" validate:"gte=0,lte=1000000000"`
	Coupons int32 `json:"coupons" validate:"gte=0,lte=1000"`
}

// Definition is what a marketer writes: everything about a campaign but its state.
type Definition struct {
	DisplayName       string         `json:"displayName" validate:"required,max=200"`
	Type              string         `json:"type" validate:"oneof=POINTS_MULTIPLIER POINTS_BONUS COUPON_DROP COMPENSATION ACTIVITY_REWARD REFERRAL"`
	Schedule          Schedule       `json:"schedule"`
	Eligibility       Eligibility    `json:"eligibility"`
	MultiplierPercent int32          `json:"multiplierPercent" validate:"gte=0,lte=1000"`
	BonusPoints       int64          `json:"bonusPoints" validate:"gte=0,lte=1000000"`
	Coupon            CouponTemplate `json:"coupon"`
	Compensation      Compensation   `json:"compensation"`
	Budget            Budget         `json:"budget"`
	PerMemberCap      Cap            `json:"perMemberCap"`
	Activity          ActivityReward `json:"activity"`
	Referral          ReferralReward `json:"referral"`
}

// Campaign is a campaign and where it stands.
type Campaign struct {
	ID string
	Definition
	// Status as stored; Effective tells what it is at an instant.
	Status string
	// Start and End are the schedule as instants (zero: open).
	Start, End    time.Time
	SpentPoints   int64
	IssuedCoupons int64
	Grants        int64
	CreateTime    time.Time
	UpdateTime    time.Time

	rule *Rule
}

// localLayout is how schedule times are written: wall time without offset.
const localLayout = "2006-01-02T15:04:05"

// compile checks a definition and names every offending field, including what the
// tags cannot say: the time zone, start before end, the type's own body, the rule.
// It answers the schedule as instants and the compiled rule.
func (d Definition) compile(knownTier func(string) bool) (start, end time.Time, rule *Rule, err error) {
	if err := validation.Struct(d); err != nil {
		return time.Time{}, time.Time{}, nil, err
	}
	var fields []problem.FieldViolation
	bad := func(field, description string) {
		fields = append(fields, problem.FieldViolation{Field: field, Description: description})
	}
	start, end = d.Schedule.instants(bad)
	for i, t := range d.Eligibility.Tiers {
		if !knownTier(t) {
			bad(fmt.Sprintf("eligibility.tiers[%d]", i), "is not a tier of the tier policy")
		}
	}
	switch d.Type {
	case TypeMultiplier:
		if d.MultiplierPercent <= 100 {
			bad("multiplierPercent", "must be above 100 (200 doubles the base points)")
		}
	case TypeBonus:
		if d.BonusPoints <= 0 {
			bad("bonusPoints", "must be at least 1")
		}
	case TypeCouponDrop:
		d.Coupon.check("coupon", true, bad)
	case TypeCompensation:
		if len(d.Compensation.EventTypes) == 0 {
			bad("compensation.eventTypes", "must list at least one event type")
		}
		if d.Compensation.Points == 0 && d.Coupon.Kind == "" {
			bad("compensation.points", "a compensation grants points, a coupon, or both")
		}
		d.Coupon.check("coupon", false, bad)
		for tier := range d.Compensation.TierPercent {
			if !knownTier(tier) {
				bad("compensation.tierPercent."+tier, "is not a tier of the tier policy")
			}
		}
	case TypeActivity:
		if len(d.Activity.ActivityTypes) == 0 {
			bad("activity.activityTypes", "must list at least one activity type")
		}
		if d.Activity.Points < 1 {
			bad("activity.points", "must be at least 1")
		}
	case TypeReferral:
		if d.Referral.ReferrerPoints+d.Referral.ReferredPoints < 1 {
			bad("referral.referrerPoints", "a referral pays the referrer, the member referred, or both: at least 1 point")
		}
	}
	if d.Type != TypeReferral && (d.Referral.ReferrerPoints > 0 || d.Referral.ReferredPoints > 0 || d.Referral.Caps.PerReferrerPerMonth > 0) {
		bad("referral", "only REFERRAL campaigns pay referrals")
	}
	if d.Type != TypeActivity && (len(d.Activity.ActivityTypes) > 0 || d.Activity.Points > 0) {
		bad("activity", "only ACTIVITY_REWARD campaigns reward activities")
	}
	if d.Type != TypeCouponDrop && d.Type != TypeCompensation && d.Budget.Coupons > 0 {
		bad("budget.coupons", "only campaigns that issue coupons have a coupon budget")
	}
	if (d.Type == TypeCouponDrop) && d.Budget.Points > 0 {
		bad("budget.points", "a coupon drop grants no points")
	}
	rule, err = d.checkRule()
	if pe, ok := problem.As(err); ok {
		fields = append(fields, pe.Fields...)
	} else if err != nil {
		return time.Time{}, time.Time{}, nil, err
	}
	if len(fields) > 0 {
		return time.Time{}, time.Time{}, nil, problem.InvalidFields(fields...)
	}
	return start, end, rule, nil
}

func (c CouponTemplate) check(field string, required bool, bad func(string, string)) {
	switch {
	case c.Kind == "" && required:
		bad(field+".kind", "is required: AMOUNT_OFF, PERCENT_OFF or FREE_SHIPPING")
	case c.Kind == CouponAmountOff && c.AmountOffMinor <= 0:
		bad(field+".amountOffMinor", "must be at least 1 for AMOUNT_OFF")
	case c.Kind == CouponPercentOff && (c.PercentOff < 1 || c.PercentOff > 100):
		bad(field+".percentOff", "must be 1-100 for PERCENT_OFF")
	}
	if c.Kind != "" && c.ValidDays < 1 {
		bad(field+".validDays", "must be at least 1")
	}
}

// instants reads the schedule's wall times in its time zone.
func (s Schedule) instants(bad func(string, string)) (start, end time.Time) {
	if s.StartTime == "" && s.EndTime == "" {
		if s.TimeZone != "" {
			bad("schedule.timeZone", "is only used with startTime or endTime")
		}
		return time.Time{}, time.Time{}
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if s.TimeZone == "" || s.TimeZone == "Local" || err != nil {
		bad("schedule.timeZone", "must be an IANA time zone such as Asia/Shanghai or UTC")
		return time.Time{}, time.Time{}
	}
	parse := func(field, v string) time.Time {
		if v == "" {
			return time.Time{}
		}
		t, err := time.ParseInLocation(localLayout, v, loc)
		if err != nil {
			bad(field, "must be a local time like 2026-11-11T00:00:00 (no offset: the time zone says it)")
		}
		return t
	}
	start, end = parse("schedule.startTime", s.StartTime), parse("schedule.endTime", s.EndTime)
	if !start.IsZero() && !end.IsZero() && !end.After(start) {
		bad("schedule.endTime", "must be after startTime")
	}
	return start, end
}

// EffectiveStatus is what the campaign is at t: an activated campaign is SCHEDULED
// before its start, ACTIVE from its start (inclusive) to its end (exclusive), ENDED
// after. The job writes these transitions down, but the instant decides, so a
// campaign starting at midnight applies to the first order after midnight.
func (c Campaign) EffectiveStatus(t time.Time) string {
	switch c.Status {
	case StatusDraft, StatusPaused, StatusEnded:
		return c.Status
	}
	switch {
	case !c.End.IsZero() && !t.Before(c.End):
		return StatusEnded
	case !c.Start.IsZero() && t.Before(c.Start):
		return StatusScheduled
	}
	return StatusActive
}

// ActiveAt tells whether the campaign applies at t.
func (c Campaign) ActiveAt(t time.Time) bool { return c.EffectiveStatus(t) == StatusActive }

// Eligible tells whether a member and an order (or event) qualify. A rule that
// fails at run time does not qualify; the error (a *RuleError) says why.
func (c Campaign) Eligible(f Facts) (bool, error) {
	if len(c.Eligibility.Tiers) > 0 && !slices.Contains(c.Eligibility.Tiers, f.Member.TierID) {
		return false, nil
	}
	return c.rule.Eval(f)
}

// ruleSamples are facts like those the campaign's rule will see, for the check at
// save: points campaigns see orders with a spend, coupon drops a member alone,
// compensations the events they cover (at their minimum delay and later).
func (d Definition) ruleSamples() ([]Facts, string) {
	member := MemberFacts{TierID: "member", MemberID: "sample-member", JoinTime: time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC),
		Birthday: BirthdayFacts{Month: 5, Day: 17}, Attributes: map[string]string{}}
	if len(d.Eligibility.Tiers) > 0 {
		member.TierID = d.Eligibility.Tiers[0]
	}
	var samples []Facts
	switch d.Type {
	case TypeCouponDrop:
		return []Facts{{Member: member}}, "a member (a coupon drop sees no order or event)"
	case TypeReferral:
		return []Facts{{Member: member}}, "a referrer (a referral sees no order or event)"
	case TypeCompensation:
		for _, t := range d.Compensation.EventTypes {
			for _, late := range []int64{0, 48} {
				samples = append(samples, Facts{Member: member, Order: OrderFacts{OrderID: "sample-order"},
					Event: EventFacts{Type: t, DelayHours: int64(d.Compensation.MinDelayHours) + late}})
			}
		}
		return samples, "every event it covers that was tried (" + strings.Join(d.Compensation.EventTypes, ", ") + ", at the minimum delay and 48 hours later)"
	case TypeActivity:
		for _, t := range d.Activity.ActivityTypes {
			samples = append(samples, Facts{Member: member, Activity: ActivityFacts{Type: t, Key: "sample-key", Attributes: map[string]string{}}})
		}
		return samples, "every activity it covers (" + strings.Join(d.Activity.ActivityTypes, ", ") + ")"
	}
	for _, spend := range []int64{100, 10_000, 1_000_000} {
		samples = append(samples, Facts{Member: member, Order: OrderFacts{OrderID: "sample-order", SpendMinor: spend, Currency: "CNY"}})
	}
	return samples, "every order tried (spends of 100, 10000 and 1000000 minor units in CNY)"
}

// Account is the campaign's ledger account, which funds the points it grants.
func Account(campaignID string) string { return ledger.CampaignAccount(campaignID) }
