package campaigns

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/loyalty-engine/loyalty/internal/idempotency"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/ledger"
)

// NoMatchingCampaign says why an event got nothing when no campaign matched it.
const NoMatchingCampaign = "NO_MATCHING_CAMPAIGN"

// AfterSalesEvent is something that went wrong with an order, reported by the
// after-sales system or a support agent.
type AfterSalesEvent struct {
	RequestID  string `json:"requestId" validate:"required,requestid"`
	MemberID   string `json:"memberId" validate:"required,shopid"`
	OrderID    string `json:"orderId" validate:"required,shopid"`
	Type       string `json:"type" validate:"oneof=LATE_DELIVERY DAMAGED_ITEM WRONG_ITEM MISSING_ITEM REFUND_DELAY SERVICE_COMPLAINT OTHER"`
	DelayHours int32  `json:"delayHours" validate:"gte=0,lte=8760"`
	Note       string `json:"note" validate:"max=500"`
}

// CompensationGrant is what one campaign gave for an event.
type CompensationGrant struct {
	CampaignID string `json:"campaignId"`
	Points     int64  `json:"points"`
	EntryID    int64  `json:"entryId,omitempty"`
	CouponCode string `json:"couponCode,omitempty"`
	// TierPercent is the tier scaling applied to the campaign's points.
	TierPercent int32 `json:"tierPercent"`
}

// Refusal is a campaign that matched but gave nothing, and why.
type Refusal struct {
	CampaignID string `json:"campaignId"`
	Reason     string `json:"reason"`
	// RuleError is the error of a RULE_ERROR refusal.
	RuleError string `json:"ruleError,omitempty"`
}

// CompensationResult is the answer to an after-sales event: what the member got, or why
// nothing. Replayed: the (order, type) was compensated before, and this is that
// answer (whatever the request id).
type CompensationResult struct {
	MemberID  string              `json:"memberId"`
	OrderID   string              `json:"orderId"`
	Type      string              `json:"type"`
	RequestID string              `json:"requestId"`
	Grants    []CompensationGrant `json:"grants"`
	Refusals  []Refusal           `json:"refusals"`
	// Reason is set when nothing was granted: NO_MATCHING_CAMPAIGN, or the
	// refusals say why.
	Reason   string    `json:"reason,omitempty"`
	Time     time.Time `json:"time"`
	Replayed bool      `json:"-"`
}

// Compensate matches an after-sales event against the active COMPENSATION
// campaigns and grants what they give (points scaled by the member's tier where
// the campaign says so, and/or its coupon), within their budgets and caps, once
// per (member, order, event type): once an event of a type on an order was
// compensated, a later one, even under a new request id, answers that outcome and
// grants nothing more. An event that got nothing is not recorded.
//
// It is a command of the ledger's group commit (ledger.CompensationClaim): the
// batch locks the member, the campaigns' budgets and the member's uses of them,
// reads the outcome recorded for the order and type or the request id, and decides
// the claim in the apply step (budgets.Compensate, compensation_batch.go); its
// entries, outcome, coupons and budgets commit with the batch.
func (s *Service) Compensate(ctx context.Context, actor ledger.Actor, ev AfterSalesEvent) (CompensationResult, error) {
	if err := validation.Struct(ev); err != nil {
		return CompensationResult{}, err
	}
	// The running campaigns come from the cache; their status and budgets are
	// read again under lock in the batch.
	running, err := s.runningAt(ctx, s.clock.Now())
	if err != nil {
		return CompensationResult{}, err
	}
	claim := ledger.CompensationClaim{
		MemberID: ev.MemberID, OrderID: ev.OrderID, EventType: ev.Type, RequestID: ev.RequestID,
		DelayHours: ev.DelayHours, Fingerprint: idempotency.Fingerprint("after-sales", ev), ActorKeyID: actor.KeyID,
	}
	for _, c := range running {
		if c.compensates(ev) {
			claim.Campaigns = append(claim.Campaigns, c.ID)
		}
	}
	answer, err := s.ledger.Compensate(ctx, actor, claim)
	if err != nil {
		return CompensationResult{}, err
	}
	out, ok := answer.(CompensationResult)
	if !ok {
		return CompensationResult{}, fmt.Errorf("compensation %q: the batch answered %T", ev.RequestID, answer)
	}
	return out, nil
}

// takeCompensations takes what each ask asks from its campaign's budget and the
// member's cap (take), and answers the grants and the refusals (an ask's own, or
// the budget's), each in the asks' order. It is ledger.ErrBudgetsIncomplete when
// the slices read cannot answer.
func takeCompensations(b *budgets, memberID string, asks []compensationAsk, now time.Time) ([]compensationTake, []Refusal, error) {
	var grants []compensationTake
	var refusals []Refusal
	for _, a := range asks {
		if a.refusal != nil {
			refusals = append(refusals, *a.refusal)
			continue
		}
		got := b.take(a.c.ID, memberID, a.points, a.coupons, now)
		if got.incomplete {
			return nil, nil, ledger.ErrBudgetsIncomplete
		}
		if got.refusal != "" {
			refusals = append(refusals, Refusal{CampaignID: a.c.ID, Reason: got.refusal})
			continue
		}
		grants = append(grants, compensationTake{ask: a, got: got})
	}
	return grants, refusals, nil
}

// compensationAsk is what a running campaign that covers the event asks of its
// budget for the member (points scaled by the tier, a coupon if it has one), or
// why it gives nothing before its budget is looked at (a failing rule).
type compensationAsk struct {
	c               Campaign
	pct             int32
	points, coupons int64
	refusal         *Refusal
}

// compensationTake is an ask its budget and the member's cap granted.
type compensationTake struct {
	ask compensationAsk
	got takeResult
}

// compensationAsks are the running campaigns that cover the event and for which the
// member is eligible, in the campaigns' order, with what each asks.
func (s *Service) compensationAsks(ctx context.Context, running []Campaign, ev AfterSalesEvent, facts Facts) []compensationAsk {
	var asks []compensationAsk
	for _, c := range running {
		if !c.compensates(ev) {
			continue
		}
		ok, ruleErr := s.eligible(ctx, c, facts)
		if ruleErr != nil {
			asks = append(asks, compensationAsk{c: c, refusal: &Refusal{CampaignID: c.ID, Reason: RefusedRuleError, RuleError: ruleErr.Err.Error()}})
			continue
		}
		if !ok {
			continue
		}
		asks = append(asks, c.compensationAsk(facts.Member.TierID))
	}
	return asks
}

// compensationAsk is what the campaign asks for a member of the tier: its points
// scaled by the tier, and its coupon if it has one.
func (c Campaign) compensationAsk(tierID string) compensationAsk {
	pct := c.Compensation.tierPercent(tierID)
	a := compensationAsk{c: c, pct: pct, points: c.Compensation.Points * int64(pct) / 100}
	if c.Coupon.Kind != "" {
		a.coupons = 1
	}
	return a
}

// compensates tells whether a compensation campaign covers the event.
func (c Campaign) compensates(ev AfterSalesEvent) bool {
	return c.Type == TypeCompensation && slices.Contains(c.Compensation.EventTypes, ev.Type) &&
		ev.DelayHours >= c.Compensation.MinDelayHours
}

// tierPercent is the scaling of a compensation's points for a tier (100: none).
func (c Compensation) tierPercent(tierID string) int32 {
	if p, ok := c.TierPercent[tierID]; ok {
		return p
	}
	return 100
}
