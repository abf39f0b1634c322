package campaigns

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
)

// Simulate asks what a campaign would give a member for an order (or an
// after-sales event), changing nothing.
type Simulate struct {
	CampaignID string `json:"campaignId" validate:"required,max=64"`
	MemberID   string `json:"memberId" validate:"required,shopid"`
	OrderID    string `json:"orderId" validate:"omitempty,shopid"`
	SpendMinor int64  `json:"spend.amountMinor" validate:"gte=0,lte=10000000000000"`
	// Currency, when given, must be one the program earns in (ledger's CurrencyRule).
	Currency   string `json:"spend.currency"`
	EventType  string `json:"eventType" validate:"omitempty,oneof=LATE_DELIVERY DAMAGED_ITEM WRONG_ITEM MISSING_ITEM REFUND_DELAY SERVICE_COMPLAINT OTHER"`
	DelayHours int32  `json:"delayHours" validate:"gte=0,lte=8760"`
	// ActivityType and ActivityKey: an activity now (ACTIVITY_REWARD campaigns),
	// counted against the caps as a real one would be.
	ActivityType string `json:"activityType" validate:"max=32"`
	ActivityKey  string `json:"activityKey" validate:"omitempty,requestid"`
}

// Simulation is what the campaign would grant now, were it active (ActiveNow says
// whether it is), within what its budget and the member's cap leave.
type Simulation struct {
	CampaignID string
	ActiveNow  bool
	Eligible   bool
	TierID     string
	// BasePoints is what the spend earns at the program's rate (multipliers scale it).
	BasePoints int64
	Points     int64
	Coupons    int32
	// Reason is why nothing would be granted: NOT_ELIGIBLE, RULE_ERROR,
	// BUDGET_EXHAUSTED, MEMBER_CAP_REACHED, NO_SPEND, EVENT_NOT_COVERED.
	Reason string
	// RuleError is why the eligibility rule failed on these facts (RULE_ERROR).
	RuleError string
	// Left in the budget and the member's cap (-1: unbounded).
	BudgetPointsLeft  int64
	BudgetCouponsLeft int64
	CapPointsLeft     int64
	CapCouponsLeft    int64
}

// Simulate is the dry run of a campaign (in any status, drafts included) against a
// member and an order or event: eligibility, the points or coupon it would give,
// and what its budget and the member's cap would leave of them.
func (s *Service) Simulate(ctx context.Context, q Simulate) (Simulation, error) {
	if err := validation.Struct(q); err != nil {
		return Simulation{}, err
	}
	c, err := s.Get(ctx, q.CampaignID)
	if err != nil {
		return Simulation{}, err
	}
	now := s.clock.Now()
	facts, err := s.memberFacts(ctx, s.pool, q.MemberID, now)
	if err != nil {
		return Simulation{}, err
	}
	facts.Order = OrderFacts{OrderID: q.OrderID, SpendMinor: q.SpendMinor, Currency: q.Currency}
	facts.Event = EventFacts{Type: q.EventType, DelayHours: int64(q.DelayHours)}
	facts.Activity = ActivityFacts{Type: q.ActivityType, Key: q.ActivityKey, Attributes: map[string]string{}}
	prog, err := s.ledger.Program(ctx)
	if err != nil {
		return Simulation{}, err
	}
	if q.Currency != "" {
		if v := prog.CurrencyRule(q.Currency); v != nil {
			return Simulation{}, problem.InvalidFields(*v)
		}
	}
	sim := Simulation{CampaignID: c.ID, ActiveNow: c.ActiveAt(now), TierID: facts.Member.TierID,
		BasePoints: prog.PointsForSpend(q.SpendMinor)}
	// A dry run reports a failing rule in its answer; it is not counted or logged
	// like a rule that failed on a real order.
	var ruleErr error
	sim.Eligible, ruleErr = c.Eligible(facts)
	if re, ok := errors.AsType[*RuleError](ruleErr); ok {
		sim.RuleError = re.Err.Error()
	} else if ruleErr != nil {
		return Simulation{}, ruleErr
	}
	used, err := s.q.CampaignMember(ctx, s.pool, campaignsdb.CampaignMemberParams{CampaignID: c.ID, MemberID: q.MemberID})
	if err != nil {
		return Simulation{}, fmt.Errorf("member's use of campaign %s: %w", c.ID, err)
	}
	left := func(limit, used int64) int64 {
		if limit == 0 {
			return -1
		}
		return max(limit-used, 0)
	}
	sim.BudgetPointsLeft, sim.BudgetCouponsLeft = left(c.Budget.Points, c.SpentPoints), left(c.Budget.Coupons, c.IssuedCoupons)
	sim.CapPointsLeft, sim.CapCouponsLeft = left(c.PerMemberCap.Points, used.Points), left(int64(c.PerMemberCap.Coupons), int64(used.Coupons))

	// Why nothing would be granted, first reason first: the rule, the facts the
	// campaign needs, then what the real grant's rule (take) refuses.
	got := c.dryTake(used.Points, int64(used.Coupons), sim.TierID, sim.BasePoints, now)
	capRefusal := ""
	if c.Type == TypeActivity && c.rewards(q.ActivityType) {
		if capRefusal, err = s.dryActivityCaps(ctx, c, q, prog.Location(), now); err != nil {
			return Simulation{}, err
		}
	}
	switch {
	case sim.RuleError != "":
		sim.Reason = RefusedRuleError
	case !sim.Eligible:
		sim.Reason = "NOT_ELIGIBLE"
	case q.SpendMinor == 0 && (c.Type == TypeMultiplier || c.Type == TypeBonus):
		sim.Reason = "NO_SPEND"
	case c.Type == TypeCompensation && !c.compensates(AfterSalesEvent{Type: q.EventType, DelayHours: q.DelayHours}):
		sim.Reason = "EVENT_NOT_COVERED"
	case c.Type == TypeActivity && !c.rewards(q.ActivityType):
		sim.Reason = "ACTIVITY_NOT_COVERED"
	case capRefusal != "":
		sim.Reason = capRefusal
	case got.refusal != "":
		sim.Reason = got.refusal
	default:
		sim.Points, sim.Coupons = got.points, int32(got.coupons)
	}
	return sim, nil
}

// dryTake is what a real grant of the campaign would take (take, the same rule) for
// a member who got usedPoints and usedCoupons from it so far, from a copy of its
// counters as read now (one slice: the slices are shards of one budget, so their
// sums answer the same), as if it ran now. A points campaign asking nothing is not
// applied (no refusal), as on an earning.
func (c Campaign) dryTake(usedPoints, usedCoupons int64, tierID string, basePoints int64, now time.Time) takeResult {
	var points, coupons int64
	switch c.Type {
	case TypeMultiplier, TypeBonus:
		if points = c.Bonus(basePoints); points <= 0 {
			return takeResult{}
		}
	case TypeCouponDrop:
		coupons = 1
	case TypeCompensation:
		a := c.compensationAsk(tierID)
		points, coupons = a.points, a.coupons
	case TypeActivity:
		points = c.Activity.Points
	case TypeReferral:
		// The simulated member as the referrer: their side of a referral.
		points = c.Referral.ReferrerPoints
	}
	dry := &campaignBudget{
		campaign:  Campaign{ID: c.ID, Status: StatusActive}, // were it active: ActiveNow says whether it is
		capPoints: c.PerMemberCap.Points, capCoupons: int64(c.PerMemberCap.Coupons),
		slices: []*budgetSlice{{budgetPoints: boundedOrUnbounded(c.Budget.Points), budgetCoupons: boundedOrUnbounded(c.Budget.Coupons),
			spentPoints: c.SpentPoints, issuedCoupons: c.IssuedCoupons}},
	}
	return take(dry, &memberUse{points: usedPoints, coupons: usedCoupons}, points, coupons, 0, now)
}

// boundedOrUnbounded is a definition's budget as a slice holds it (0: unbounded, -1).
func boundedOrUnbounded(budget int64) int64 {
	if budget == 0 {
		return -1
	}
	return budget
}

// dryActivityCaps is what the caps (activityCapRefusal, the same rule) say of the
// simulated activity now, from the member's grants as read now.
func (s *Service) dryActivityCaps(ctx context.Context, c Campaign, q Simulate, loc *time.Location, now time.Time) (string, error) {
	rows, err := s.q.ActivityGrantsOfMember(ctx, s.pool, campaignsdb.ActivityGrantsOfMemberParams{
		MemberID: q.MemberID, CampaignID: c.ID, Since: capsSince(now, loc), ActivityKey: q.ActivityKey})
	if err != nil {
		return "", fmt.Errorf("activity grants of %s: %w", q.MemberID, err)
	}
	grants := make([]activityGrant, 0, len(rows))
	for _, r := range rows {
		grants = append(grants, activityGrant{campaignID: r.CampaignID, activityKey: r.ActivityKey, occurTime: r.OccurTime, entryID: r.EntryID})
	}
	return activityCapRefusal(c.Activity.Caps, grants, c.ID, q.ActivityKey, now, loc), nil
}
