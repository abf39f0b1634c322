package campaigns

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/idempotency"
	"github.com/loyalty-engine/loyalty/ledger"
)

// The compensation claims of a ledger batch (ledger.CompensationClaim): the
// outcomes recorded for them are read with the batch's reads, under the members'
// row locks (every outcome of a member is written under that lock); the claims are
// decided in the apply step from the budgets the batch locked; the outcomes and
// coupons of those that granted something are written with the batch's writes.

// claims are a batch's compensation outcomes: as read, and as decided by it.
type claims struct {
	// recorded: the outcomes read, then those the batch recorded, in order, so a
	// repeat later in the batch finds the first.
	recorded []campaignsdb.AfterSalesEvent
	// decided: the claims Compensate granted, waiting for their entries
	// (Compensated); indexed by the decision's handle.
	decided []decidedClaim
	events  campaignsdb.WriteAfterSalesEventsParams
	coupons campaignsdb.WriteCompensationCouponsParams
}

type decidedClaim struct {
	claim  ledger.CompensationClaim
	result CompensationResult
	takes  []compensationTake
}

// queueClaims queues the read of the outcomes recorded for the claims; read adds
// them to b once the pipeline has been sent.
func (s *Service) queueClaims(ctx context.Context, pipe *database.Pipeline, cs []ledger.CompensationClaim) (read func(b *budgets) error) {
	if len(cs) == 0 {
		return func(*budgets) error { return nil }
	}
	var k campaignsdb.AfterSalesEventsOfParams
	for _, c := range cs {
		k.MemberIds = append(k.MemberIds, c.MemberID)
		k.OrderIds = append(k.OrderIds, c.OrderID)
		k.EventTypes = append(k.EventTypes, c.EventType)
		k.RequestIds = append(k.RequestIds, c.RequestID)
	}
	rows := s.q.AfterSalesEventsOf(ctx, pipe, []campaignsdb.AfterSalesEventsOfParams{k})
	return func(b *budgets) error {
		b.claims = &claims{}
		var rerr error
		rows.Query(func(_ int, rs []campaignsdb.AfterSalesEvent, err error) {
			rerr = err
			b.claims.recorded = append(b.claims.recorded, rs...)
		})
		if rerr != nil {
			return fmt.Errorf("after-sales events: %w", rerr)
		}
		return nil
	}
}

// recordedOutcome is the outcome recorded for the claim's order and type, or for
// its request id (which must then be the same event), if there is one.
func (cs *claims) recordedOutcome(c ledger.CompensationClaim) (CompensationResult, bool, error) {
	var byRequest *campaignsdb.AfterSalesEvent
	for i := range cs.recorded {
		r := &cs.recorded[i]
		if r.MemberID != c.MemberID {
			continue
		}
		if r.OrderID == c.OrderID && r.EventType == c.EventType {
			return decodeOutcome(r.Outcome)
		}
		if r.RequestID == c.RequestID && byRequest == nil {
			byRequest = r
		}
	}
	if byRequest == nil {
		return CompensationResult{}, false, nil
	}
	if err := idempotency.Checkf(byRequest.Fingerprint, c.Fingerprint, "requestId %q was already used for another event", c.RequestID); err != nil {
		return CompensationResult{}, true, err
	}
	return decodeOutcome(byRequest.Outcome)
}

func decodeOutcome(raw []byte) (CompensationResult, bool, error) {
	var out CompensationResult
	if err := json.Unmarshal(raw, &out); err != nil {
		return CompensationResult{}, true, fmt.Errorf("decode compensation: %w", err)
	}
	out.Replayed = true
	return out, true, nil
}

// Compensate decides a compensation claim (ledger.Budgets): a repeat answers the
// outcome recorded first; otherwise the campaigns that cover the event and whose
// rule the member passes ask their points (scaled by the member's tier) and coupon
// of their budgets and the member's caps (take), in the campaigns' order. Nothing
// granted answers at once and records nothing; a grant's points are the credits
// the ledger posts before Compensated records the outcome.
func (b *budgets) Compensate(ctx context.Context, c ledger.CompensationClaim, m ledger.CompensatedMember) (ledger.CompensationDecision, error) {
	if b.claims == nil {
		return ledger.CompensationDecision{}, fmt.Errorf("compensation %q: the batch read no outcomes", c.RequestID)
	}
	if out, found, err := b.claims.recordedOutcome(c); found || err != nil {
		return ledger.CompensationDecision{Done: true, Answer: out}, err
	}
	ev := AfterSalesEvent{RequestID: c.RequestID, MemberID: c.MemberID, OrderID: c.OrderID, Type: c.EventType, DelayHours: c.DelayHours}
	out := CompensationResult{MemberID: c.MemberID, OrderID: c.OrderID, Type: c.EventType, RequestID: c.RequestID, Time: m.Now,
		Grants: []CompensationGrant{}, Refusals: []Refusal{}}
	facts := Facts{
		Member: MemberFacts{TierID: m.TierID, MemberID: c.MemberID, JoinTime: m.JoinTime},
		Order:  OrderFacts{OrderID: c.OrderID},
		Event:  EventFacts{Type: c.EventType, DelayHours: int64(c.DelayHours)},
	}
	profileFacts(&facts.Member, m.Profile)
	var covering []Campaign
	for _, cp := range b.campaigns {
		if slices.Contains(c.Campaigns, cp.ID) {
			covering = append(covering, cp)
		}
	}
	grants, refusals, err := takeCompensations(b, c.MemberID, b.s.compensationAsks(ctx, covering, ev, facts), m.Now)
	if err != nil {
		return ledger.CompensationDecision{}, err
	}
	out.Refusals = append(out.Refusals, refusals...)
	if len(grants) == 0 {
		if len(out.Refusals) == 0 {
			out.Reason = NoMatchingCampaign
		}
		// Nothing granted, nothing recorded: the same event reported later (a
		// longer delay, a campaign launched since) may still be compensated. A
		// refusal is told all the same (support may want to step in).
		return ledger.CompensationDecision{Done: true, Answer: out, Events: refusalEvents(c, out)}, nil
	}
	d := ledger.CompensationDecision{Handle: len(b.claims.decided)}
	for _, t := range grants {
		if t.got.points > 0 {
			d.Credits = append(d.Credits, ledger.CampaignCredit{
				MemberID: c.MemberID, RequestID: grantRequestID(c.RequestID, t.ask.c.ID), CampaignID: t.ask.c.ID,
				Points: t.got.points, OrderID: c.OrderID, Memo: fmt.Sprintf("%s: %s", t.ask.c.DisplayName, c.EventType),
			})
		}
	}
	b.claims.decided = append(b.claims.decided, decidedClaim{claim: c, result: out, takes: grants})
	return d, nil
}

// grantRequestID names what a campaign granted for a claim: its entry and its
// coupon. The '#' cannot appear in a caller's request id.
func grantRequestID(requestID, campaignID string) string { return requestID + "#" + campaignID }

// Compensated records a claim Compensate granted, with the entries the ledger
// posted for its credits (ledger.Budgets): the grants with their entry ids and
// coupons, the outcome a repeat answers, the rows to write, and the events of the
// grants and coupons.
func (b *budgets) Compensated(d ledger.CompensationDecision, entries []ledger.Entry) (any, []events.Event) {
	dc := &b.claims.decided[d.Handle]
	c, out := dc.claim, dc.result
	next := 0
	var evs []events.Event
	for _, t := range dc.takes {
		cp := t.ask.c
		g := CompensationGrant{CampaignID: cp.ID, Points: t.got.points, TierPercent: t.ask.pct}
		if t.got.points > 0 && next < len(entries) {
			g.EntryID = entries[next].ID
			next++
		}
		if t.got.coupons > 0 {
			g.CouponCode = b.claims.issueCoupon(cp, c, out)
			evs = append(evs, couponEvent(events.CouponIssued, Coupon{Code: g.CouponCode, MemberID: c.MemberID, CampaignID: cp.ID,
				EventOrderID: c.OrderID}, out.Time))
		}
		out.Grants = append(out.Grants, g)
		evs = append(evs, events.Event{Type: events.CompensationGranted, OccurTime: out.Time, MemberID: c.MemberID,
			Data: events.CompensationData{CampaignID: cp.ID, RequestID: c.RequestID, Points: g.Points, CouponID: g.CouponCode}})
	}
	evs = append(evs, refusalEvents(c, out)...)
	outcome, err := json.Marshal(out)
	if err != nil {
		panic(fmt.Sprintf("encode compensation: %v", err)) // plain structs: never fails
	}
	ev := &b.claims.events
	ev.MemberIds = append(ev.MemberIds, c.MemberID)
	ev.OrderIds = append(ev.OrderIds, c.OrderID)
	ev.EventTypes = append(ev.EventTypes, c.EventType)
	ev.RequestIds = append(ev.RequestIds, c.RequestID)
	ev.Fingerprints = append(ev.Fingerprints, c.Fingerprint)
	ev.DelayHours = append(ev.DelayHours, c.DelayHours)
	ev.Outcomes = append(ev.Outcomes, outcome)
	ev.ActorKeyIds = append(ev.ActorKeyIds, c.ActorKeyID)
	ev.CreateTimes = append(ev.CreateTimes, out.Time)
	b.claims.recorded = append(b.claims.recorded, campaignsdb.AfterSalesEvent{MemberID: c.MemberID, OrderID: c.OrderID,
		EventType: c.EventType, RequestID: c.RequestID, Fingerprint: c.Fingerprint, Outcome: outcome})
	return out, evs
}

// refusalEvents are the compensation.refused events of a claim's refusals.
func refusalEvents(c ledger.CompensationClaim, out CompensationResult) []events.Event {
	var evs []events.Event
	for _, r := range out.Refusals {
		evs = append(evs, events.Event{Type: events.CompensationRefused, OccurTime: out.Time, MemberID: c.MemberID,
			Data: events.CompensationData{CampaignID: r.CampaignID, RequestID: c.RequestID, Reason: r.Reason}})
	}
	return evs
}

// issueCoupon draws a coupon of the campaign for the claim's member and adds it to
// the rows to write; it answers the code.
func (cs *claims) issueCoupon(cp Campaign, c ledger.CompensationClaim, out CompensationResult) string {
	t, code := cp.Coupon, newCode()
	w := &cs.coupons
	w.Codes = append(w.Codes, code)
	w.MemberIds = append(w.MemberIds, c.MemberID)
	w.CampaignIds = append(w.CampaignIds, cp.ID)
	w.RequestIds = append(w.RequestIds, grantRequestID(c.RequestID, cp.ID))
	w.Kinds = append(w.Kinds, t.Kind)
	w.AmountsOffMinor = append(w.AmountsOffMinor, t.AmountOffMinor)
	w.PercentsOff = append(w.PercentsOff, t.PercentOff)
	w.MinSpendsMinor = append(w.MinSpendsMinor, t.MinSpendMinor)
	w.IssueTimes = append(w.IssueTimes, out.Time)
	w.ValidUntils = append(w.ValidUntils, out.Time.AddDate(0, 0, int(t.ValidDays)))
	w.EventOrderIds = append(w.EventOrderIds, c.OrderID)
	w.EventTypes = append(w.EventTypes, c.EventType)
	return code
}

// queueClaimWrites queues the outcomes and coupons the batch's claims recorded.
func (b *budgets) queueClaimWrites(ctx context.Context, pipe *database.Pipeline) {
	if b.claims == nil {
		return
	}
	if len(b.claims.events.MemberIds) > 0 {
		b.s.q.WriteAfterSalesEvents(ctx, pipe, []campaignsdb.WriteAfterSalesEventsParams{b.claims.events})
	}
	if len(b.claims.coupons.Codes) > 0 {
		b.s.q.WriteCompensationCoupons(ctx, pipe, []campaignsdb.WriteCompensationCouponsParams{b.claims.coupons})
	}
}
