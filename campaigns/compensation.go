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
	var out CompensationResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if stored, found, err := s.storedEvent(ctx, tx, ev, fp); found || err != nil {
			out = stored
			return err
		}
		var err error
		out, err = s.compensate(ctx, tx, actor, ev, now)
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

func (s *Service) compensate(ctx context.Context, tx pgx.Tx, actor ledger.Actor, ev AfterSalesEvent, now time.Time) (CompensationResult, error) {
	out := CompensationResult{MemberID: ev.MemberID, OrderID: ev.OrderID, Type: ev.Type, RequestID: ev.RequestID, Time: now,
		Grants: []CompensationGrant{}, Refusals: []Refusal{}}
	facts, err := s.memberFacts(ctx, tx, ev.MemberID, now)
	if err != nil {
		return CompensationResult{}, err
	}
	facts.Order = OrderFacts{OrderID: ev.OrderID}
	facts.Event = EventFacts{Type: ev.Type, DelayHours: int64(ev.DelayHours)}
	running, err := s.runningAt(ctx, now)
	if err != nil {
		return CompensationResult{}, err
	}
	for _, c := range running {
		if !c.compensates(ev) {
			continue
		}
		ok, ruleErr := s.eligible(ctx, c, facts)
		if ruleErr != nil {
			out.Refusals = append(out.Refusals, Refusal{CampaignID: c.ID, Reason: RefusedRuleError, RuleError: ruleErr.Err.Error()})
			continue
		}
		if !ok {
			continue
		}
		pct := c.Compensation.tierPercent(facts.Member.TierID)
		points := c.Compensation.Points * int64(pct) / 100
		var coupons int32
		if c.Coupon.Kind != "" {
			coupons = 1
		}
		got, err := s.q.TakeFromCampaign(ctx, tx, campaignsdb.TakeFromCampaignParams{
			CampaignID: c.ID, MemberID: ev.MemberID, Points: points, Coupons: coupons, Now: now,
		})
		if err != nil {
			return CompensationResult{}, fmt.Errorf("take from campaign %s: %w", c.ID, err)
		}
		if got.Refusal != "" {
			out.Refusals = append(out.Refusals, Refusal{CampaignID: c.ID, Reason: got.Refusal})
			continue
		}
		g := CompensationGrant{CampaignID: c.ID, Points: got.GrantedPoints, TierPercent: pct}
		if got.GrantedPoints > 0 {
			e, err := s.ledger.CreditCampaignTx(ctx, tx, actor, ledger.CampaignCredit{
				MemberID: ev.MemberID, RequestID: ev.RequestID + "#" + c.ID, CampaignID: c.ID, Points: got.GrantedPoints,
				OrderID: ev.OrderID, Memo: fmt.Sprintf("%s: %s", c.DisplayName, ev.Type),
			})
			if err != nil {
				return CompensationResult{}, err
			}
			g.EntryID = e.ID
		}
		if got.GrantedCoupons > 0 {
			cp, err := s.insertCoupon(ctx, tx, c, ev.MemberID, ev.RequestID+"#"+c.ID, now, ev.OrderID, ev.Type)
			if err != nil {
				return CompensationResult{}, err
			}
			g.CouponCode = cp.Code
		}
		out.Grants = append(out.Grants, g)
	}
	if len(out.Grants) == 0 && len(out.Refusals) == 0 {
		out.Reason = NoMatchingCampaign
	}
	return out, nil
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
