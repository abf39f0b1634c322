package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// Refunds in the read and write steps of the batch (see apply_refund.go for the
// apply step).
//
// Locks: after the batch's member rows, the refunded orders' rows, then their
// earnings' pending releases. An order the member only redeemed on has no row to
// lock: its redemptions are read instead and the write step inserts its row. No lock
// is missing there, because the member's row lock serialises everything that writes
// a member's order or what refunds read of it: refunds and earnings (both in a batch
// that locks the member first), and reversals of the order's entries (which lock the
// member first too, in a batch). The campaigns' grants of the
// orders are read without a lock for the same reason.

// refundNeeds is what the read step reads for the batch's refunds: the orders
// (member and order id, pairwise, each once: the reads join on them) and the
// refunds' request ids.
type refundNeeds struct {
	orderMembers, orderIDs     []string
	requestMembers, requestIDs []string
	seen                       map[orderKey]bool
}

// addRefund adds what a refund needs to n: its order and request id, the entries
// a repeat answers (take-back and give-back), the open lots a claw-back consumes,
// a lot its give-back may open, and a second entry id.
func (n *batchNeeds) addRefund(p plan, addMember func(list *[]string, id, key string)) {
	r := &n.refunds
	r.addOrder(p.memberID, p.orderID)
	r.requestMembers = append(r.requestMembers, p.memberID)
	r.requestIDs = append(r.requestIDs, p.requestID)
	n.requestMembers = append(n.requestMembers, p.memberID)
	n.requestIDs = append(n.requestIDs, p.requestID+"#return")
	addMember(&n.lotMembers, p.memberID, "l:"+p.memberID)
	n.lots++
	n.entries++
	// The budgets its campaign shares go back to, every slice of them: a share
	// given back to a lane could not tell where the budget's spending is.
	for _, c := range p.refund.campaigns {
		addMember(&n.campaigns, c, "c:"+c)
		addMember(&n.campaignMembers, p.memberID, "cm:"+p.memberID)
		n.allSlices = true
	}
}

// addOrder adds an order whose row the batch locks and reads, once.
func (r *refundNeeds) addOrder(memberID, orderID string) {
	if k := (orderKey{memberID, orderID}); !r.seen[k] {
		if r.seen == nil {
			r.seen = map[orderKey]bool{}
		}
		r.seen[k] = true
		r.orderMembers = append(r.orderMembers, memberID)
		r.orderIDs = append(r.orderIDs, orderID)
	}
}

// addOrderReversal adds what a reversal of an entry on an order needs to n: the
// order, and the budgets of the campaigns the entry's points came from (every slice).
func (n *batchNeeds) addOrderReversal(p plan, addMember func(list *[]string, id, key string)) {
	n.refunds.addOrder(p.memberID, p.orderID)
	for _, g := range p.reverseOrder.campaigns {
		addMember(&n.campaigns, g.CampaignID, "c:"+g.CampaignID)
		addMember(&n.campaignMembers, p.memberID, "cm:"+p.memberID)
		n.allSlices = true
	}
}

// queueRefundReads queues, after the batch's other reads, the locks and reads of
// its refunds; read builds the refunds' state once the pipeline has been sent, in
// turn with the other reads. lotOf adds a lot to the batch's view of its member.
func (s *Service) queueRefundReads(ctx context.Context, pipe *database.Pipeline, need refundNeeds) (read func(st *batchState, lotOf lotAdder) error) {
	if len(need.orderIDs) == 0 {
		return func(*batchState, lotAdder) error { return nil }
	}
	q := s.q
	orders := q.LockBatchOrders(ctx, pipe, []ledgerdb.LockBatchOrdersParams{{MemberIds: need.orderMembers, OrderIds: need.orderIDs}})
	releases := q.LockRefundedPendingReleases(ctx, pipe, []ledgerdb.LockRefundedPendingReleasesParams{{MemberIds: need.orderMembers, OrderIds: need.orderIDs}})
	earnings := q.EarningStatesOf(ctx, pipe, []ledgerdb.EarningStatesOfParams{{MemberIds: need.orderMembers, OrderIds: need.orderIDs}})
	stored := q.StoredRefundsOf(ctx, pipe, []ledgerdb.StoredRefundsOfParams{{MemberIds: need.requestMembers, RequestIds: need.requestIDs}})
	redemptions := q.OrderRedemptionsOf(ctx, pipe, []ledgerdb.OrderRedemptionsOfParams{{MemberIds: need.orderMembers, OrderIds: need.orderIDs}})
	restorables := q.RestorableLotsOfOrders(ctx, pipe, []ledgerdb.RestorableLotsOfOrdersParams{{MemberIds: need.orderMembers, OrderIds: need.orderIDs}})
	var grants func() ([]OrderGrant, error)
	if s.promotions != nil {
		grants = s.promotions.QueueOrderGrants(ctx, pipe, need.orderMembers, need.orderIDs)
	}
	return func(st *batchState, lotOf lotAdder) error {
		rs := &refundState{orders: map[orderKey]*refundOrder{}, stored: map[requestKey]ledgerdb.Refund{}, earnings: map[int64]*earningState{}}
		st.refunds = rs
		for i := range need.orderIDs {
			k := orderKey{need.orderMembers[i], need.orderIDs[i]}
			if rs.orders[k] == nil {
				rs.orders[k] = &refundOrder{row: ledgerdb.Order{MemberID: k.memberID, OrderID: k.orderID}}
			}
		}
		var errs []error
		fail := func(what string, err error) {
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", what, err))
			}
		}
		orders.Query(func(_ int, rows []ledgerdb.Order, err error) {
			fail("lock orders", err)
			for _, r := range rows {
				o := rs.orders[orderKey{r.MemberID, r.OrderID}]
				o.row, o.exists = r, true
			}
		})
		pending := map[int64]ledgerdb.PendingRelease{}
		releases.Query(func(_ int, rows []ledgerdb.PendingRelease, err error) {
			fail("lock pending releases", err)
			for _, r := range rows {
				pending[r.EntryID] = r
			}
		})
		earnings.Query(func(_ int, rows []ledgerdb.EarningStatesOfRow, err error) {
			fail("earnings of orders", err)
			for _, r := range rows {
				e := &earningState{reversed: r.Reversed}
				if rel, ok := pending[r.EarnEntryID]; ok && !rel.Released {
					e.pending, e.pendingPoints = true, rel.Points
				}
				rs.earnings[r.EarnEntryID] = e
			}
		})
		stored.Query(func(_ int, rows []ledgerdb.Refund, err error) {
			fail("stored refunds", err)
			for _, r := range rows {
				rs.stored[requestKey{r.MemberID, r.RequestID}] = r
			}
		})
		redemptions.Query(func(_ int, rows []ledgerdb.OrderRedemptionsOfRow, err error) {
			fail("redemptions on orders", err)
			for _, r := range rows {
				o := rs.orders[orderKey{r.MemberID, r.OrderID}]
				o.redemptions++
				o.redeemed += r.Redeemed
				if r.LotSourceEntryID != 0 {
					o.sources = append(o.sources, r.LotSourceEntryID)
				}
			}
		})
		readAlready := map[int64]bool{}
		for id := range st.restorable {
			readAlready[id] = true
		}
		restorables.Query(func(_ int, rows []ledgerdb.RestorableLotsOfOrdersRow, err error) {
			fail("restorable lots of orders", err)
			for _, r := range rows {
				if readAlready[r.SourceEntryID] {
					continue // read for another command of the batch
				}
				l := lotOf(r.MemberID, r.LotID, r.OriginEntryID, r.Remaining, r.ExpireTime)
				st.restorable[r.SourceEntryID] = append(st.restorable[r.SourceEntryID], &restorable{lot: l, points: r.Restorable})
			}
		})
		if grants != nil {
			gs, err := grants()
			fail("campaign grants", err)
			for _, g := range gs {
				if o := rs.orders[orderKey{g.MemberID, g.OrderID}]; o != nil {
					o.grants = append(o.grants, g)
				}
			}
		}
		if len(errs) > 0 {
			return errs[0]
		}
		return nil
	}
}

// lotAdder adds a lot read from the database to the batch's view of its member
// (once: a lot read twice is the same lot).
type lotAdder func(memberID string, id, origin, remaining int64, expire time.Time) *lotState

// refundWrites are the rows the batch's refunds write besides their entries.
type refundWrites struct {
	records []ledgerdb.Refund
	voids   []pendingVoid
	// metricMoves: written by queueRefundWrites, not with the earnings' moves,
	// because a refund whose shares round to no points still lowers the metric, in
	// a batch that may write no entry (queueWrites writes nothing then).
	metricMoves []metricMoveRow
	giveBacks   []CampaignGiveBack
}

type pendingVoid struct {
	entryID, points int64
}

// queueRefundWrites queues the refunds' rows: the orders as they left them, their
// records (after the entries they name), the pending points they voided, summed per
// earning, and their moves of the qualifying metric. It runs whether or not the
// batch wrote an entry: a refund whose shares round to nothing writes its rows all
// the same.
func (s *Service) queueRefundWrites(ctx context.Context, pipe *database.Pipeline, st *batchState) {
	w := &st.out.refunds
	if st.refunds == nil || len(st.refunds.changed) == 0 {
		return
	}
	q := s.q
	var orders ledgerdb.WriteRefundedOrdersParams
	for _, o := range st.refunds.changed {
		r := o.row
		orders.MemberIds = append(orders.MemberIds, r.MemberID)
		orders.OrderIds = append(orders.OrderIds, r.OrderID)
		orders.RefundedMinor = append(orders.RefundedMinor, r.RefundedMinor)
		orders.FullyRefunded = append(orders.FullyRefunded, r.FullyRefunded)
		orders.PointsTakenBack = append(orders.PointsTakenBack, r.PointsTakenBack)
		orders.PointsReturned = append(orders.PointsReturned, r.PointsReturned)
		orders.MetricPointsTaken = append(orders.MetricPointsTaken, r.MetricPointsTaken)
		orders.MetricSpendTaken = append(orders.MetricSpendTaken, r.MetricSpendTaken)
	}
	q.WriteRefundedOrders(ctx, pipe, []ledgerdb.WriteRefundedOrdersParams{orders})

	var recs ledgerdb.WriteRefundsParams
	for _, r := range w.records {
		recs.MemberIds = append(recs.MemberIds, r.MemberID)
		recs.RequestIds = append(recs.RequestIds, r.RequestID)
		recs.OrderIds = append(recs.OrderIds, r.OrderID)
		recs.Fingerprints = append(recs.Fingerprints, r.Fingerprint)
		recs.AmountMinor = append(recs.AmountMinor, r.AmountMinor)
		recs.PointsVoided = append(recs.PointsVoided, r.PointsVoided)
		recs.PointsClawedBack = append(recs.PointsClawedBack, r.PointsClawedBack)
		recs.PointsReturned = append(recs.PointsReturned, r.PointsReturned)
		recs.TakeEntryIds = append(recs.TakeEntryIds, derefInt(r.TakeEntryID))
		recs.ReturnEntryIds = append(recs.ReturnEntryIds, derefInt(r.ReturnEntryID))
		recs.OrderRefundedMinor = append(recs.OrderRefundedMinor, r.OrderRefundedMinor)
		recs.OrderFullyRefunded = append(recs.OrderFullyRefunded, r.OrderFullyRefunded)
		recs.OrderPointsTakenBack = append(recs.OrderPointsTakenBack, r.OrderPointsTakenBack)
		recs.OrderPointsReturned = append(recs.OrderPointsReturned, r.OrderPointsReturned)
		recs.CreateTimes = append(recs.CreateTimes, r.CreateTime)
	}
	q.WriteRefunds(ctx, pipe, []ledgerdb.WriteRefundsParams{recs})

	if len(w.voids) > 0 {
		var voids ledgerdb.WritePendingVoidsParams
		at := map[int64]int{}
		for _, v := range w.voids {
			if i, ok := at[v.entryID]; ok {
				voids.Points[i] += v.points
				continue
			}
			at[v.entryID] = len(voids.EntryIds)
			voids.EntryIds = append(voids.EntryIds, v.entryID)
			voids.Points = append(voids.Points, v.points)
		}
		q.WritePendingVoids(ctx, pipe, []ledgerdb.WritePendingVoidsParams{voids})
	}
	if len(w.metricMoves) > 0 {
		q.WriteMetricMoves(ctx, pipe, []ledgerdb.WriteMetricMovesParams{metricMovesParams(w.metricMoves)})
	}
}

// queueGiveBacks queues what the batch's refunds give back to campaigns, after the
// budgets' own writes (which write the slices the batch's earnings took from as
// they left them: a relative give-back before them would be overwritten).
func (s *Service) queueGiveBacks(ctx context.Context, pipe *database.Pipeline, st *batchState) {
	if len(st.out.refunds.giveBacks) > 0 && s.promotions != nil {
		s.promotions.QueueGrantsReturned(ctx, pipe, st.out.refunds.giveBacks)
	}
}
