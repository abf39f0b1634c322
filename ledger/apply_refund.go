package ledger

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/loyalty-engine/loyalty/internal/idempotency"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// Refunds in the apply step: a refund is known by member and order; the read step
// locked the order (after the member) and read what its rules need; decideRefund
// decides it and applyRefund posts its entries through the same path as every other
// entry (applyOne), then leaves the order, the refund's record, the pending void,
// the metric's move and the campaigns' give-backs in the write set.

// refundPlan is a refund of the plan's order, of amountMinor (zero: what is left).
type refundPlan struct {
	amountMinor int64
	// campaigns: those that gave points to the order's earning, read before the
	// batch, whose budgets the batch locks so the refund can give their share back.
	campaigns []string
}

// errCampaignsUnread: the order's earning got points from campaigns whose budgets
// the batch did not lock (the order earned after the refund read its campaigns).
// The refund changed nothing; it is posted again with them.
type errCampaignsUnread struct{ campaigns []string }

func (e *errCampaignsUnread) Error() string {
	return fmt.Sprintf("the refund's batch did not lock the budgets of campaigns %v", e.campaigns)
}

// refundState is what the batch's refunds need, as read under the batch's locks and
// as its own commands change it (a second refund of an order in the batch sees the
// first, an earning or a redemption on it earlier in the batch counts).
type refundState struct {
	// orders: every order a refund of the batch names, by member and order.
	orders map[orderKey]*refundOrder
	// stored: the refunds request ids already made, by member and request id.
	stored map[requestKey]ledgerdb.Refund
	// earnings: the refunded orders' earnings, by entry id.
	earnings map[int64]*earningState
	// changed: the orders the batch's refunds changed, in the order they did.
	changed []*refundOrder
}

// refundOrder is an order as refunds see it: its row (none yet for an order the
// member only redeemed on), what was redeemed on it and from which lot consumptions,
// and what campaigns gave its earning.
type refundOrder struct {
	row      ledgerdb.Order
	exists   bool
	redeemed int64
	// redemptions: entries redeemed on it (its reversals included), to tell an
	// order only redeemed on from one never touched.
	redemptions int
	sources     []int64
	grants      []OrderGrant
	changed     bool
}

// earningState is an order's earning as refunds see it.
type earningState struct {
	reversed bool
	// pending: its points still wait for release (pendingPoints of them).
	pending       bool
	pendingPoints int64
}

// refundFacts is what decideRefund judges a refund by, besides the order.
type refundFacts struct {
	// earningReversed: the order's earning was reversed before any refund.
	earningReversed bool
	// earningPending: its points still wait for release.
	earningPending bool
	// redeemed: the points redeemed on the order, net of reversals.
	redeemed int64
	grants   []OrderGrant
}

// refundDecision is a refund as decided: the order as it leaves it, and the rows
// it takes.
type refundDecision struct {
	order       ledgerdb.Order
	amountMinor int64
	// take: earned points taken back, from pending (fromPending) or available,
	// credited to sources (system:issued and the campaigns' accounts).
	take        int64
	fromPending bool
	sources     []Posting
	// backs: what goes back to each campaign (aligned with facts.grants).
	backs []int64
	// metricPoints, metricSpend: what comes off the qualifying metric.
	metricPoints, metricSpend int64
	// give: redeemed points given back.
	give int64
}

// decideRefund is the refund rule. A refund of an order with a spend refunds
// amountMinor of it (zero: all that is left), never more than what is left; an
// order without a spend is refunded in full only. The refunded share of the spend
// (cumulative: refunded so far ÷ spend, floor; the refund that completes the order
// takes exactly what is left) is taken back of the earned points (from pending while
// the return window runs, from available after it) unless the earning was reversed,
// given back to the campaigns that funded it (refundSources) and taken off the
// qualifying metric; and the same share of the points redeemed on the order is
// given back.
func decideRefund(o ledgerdb.Order, amountMinor int64, f refundFacts) (refundDecision, error) {
	if o.FullyRefunded {
		return refundDecision{}, ErrOverRefund.With("order %q is already fully refunded", o.OrderID).WithMetadata("refundableMinor", "0")
	}
	var d refundDecision
	full := true
	if spend := derefInt(o.SpendMinor); spend == 0 {
		if amountMinor > 0 {
			return refundDecision{}, problem.InvalidField("refundAmountMinor",
				"order "+strconv.Quote(o.OrderID)+" earned no points from a spend, so it can only be refunded in full: omit refundAmountMinor")
		}
	} else {
		refundable := spend - o.RefundedMinor
		d.amountMinor = amountMinor
		if d.amountMinor == 0 {
			d.amountMinor = refundable
		}
		if d.amountMinor > refundable {
			return refundDecision{}, ErrOverRefund.
				With("order %q has %d minor units left to refund, %d asked", o.OrderID, refundable, d.amountMinor).
				WithMetadata("refundableMinor", strconv.FormatInt(refundable, 10))
		}
		o.RefundedMinor += d.amountMinor
		full = o.RefundedMinor == spend
	}
	o.FullyRefunded = full
	share := func(total int64) int64 {
		if full {
			return total
		}
		return mulDiv(total, o.RefundedMinor, *o.SpendMinor)
	}

	// The earning's reversal took its points and its qualifying metric back already.
	reversed := o.EarnEntryID != nil && f.earningReversed
	if o.EarnEntryID != nil && !reversed {
		if points := share(o.EarnedPoints) - o.PointsTakenBack; points > 0 {
			d.take, d.fromPending = points, f.earningPending
			d.sources, d.backs = refundSources(points, f.grants, share)
			o.PointsTakenBack += points
		}
	}
	if !reversed {
		points, spend := share(o.MetricPoints), share(o.MetricSpend)
		if o.MetricDay != nil {
			d.metricPoints, d.metricSpend = points-o.MetricPointsTaken, spend-o.MetricSpendTaken
		}
		o.MetricPointsTaken, o.MetricSpendTaken = points, spend
	}
	if points := share(f.redeemed) - o.PointsReturned; points > 0 {
		d.give = points
		o.PointsReturned += points
	}
	d.order = o
	return d, nil
}

// refundSources splits points a refund takes back among the accounts the order's
// earning came from: each campaign gets back its share of what it gave, less what it
// got back before (cumulative, never more than what is left of points), which goes
// back to its budget; the rest goes back to system:issued, first. backs[i] is what
// grants[i]'s campaign gets back.
func refundSources(points int64, grants []OrderGrant, share func(int64) int64) ([]Posting, []int64) {
	left := points
	var out []Posting
	backs := make([]int64, len(grants))
	for i, g := range grants {
		back := min(share(g.Points)-g.Returned, left)
		if back <= 0 {
			continue
		}
		backs[i] = back
		out = append(out, Posting{g.Account, back})
		left -= back
	}
	if left > 0 {
		out = append([]Posting{{AccountIssued, left}}, out...)
	}
	return out, backs
}

// applyRefund applies a refund: a repeat answers the stored refund; otherwise
// decideRefund decides it, its take-back and give-back entries are posted as any
// entry is (applyOne: a request id another request used is an idempotency conflict),
// and the rows it changes join the write set.
func (st *batchState) applyRefund(ctx context.Context, p plan) outcome {
	rs := st.refunds
	key := orderKey{p.memberID, p.orderID}
	m := st.members[p.memberID]
	var o *refundOrder
	if rs != nil {
		o = rs.orders[key]
	}
	if m == nil {
		return outcome{err: ErrMemberNotFound.With("member %q not found", p.memberID)}
	}
	if o == nil || (!o.exists && o.redemptions == 0) {
		return outcome{err: ErrOrderNotFound.With("member %q earned or redeemed nothing on order %q", p.memberID, p.orderID)}
	}
	// A racing duplicate of this request waited for the member's lock and now
	// finds the first one's record.
	if stored, ok := rs.stored[requestKey{p.memberID, p.requestID}]; ok {
		if err := idempotency.Check(stored.Fingerprint, p.fingerprint, p.requestID); err != nil {
			return outcome{err: err}
		}
		res, err := st.storedRefund(stored, o)
		return outcome{refund: &res, replayed: true, err: err}
	}

	var earning *earningState
	if o.row.EarnEntryID != nil {
		earning = rs.earnings[*o.row.EarnEntryID]
	}
	facts := refundFacts{redeemed: o.redeemed, grants: o.grants}
	if earning != nil {
		facts.earningReversed = earning.reversed || st.reversed[*o.row.EarnEntryID]
		facts.earningPending = earning.pending
	}
	d, err := decideRefund(o.row, p.refund.amountMinor, facts)
	if err != nil {
		return outcome{err: err}
	}
	// Every campaign share goes back to a budget read under lock, before anything
	// of the refund is posted.
	var unread []string
	for i, back := range d.backs {
		if c := o.grants[i].CampaignID; back > 0 && (st.budgets == nil || !st.budgets.Holds(p.memberID, c)) {
			unread = append(unread, c)
		}
	}
	if len(unread) > 0 {
		return outcome{err: &errCampaignsUnread{campaigns: unread}}
	}

	res := RefundResult{Order: toOrder(d.order), AmountMinor: d.amountMinor}
	var take, give Entry
	if d.take > 0 {
		tp := plan{memberID: p.memberID, kind: KindRefund, requestID: p.requestID, fingerprint: p.fingerprint,
			orderID: p.orderID, memo: p.memo, actorKeyID: p.actorKeyID, preferLotOrigin: *o.row.EarnEntryID}
		if d.fromPending {
			tp.postings = append([]Posting{{AccountPending, -d.take}}, d.sources...)
			res.PointsVoided = d.take
		} else {
			tp.postings = append([]Posting{{AccountAvailable, -d.take}}, d.sources...)
			tp.allowNegative = true
			res.PointsClawedBack = d.take
		}
		out := st.applyOne(ctx, tp)
		switch {
		case out.err != nil:
			return outcome{err: out.err}
		case out.replayed:
			// The take-back and the record commit together: an entry of this
			// request without its record is not the ledger's.
			return outcome{err: fmt.Errorf("refund %q of %s: its entry exists without its record", p.requestID, p.memberID)}
		}
		take = out.entry
		res.Entries = append(res.Entries, take)
	}
	if d.give > 0 {
		gp := plan{memberID: p.memberID, kind: KindRefundReturn, requestID: p.requestID + "#return", fingerprint: p.fingerprint,
			postings: []Posting{{AccountAvailable, d.give}, {AccountRedeemed, -d.give}}, orderID: p.orderID,
			memo: "points redeemed on a refunded order", actorKeyID: p.actorKeyID, restoreFrom: o.sources, lotExpire: p.lotExpire}
		out := st.applyOne(ctx, gp)
		if out.err == nil && out.replayed {
			out.err = fmt.Errorf("refund %q of %s: its give-back exists without its record", p.requestID, p.memberID)
		}
		if out.err != nil {
			if take.ID != 0 && st.broken == nil {
				st.broken = fmt.Errorf("refund %q of %s: take-back posted, give-back refused: %w", p.requestID, p.memberID, out.err)
			}
			return outcome{err: out.err}
		}
		give = out.entry
		res.Entries = append(res.Entries, give)
		res.PointsReturned = d.give
	}

	st.recordRefund(p, o, earning, d, take, give)
	res.Order = toOrder(o.row)
	first := take
	if first.ID == 0 {
		first = give
	}
	return outcome{entry: first, refund: &res}
}

// recordRefund moves the batch's state on by a refund decided and posted, and adds
// its rows to the write set.
func (st *batchState) recordRefund(p plan, o *refundOrder, earning *earningState, d refundDecision, take, give Entry) {
	rs := st.refunds
	if d.take > 0 && d.fromPending {
		earning.pendingPoints -= d.take
		earning.pending = earning.pendingPoints > 0
		st.out.refunds.voids = append(st.out.refunds.voids, pendingVoid{entryID: *o.row.EarnEntryID, points: d.take})
	}
	for i, back := range d.backs {
		if back > 0 {
			o.grants[i].Returned += back
			g := CampaignGiveBack{MemberID: p.memberID, OrderID: p.orderID, CampaignID: o.grants[i].CampaignID, Points: back}
			// In memory: a later earning of the batch sees the points back.
			st.budgets.GiveBack(p.memberID, g.CampaignID, back)
			st.out.refunds.giveBacks = append(st.out.refunds.giveBacks, g)
		}
	}
	if d.metricPoints != 0 || d.metricSpend != 0 {
		mv := metricMoveRow{memberID: p.memberID, entryID: take.ID, orderID: p.orderID, day: *o.row.MetricDay,
			points: -d.metricPoints, spend: -d.metricSpend, at: st.sentAt}
		st.out.refunds.metricMoves = append(st.out.refunds.metricMoves, mv)
		// A later earning of the batch qualifies on the lowered metric.
		st.moves[p.memberID] = append(st.moves[p.memberID], metricMove{day: mv.day, points: mv.points, spend: mv.spend})
	}
	o.row = d.order
	if !o.changed {
		o.changed = true
		rs.changed = append(rs.changed, o)
	}
	o.exists = true
	r := ledgerdb.Refund{MemberID: p.memberID, RequestID: p.requestID, OrderID: p.orderID, Fingerprint: p.fingerprint,
		AmountMinor: d.amountMinor, PointsReturned: d.give, TakeEntryID: optionalID(take.ID), ReturnEntryID: optionalID(give.ID),
		OrderRefundedMinor: o.row.RefundedMinor, OrderFullyRefunded: o.row.FullyRefunded,
		OrderPointsTakenBack: o.row.PointsTakenBack, OrderPointsReturned: o.row.PointsReturned, CreateTime: st.sentAt}
	if d.fromPending {
		r.PointsVoided = d.take
	} else {
		r.PointsClawedBack = d.take
	}
	rs.stored[requestKey{p.memberID, p.requestID}] = r
	st.out.refunds.records = append(st.out.refunds.records, r)
}

// storedRefund answers a repeated refund as its first answer did: its amounts and
// entries, and the order as that refund left it, not as later refunds did.
func (st *batchState) storedRefund(r ledgerdb.Refund, o *refundOrder) (RefundResult, error) {
	res := RefundResult{Order: toOrder(o.row), AmountMinor: r.AmountMinor, PointsVoided: r.PointsVoided,
		PointsClawedBack: r.PointsClawedBack, PointsReturned: r.PointsReturned}
	res.Order.RefundedMinor, res.Order.FullyRefunded = r.OrderRefundedMinor, r.OrderFullyRefunded
	res.Order.PointsTakenBack, res.Order.PointsReturned = r.OrderPointsTakenBack, r.OrderPointsReturned
	for _, e := range []struct {
		id        *int64
		requestID string
	}{{r.TakeEntryID, r.RequestID}, {r.ReturnEntryID, r.RequestID + "#return"}} {
		if e.id == nil {
			continue
		}
		stored, ok := st.stored[requestKey{r.MemberID, e.requestID}]
		if !ok || stored.entry.ID != *e.id {
			return RefundResult{}, fmt.Errorf("entry %d of refund %q was not read", *e.id, r.RequestID)
		}
		res.Entries = append(res.Entries, stored.entry)
	}
	return res, nil
}

// noteOrderEntry keeps the batch's refunds in step with an entry posted on an order
// one of them names: an earning gives the order its row (and campaigns' grants), a
// redemption, a capture or a reversal changes what was redeemed on it.
func (st *batchState) noteOrderEntry(p plan, e Entry, d memberDeltas) {
	if st.refunds == nil || p.orderID == "" {
		return
	}
	o := st.refunds.orders[orderKey{p.memberID, p.orderID}]
	if o == nil {
		return
	}
	if p.recordOrder {
		id := e.ID
		o.row.EarnEntryID = &id
		o.row.SpendMinor = nil
		if p.orderSpendMinor != 0 {
			spend := p.orderSpendMinor
			o.row.SpendMinor = &spend
		}
		o.row.Currency, o.row.EarnedPoints = p.orderCurrency, p.orderPoints
		o.row.TierID = nil
		if p.orderTierID != "" {
			tier := p.orderTierID
			o.row.TierID = &tier
		}
		o.row.Perks = p.orderPerks
		o.row.MetricPoints, o.row.MetricSpend, o.row.MetricDay = 0, 0, nil
		if q := p.qualify; q != nil {
			day := q.day
			o.row.MetricPoints, o.row.MetricSpend, o.row.MetricDay = q.points, q.spend, &day
		}
		o.exists = true
		for _, posting := range e.Postings {
			if id, ok := strings.CutPrefix(posting.Account, campaignAccountPrefix); ok && posting.Amount < 0 {
				o.grants = append(o.grants, OrderGrant{MemberID: p.memberID, OrderID: p.orderID, CampaignID: id,
					Account: posting.Account, Points: -posting.Amount})
			}
		}
		st.refunds.earnings[e.ID] = &earningState{pending: d.pending > 0, pendingPoints: d.pending}
		return
	}
	switch e.Kind {
	case KindRedeem, KindHoldCapture, KindReversal:
		o.redemptions++
		o.redeemed += e.Delta(AccountRedeemed)
		switch {
		case e.Kind == KindRedeem:
			o.sources = append(o.sources, e.ID)
		case e.Kind == KindHoldCapture && len(p.restoreFrom) > 0:
			o.sources = append(o.sources, p.restoreFrom[0])
		}
	}
}

func derefInt(v *int64) int64 {
	if v == nil {
		return 0
	}
	return *v
}
