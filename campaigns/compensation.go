package campaigns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
	"github.com/loyalty-engine/loyalty/internal/database"
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
// grants nothing more. An event that got nothing is not recorded. Everything
// commits together.
func (s *Service) Compensate(ctx context.Context, actor ledger.Actor, ev AfterSalesEvent) (CompensationResult, error) {
	if err := validation.Struct(ev); err != nil {
		return CompensationResult{}, err
	}
	fp := idempotency.Fingerprint("after-sales", ev)
	now := s.clock.Now()
	// The running campaigns are read (on the pool, when the cache is stale) before
	// the transaction: inside it, a wait for a second connection deadlocks once
	// every pooled connection is such a transaction (40 racing events did). Their
	// status and budgets are read again under lock when granting.
	running, err := s.runningAt(ctx, now)
	if err != nil {
		return CompensationResult{}, err
	}
	var out CompensationResult
	err = s.inLanes(ctx, ev.MemberID, func(tx pgx.Tx, lane ledger.BudgetLane) error {
		// The member first, as the ledger's batches lock it before the budgets.
		if err := s.ledger.LockMemberTx(ctx, tx, ev.MemberID); err != nil {
			return err
		}
		if stored, found, err := s.storedEvent(ctx, tx, ev, fp); found || err != nil {
			out = stored
			return err
		}
		var err error
		out, err = s.compensate(ctx, tx, lane, actor, ev, running, now)
		if err != nil || len(out.Grants) == 0 {
			// Nothing granted, nothing recorded: the same event reported later (a
			// longer delay, a campaign launched since) may still be compensated.
			return err
		}
		outcome, err := json.Marshal(out)
		if err != nil {
			return fmt.Errorf("encode compensation: %w", err)
		}
		return s.q.InsertAfterSalesEvent(ctx, tx, campaignsdb.InsertAfterSalesEventParams{
			MemberID: ev.MemberID, OrderID: ev.OrderID, EventType: ev.Type, RequestID: ev.RequestID, Fingerprint: fp,
			DelayHours: ev.DelayHours, Outcome: outcome, ActorKeyID: actor.KeyID, CreateTime: now,
		})
	})
	if database.IsUniqueViolation(err, "") {
		// A racing event of the same (order, type) or request compensated first; its
		// grants stand, ours rolled back.
		var found bool
		if out, found, err = s.storedEvent(ctx, s.pool, ev, fp); !found && err == nil {
			err = fmt.Errorf("after-sales event %q vanished", ev.RequestID)
		}
	}
	return out, err
}

// compensate grants what the matching campaigns give for the event: the eligible
// ones' budgets and the member's uses are read under lock in one round trip, taken
// from in Go (take) and written back (the member's row is locked already, before
// them, as the ledger's batches lock it), and only then are the points credited and
// the coupons issued. Grants and refusals keep the campaigns' order.
func (s *Service) compensate(ctx context.Context, tx pgx.Tx, lane ledger.BudgetLane, actor ledger.Actor, ev AfterSalesEvent, running []Campaign, now time.Time) (CompensationResult, error) {
	out := CompensationResult{MemberID: ev.MemberID, OrderID: ev.OrderID, Type: ev.Type, RequestID: ev.RequestID, Time: now,
		Grants: []CompensationGrant{}, Refusals: []Refusal{}}
	facts, err := s.memberFacts(ctx, tx, ev.MemberID, now)
	if err != nil {
		return CompensationResult{}, err
	}
	facts.Order = OrderFacts{OrderID: ev.OrderID}
	facts.Event = EventFacts{Type: ev.Type, DelayHours: int64(ev.DelayHours)}
	asks := s.compensationAsks(ctx, running, ev, facts)
	grants, refusals, err := s.takeCompensations(ctx, tx, lane, ev.MemberID, asks, now)
	if err != nil {
		return CompensationResult{}, err
	}
	out.Refusals = append(out.Refusals, refusals...)
	for _, t := range grants {
		g, err := s.grantCompensation(ctx, tx, actor, ev, now, t)
		if err != nil {
			return CompensationResult{}, err
		}
		out.Grants = append(out.Grants, g)
	}
	if len(out.Grants) == 0 && len(out.Refusals) == 0 {
		out.Reason = NoMatchingCampaign
	}
	return out, nil
}

// takeCompensations takes what each ask asks from its campaign's budget and the
// member's cap, read under lock and written back in tx, and answers the grants and
// the refusals (an ask's own, or the budget's), each in the asks' order.
func (s *Service) takeCompensations(ctx context.Context, tx pgx.Tx, lane ledger.BudgetLane, memberID string, asks []compensationAsk, now time.Time) ([]compensationTake, []Refusal, error) {
	var ids []string
	for _, a := range asks {
		if a.refusal == nil {
			ids = append(ids, a.c.ID)
		}
	}
	var b *budgets
	if len(ids) > 0 {
		var err error
		if b, err = s.lockBudgets(ctx, tx, ids, []string{memberID}, lane); err != nil {
			return nil, nil, fmt.Errorf("compensation budgets: %w", err)
		}
	}
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
	if b != nil {
		if err := s.writeBudgets(ctx, tx, b); err != nil {
			return nil, nil, err
		}
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

// grantCompensation credits the points and issues the coupon a campaign's budget
// granted for the event.
func (s *Service) grantCompensation(ctx context.Context, tx pgx.Tx, actor ledger.Actor, ev AfterSalesEvent, now time.Time, t compensationTake) (CompensationGrant, error) {
	c := t.ask.c
	g := CompensationGrant{CampaignID: c.ID, Points: t.got.points, TierPercent: t.ask.pct}
	if t.got.points > 0 {
		e, err := s.ledger.CreditCampaignTx(ctx, tx, actor, ledger.CampaignCredit{
			MemberID: ev.MemberID, RequestID: ev.RequestID + "#" + c.ID, CampaignID: c.ID, Points: t.got.points,
			OrderID: ev.OrderID, Memo: fmt.Sprintf("%s: %s", c.DisplayName, ev.Type),
		})
		if err != nil {
			return CompensationGrant{}, err
		}
		g.EntryID = e.ID
	}
	if t.got.coupons > 0 {
		cp, err := s.insertCoupon(ctx, tx, c, ev.MemberID, ev.RequestID+"#"+c.ID, now, ev.OrderID, ev.Type)
		if err != nil {
			return CompensationGrant{}, err
		}
		g.CouponCode = cp.Code
	}
	return g, nil
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

// storedEvent is the outcome of the (order, type) if it was compensated before, or
// of the request if it was used for another event.
func (s *Service) storedEvent(ctx context.Context, db campaignsdb.DBTX, ev AfterSalesEvent, fp []byte) (CompensationResult, bool, error) {
	row, err := s.q.GetAfterSalesEvent(ctx, db, campaignsdb.GetAfterSalesEventParams{MemberID: ev.MemberID, OrderID: ev.OrderID, EventType: ev.Type})
	if errors.Is(err, pgx.ErrNoRows) {
		row, err = s.q.AfterSalesEventByRequest(ctx, db, campaignsdb.AfterSalesEventByRequestParams{MemberID: ev.MemberID, RequestID: ev.RequestID})
		if errors.Is(err, pgx.ErrNoRows) {
			return CompensationResult{}, false, nil
		}
		if err == nil {
			if err := idempotency.Checkf(row.Fingerprint, fp, "requestId %q was already used for another event", ev.RequestID); err != nil {
				return CompensationResult{}, true, err
			}
		}
	}
	if err != nil {
		return CompensationResult{}, false, fmt.Errorf("after-sales event: %w", err)
	}
	var c CompensationResult
	if err := json.Unmarshal(row.Outcome, &c); err != nil {
		return CompensationResult{}, true, fmt.Errorf("decode compensation: %w", err)
	}
	c.Replayed = true
	return c, true, nil
}
