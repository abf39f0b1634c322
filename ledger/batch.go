package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/audit"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/nullable"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
	"github.com/loyalty-engine/loyalty/tiers"
)

// appendAll runs a batch of plans through the write path's three steps (see
// docs/LEDGER.md) in one transaction and at most two round trips:
//
//  1. lock and read: the batch's member rows, locked in member order, and
//     everything the rules need under those locks (readBatch);
//  2. apply: the rules, in Go, command after command (batchState.apply);
//  3. write: every row the batch produced, a handful of set-based statements,
//     sent with the commit (queueWrites).
//
// It opens its own transaction on the pool (its BEGIN travels with the reads, its
// COMMIT with the writes). A command's refusal is its outcome's err and does not fail the
// others; err is set when the batch as a whole failed and wrote nothing.
func (s *Service) appendAll(ctx context.Context, pool *pgxpool.Pool, plans []plan) ([]outcome, error) {
	return s.appendInLane(ctx, pool, plans, AllSlices, nil)
}

// batchHook joins a caller's own rows to a batch (a bulk credit's progress): lock
// is queued among the reads, after every lock of the ledger's own, and its check
// runs before the apply step (an error there rolls the batch back); record is
// queued among the writes, with the outcomes, before the commit.
type batchHook struct {
	lock   func(pipe *database.Pipeline) (check func() error)
	record func(pipe *database.Pipeline, out []outcome)
	// lockWait, when positive, bounds how long the batch waits for any lock
	// (lock_timeout): group commit's batches give up on a member another
	// transaction holds for long (a bulk credit's chunk) instead of making the
	// whole batch wait with it (see committer.flush).
	lockWait time.Duration
}

// appendInLane is appendAll locking only the lane's campaign budget slices (see
// BudgetLane); when they cannot answer, it rolls back and runs the batch again
// with every slice. The batch never waits for a second lock it did not ask for at
// first: that could close a cycle with a batch of the other lane.
func (s *Service) appendInLane(ctx context.Context, pool *pgxpool.Pool, plans []plan, lane BudgetLane, hook *batchHook) ([]outcome, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire a connection: %w", err)
	}
	defer conn.Release()
	out, err := s.runBatch(ctx, conn, plans, lane, hook)
	if err != nil && errors.Is(err, ErrBudgetsIncomplete) && lane != AllSlices {
		s.lanesWidened.Inc()
		if err = rollback(ctx, conn); err == nil {
			out, err = s.runBatch(ctx, conn, plans, AllSlices, hook)
		}
	}
	if err != nil {
		_ = rollback(ctx, conn)
	}
	return out, err
}

// rollback ends the connection's transaction, if it is in one: a connection left
// in a transaction is destroyed by the pool on release; rolling back keeps it.
func rollback(ctx context.Context, conn *pgxpool.Conn) error {
	if conn.Conn().PgConn().TxStatus() == 'I' || conn.Conn().IsClosed() {
		return nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_, err := conn.Exec(rctx, "ROLLBACK")
	return err
}

// largeBatch is the size from which a batch (a bulk credit's chunk, an expiry
// night's sweep) has its statements planned for the arrays it sends: the cached
// generic plans assume arrays of a few elements, whose nested loops over
// thousands of rows are quadratic.
const largeBatch = 256

// batchSender is a connection, or a transaction.
type batchSender interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}

// runBatch runs the three steps on db, in a transaction of its own.
func (s *Service) runBatch(ctx context.Context, db batchSender, plans []plan, lane BudgetLane, hook *batchHook) ([]outcome, error) {
	st, err := s.readBatch(ctx, db, plans, lane, hook)
	if err != nil {
		return nil, err
	}
	out := st.apply(ctx, plans)
	if st.broken != nil {
		return nil, st.broken
	}
	if st.budgets != nil {
		st.out.events = append(st.out.events, st.budgets.Events()...)
	}

	var write database.Pipeline
	st.out.customPlans = len(plans) >= largeBatch
	s.queueWrites(ctx, &write, &st.out)
	s.queueGoodwillWrites(ctx, &write, &st.out.goodwill)
	s.queueRefundWrites(ctx, &write, st)
	if st.budgets != nil {
		st.budgets.QueueWrites(ctx, &write)
	}
	s.queueGiveBacks(ctx, &write, st)
	events.Queue(write.Batch(), st.out.events)
	if hook != nil && hook.record != nil {
		hook.record(&write, out)
	}
	var calls []audit.EntryCall
	for i, p := range plans {
		if p.call != nil && out[i].err == nil && !out[i].replayed && !out[i].skipped && out[i].entry.ID != 0 {
			// The entry's member: a hold's capture or void learns it in the batch;
			// its request id: a refund that gives back only has its "#return" entry.
			calls = append(calls, audit.EntryCall{Call: p.call, MemberID: out[i].entry.MemberID, RequestID: out[i].entry.RequestID})
		}
	}
	auditSent := audit.QueueForEntries(write.Batch(), calls)
	approvalsAuditSent := audit.QueueForEffects(write.Batch(), append(goodwillCalls(plans, out), compensationCalls(plans, out)...))
	write.Queue("COMMIT")
	write.Send(ctx, db)
	if err := write.Close(); err != nil {
		return nil, fmt.Errorf("write a batch of %d entries: %w", len(st.out.entries), err)
	}
	// Sent on the pool: the batch has committed (no caller's transaction).
	auditSent(nil)
	approvalsAuditSent(nil)
	return out, nil
}

// readBatch is step 1: it queues the locks and reads the batch needs, sends them in
// one round trip (after BEGIN), and builds the state the rules start from.
func (s *Service) readBatch(ctx context.Context, db batchSender, plans []plan, lane BudgetLane, hook *batchHook) (*batchState, error) {
	need := needsOf(plans)
	var read database.Pipeline
	read.Queue("BEGIN")
	lockWait := hook != nil && hook.lockWait > 0
	if lockWait {
		read.Queue(fmt.Sprintf("SET LOCAL lock_timeout = %d", max(1, hook.lockWait.Milliseconds())))
	}
	large := len(plans) >= largeBatch
	if large {
		read.Queue("SET LOCAL plan_cache_mode = force_custom_plan")
	}
	q := s.q
	var enroll *ledgerdb.EnrollBatchMembersBatchResults
	if len(need.openings.MemberIds) > 0 {
		// An import's new members first: they are locked below with the others.
		enroll = q.EnrollBatchMembers(ctx, &read, []ledgerdb.EnrollBatchMembersParams{need.openings})
	}
	members := q.LockBatchMembers(ctx, &read, []ledgerdb.LockBatchMembersParams{{MemberIds: need.members, HoldIds: need.holds}})
	ids := q.NextBatchIDs(ctx, &read, []ledgerdb.NextBatchIDsParams{{Entries: int32(need.entries), Lots: int32(need.lots), Holds: int32(need.newHolds)}})
	stored := q.StoredEntriesOf(ctx, &read, []ledgerdb.StoredEntriesOfParams{{MemberIds: need.requestMembers, RequestIds: need.requestIDs}})
	var imported *ledgerdb.ImportsOfBatchResults
	if enroll != nil {
		imported = q.ImportsOf(ctx, &read, [][]string{need.openings.MemberIds})
	}
	var (
		holds       *ledgerdb.LockHoldsOfBatchResults
		holdStored  *ledgerdb.StoredEntriesOfHoldsBatchResults
		earned      *ledgerdb.OrdersEarnedOfBatchResults
		reversed    *ledgerdb.ReversalsOfBatchResults
		lots        *ledgerdb.OpenLotsOfBatchResults
		restorables *ledgerdb.RestorableLotsOfBatchResults
		tierStates  *ledgerdb.TierStatesOfBatchResults
		memberships *ledgerdb.MembershipsOfBatchResults
		metrics     *ledgerdb.MetricsOfBatchResults
		budgets     func() (Budgets, error)
	)
	if len(need.holds) > 0 {
		holds = q.LockHoldsOf(ctx, &read, [][]int64{need.holds})
		holdStored = q.StoredEntriesOfHolds(ctx, &read, []ledgerdb.StoredEntriesOfHoldsParams{{HoldIds: need.holdRequestHolds, RequestIds: need.holdRequestIDs}})
	}
	if len(need.orderIDs) > 0 {
		earned = q.OrdersEarnedOf(ctx, &read, []ledgerdb.OrdersEarnedOfParams{{MemberIds: need.orderMembers, OrderIds: need.orderIDs}})
	}
	if len(need.reverses) > 0 {
		reversed = q.ReversalsOf(ctx, &read, [][]int64{need.reverses})
	}
	if len(need.lotMembers) > 0 {
		lots = q.OpenLotsOf(ctx, &read, [][]string{need.lotMembers})
	}
	if len(need.restoreSources) > 0 || len(need.holds) > 0 {
		restorables = q.RestorableLotsOf(ctx, &read, []ledgerdb.RestorableLotsOfParams{{SourceEntryIds: need.restoreSources, HoldIds: need.holds}})
	}
	if len(need.tierMembers) > 0 {
		tierStates = q.TierStatesOf(ctx, &read, [][]string{need.tierMembers})
		memberships = q.MembershipsOf(ctx, &read, []ledgerdb.MembershipsOfParams{{MemberIds: need.tierMembers, After: need.tierAfter}})
	}
	if len(need.metricMembers) > 0 {
		metrics = q.MetricsOf(ctx, &read, []ledgerdb.MetricsOfParams{{MemberIds: need.metricMembers, WindowStarts: need.metricStarts}})
	}
	if need.allSlices {
		lane = AllSlices
	}
	if (len(need.campaigns) > 0 || !need.claims.empty()) && s.promotions != nil {
		budgets = s.promotions.QueueBudgets(ctx, &read, need.campaigns, need.campaignMembers, lane, need.claims)
	}
	releases := s.queueReleaseLocks(ctx, &read, need.releases)
	goodwill := s.queueGoodwillReads(ctx, &read, need.goodwill)
	refunds := s.queueRefundReads(ctx, &read, need.refunds)
	var hookCheck func() error
	if hook != nil && hook.lock != nil {
		hookCheck = hook.lock(&read)
	}

	read.Send(ctx, db)
	st := &batchState{
		sentAt: s.clock.Now(), members: map[string]*memberState{}, stored: map[requestKey]storedEntry{},
		earned: map[orderKey]bool{}, reversed: map[int64]bool{}, restorable: map[int64][]*restorable{}, holds: map[int64]*holdState{},
		metrics: map[metricKey]metricSum{}, moves: map[string][]metricMove{},
	}
	var errs []error
	fail := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	_, berr := read.ExecNext()
	fail("begin", berr)
	if lockWait {
		_, berr = read.ExecNext()
		fail("bound the lock waits", berr)
	}
	if large {
		_, berr = read.ExecNext()
		fail("plan for the batch's size", berr)
	}
	if enroll != nil {
		st.imported, st.enrolled = map[string][]byte{}, map[string]bool{}
		enroll.Query(func(_ int, rows []ledgerdb.EnrollBatchMembersRow, err error) {
			fail("enroll members", err)
			for _, r := range rows {
				// A new member starts at zero, with nothing: its state needs no
				// read, and its balance row is written with the batch's rows.
				m := &memberState{id: r.MemberID, joinTime: r.JoinTime, attributes: []byte("{}")}
				st.members[r.MemberID], st.enrolled[r.MemberID] = m, true
				st.out.newMembers = append(st.out.newMembers, m)
			}
		})
	}
	members.Query(func(_ int, rows []ledgerdb.LockBatchMembersRow, err error) {
		fail("lock members", err)
		for _, r := range rows {
			st.members[r.MemberID] = &memberState{id: r.MemberID, available: r.Available, pending: r.Pending, held: r.Held,
				lastEntryTime: nullable.Value(r.LastEntryTime), joinTime: r.JoinTime,
				birthday: birthdayOf(r.BirthdayMonth, r.BirthdayDay, r.BirthdayYear), channel: r.Channel, attributes: r.Attributes}
		}
	})
	ids.QueryRow(func(_ int, r ledgerdb.NextBatchIDsRow, err error) {
		fail("draw ids", err)
		st.entryIDs, st.lotIDs, st.holdIDs = r.EntryIds, r.LotIds, r.HoldIds
		slices.Sort(st.entryIDs)
		slices.Sort(st.lotIDs)
		slices.Sort(st.holdIDs)
	})
	stored.Query(func(_ int, rows []ledgerdb.StoredEntriesOfRow, err error) {
		fail("stored entries", err)
		for _, r := range rows {
			st.stored[requestKey{r.Entry.MemberID, r.Entry.RequestID}] = storedEntry{entry: toEntry(r.Entry), fingerprint: r.Entry.Fingerprint}
		}
	})
	if imported != nil {
		imported.Query(func(_ int, rows []ledgerdb.ImportsOfRow, err error) {
			fail("imported members", err)
			for _, r := range rows {
				st.imported[r.MemberID] = r.Fingerprint
			}
		})
	}
	if holds != nil {
		holds.Query(func(_ int, rows []ledgerdb.LockHoldsOfRow, err error) {
			fail("lock holds", err)
			for _, r := range rows {
				st.holds[r.Hold.HoldID] = &holdState{hold: toHold(r.Hold), entryID: r.HoldEntryID}
			}
		})
		holdStored.Query(func(_ int, rows []ledgerdb.StoredEntriesOfHoldsRow, err error) {
			fail("stored entries of holds", err)
			for _, r := range rows {
				st.stored[requestKey{r.Entry.MemberID, r.Entry.RequestID}] = storedEntry{entry: toEntry(r.Entry), fingerprint: r.Entry.Fingerprint}
			}
		})
	}
	if earned != nil {
		earned.Query(func(_ int, rows []ledgerdb.OrdersEarnedOfRow, err error) {
			fail("earned orders", err)
			for _, r := range rows {
				st.earned[orderKey{r.MemberID, r.OrderID}] = true
			}
		})
	}
	if reversed != nil {
		reversed.Query(func(_ int, rows []int64, err error) {
			fail("reversals", err)
			for _, id := range rows {
				st.reversed[id] = true
			}
		})
	}
	lotByID := map[int64]*lotState{}
	lotOf := func(memberID string, id, origin, remaining int64, expire time.Time) *lotState {
		if l, ok := lotByID[id]; ok {
			return l
		}
		l := &lotState{id: id, origin: origin, remaining: remaining, expire: expire}
		lotByID[id] = l
		if m := st.members[memberID]; m != nil {
			m.addLot(l)
		}
		return l
	}
	if lots != nil {
		lots.Query(func(_ int, rows []ledgerdb.OpenLotsOfRow, err error) {
			fail("open lots", err)
			for _, r := range rows {
				lotOf(r.MemberID, r.LotID, r.OriginEntryID, r.Remaining, r.ExpireTime)
			}
		})
	}
	if restorables != nil {
		restorables.Query(func(_ int, rows []ledgerdb.RestorableLotsOfRow, err error) {
			fail("restorable lots", err)
			for _, r := range rows {
				l := lotOf(r.MemberID, r.LotID, r.OriginEntryID, r.Remaining, r.ExpireTime)
				st.restorable[r.SourceEntryID] = append(st.restorable[r.SourceEntryID], &restorable{lot: l, points: r.Restorable})
			}
		})
	}
	if tierStates != nil {
		for _, id := range need.tierMembers {
			if m := st.members[id]; m != nil {
				m.tier = &tierState{}
			}
		}
		tierStates.Query(func(_ int, rows []ledgerdb.TierStatesOfRow, err error) {
			fail("tiers", err)
			for _, r := range rows {
				if m := st.members[r.MemberID]; m != nil {
					m.tier.state = tiersState(r)
				}
			}
		})
		memberships.Query(func(_ int, rows []ledgerdb.MembershipsOfRow, err error) {
			fail("memberships", err)
			for _, r := range rows {
				if m := st.members[r.MemberID]; m != nil {
					m.tier.memberships = append(m.tier.memberships, toTierMembership(r))
				}
			}
		})
	}
	if metrics != nil {
		metrics.Query(func(_ int, rows []ledgerdb.MetricsOfRow, err error) {
			fail("qualifying metrics", err)
			for _, r := range rows {
				st.metrics[metricKey{r.MemberID, r.WindowStart}] = metricSum{points: r.Points, spend: r.SpendMinor}
			}
		})
	}
	if budgets != nil {
		b, err := budgets()
		fail("campaign budgets", err)
		st.budgets = b
	}
	st.releases = releases(fail)
	fail("goodwill", goodwill(st))
	fail("refunds", refunds(st, lotOf))
	if hookCheck != nil {
		if err := hookCheck(); err != nil {
			errs = append(errs, err)
		}
	}
	fail("read", read.Close())
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return st, nil
}

// batchNeeds is what the read step reads for a batch.
type batchNeeds struct {
	entries                    int     // entry ids the batch may use
	newHolds                   int     // holds the batch may place
	releases                   []int64 // the pending earnings the batch releases
	holds                      []int64 // the holds the batch closes
	holdRequestHolds           []int64
	holdRequestIDs             []string
	members                    []string // sorted, unique
	lots                       int      // lots the batch may open
	requestMembers, requestIDs []string
	orderMembers, orderIDs     []string
	reverses                   []int64
	lotMembers                 []string
	restoreSources             []int64
	tierMembers                []string
	tierAfter                  time.Time
	metricMembers              []string
	metricStarts               []time.Time
	campaigns                  []string
	campaignMembers            []string
	// allSlices: the batch locks every budget slice whatever its lane (refunds
	// give campaign points back).
	allSlices bool
	goodwill  goodwillNeeds
	refunds   refundNeeds
	// claims: the batch's compensation and activity claims, whose recorded
	// outcomes are read.
	claims Claims
	// openings: the members a member import enrolls (if new), sorted.
	openings ledgerdb.EnrollBatchMembersParams
}

// needsOf is what the rules will need to apply plans.
func needsOf(plans []plan) batchNeeds {
	var n batchNeeds
	seen := map[string]bool{}
	addMember := func(list *[]string, id string, key string) {
		if !seen[key] {
			seen[key] = true
			*list = append(*list, id)
		}
	}
	metricSeen := map[metricKey]bool{}
	for _, p := range plans {
		n.entries++
		if p.close != nil {
			// Known by hold id only: its member is locked and its lots read by
			// way of the hold; a release may open a lot.
			if !seen["h:"+strconv.FormatInt(p.close.holdID, 10)] {
				seen["h:"+strconv.FormatInt(p.close.holdID, 10)] = true
				n.holds = append(n.holds, p.close.holdID)
			}
			n.holdRequestHolds = append(n.holdRequestHolds, p.close.holdID)
			n.holdRequestIDs = append(n.holdRequestIDs, p.requestID)
			n.lots++
			continue
		}
		addMember(&n.members, p.memberID, "m:"+p.memberID)
		if p.placeHold != nil {
			n.newHolds++
		}
		if p.compensation != nil {
			// Its entries are the campaigns' to name: the claim's record is what
			// a repeat finds.
			n.addCompensation(p, addMember, metricSeen)
			continue
		}
		if p.activity != nil {
			n.addActivity(p, addMember, metricSeen)
			continue
		}
		if p.referral != nil {
			n.addReferral(p, addMember, metricSeen)
			continue
		}
		if o := p.opening; o != nil {
			// Its member is enrolled if new; its tier and metric start.
			if !seen["o:"+p.memberID] {
				seen["o:"+p.memberID] = true
				n.openings.MemberIds = append(n.openings.MemberIds, p.memberID)
				n.openings.DisplayNames = append(n.openings.DisplayNames, o.displayName)
				n.openings.JoinTimes = append(n.openings.JoinTimes, o.joinTime)
			}
			n.needTier(p.memberID, p.at, addMember)
			n.needMetric(p.memberID, o.policy, p.at, metricSeen)
		}
		if p.expireLots == nil {
			// An expiry's request id is drawn in the apply step, new (expiryRequestID):
			// there is nothing stored to find for it.
			n.requestMembers = append(n.requestMembers, p.memberID)
			n.requestIDs = append(n.requestIDs, p.requestID)
		}
		if p.kind == KindEarn && p.orderID != "" {
			n.orderMembers = append(n.orderMembers, p.memberID)
			n.orderIDs = append(n.orderIDs, p.orderID)
		}
		if p.reverses != 0 {
			n.reverses = append(n.reverses, p.reverses)
		}
		if p.release != nil {
			n.releases = append(n.releases, p.release.entryID)
			n.lots++ // its postings are set in the apply step; it opens a lot
		}
		if p.expireLots != nil {
			addMember(&n.lotMembers, p.memberID, "l:"+p.memberID) // the lots it expires
		}
		if p.refund != nil {
			n.addRefund(p, addMember)
		}
		if p.reverseOrder != nil {
			n.addOrderReversal(p, addMember)
		}
		d, _, _ := split(p.postings)
		if p.earn != nil {
			d.available = 0 // an earning credits: it reads no lots
			if p.releaseTime.IsZero() {
				n.lots++
			}
		} else if d.available > 0 {
			n.lots++
		}
		if d.available < 0 {
			addMember(&n.lotMembers, p.memberID, "l:"+p.memberID)
		}
		if len(p.restoreFrom) > 0 {
			n.restoreSources = append(n.restoreSources, p.restoreFrom...)
		}
		var policyAt time.Time
		if e := p.earn; e != nil && (e.applyTier || len(e.campaigns) > 0) {
			n.needTier(p.memberID, p.at, addMember)
		}
		var policy *tiers.Policy
		switch {
		case p.earn != nil && p.earn.mayQualify():
			policy, policyAt = &p.earn.policy, p.at
		case p.qualify != nil && (p.qualify.points > 0 || p.qualify.spend > 0):
			policy, policyAt = &p.qualify.policy, p.qualify.at
		}
		if policy != nil {
			// An upgrade compares against the member's qualified tier.
			n.needTier(p.memberID, policyAt, addMember)
			n.needMetric(p.memberID, *policy, policyAt, metricSeen)
		}
		if p.earn != nil {
			n.needCampaigns(p.memberID, p.earn.campaigns, addMember)
		}
		if p.bulk != nil {
			n.needCampaigns(p.memberID, []string{p.bulk.campaignID}, addMember)
		}
	}
	slices.Sort(n.members)
	n.goodwill = goodwillNeedsOf(plans)
	return n
}

// needTier reads the member's tier row and memberships (those not over by at).
func (n *batchNeeds) needTier(memberID string, at time.Time, addMember func(*[]string, string, string)) {
	addMember(&n.tierMembers, memberID, "t:"+memberID)
	if n.tierAfter.IsZero() || at.Before(n.tierAfter) {
		n.tierAfter = at
	}
}

// needMetric reads the member's qualifying metric over the policy's window at at.
func (n *batchNeeds) needMetric(memberID string, policy tiers.Policy, at time.Time, seen map[metricKey]bool) {
	k := metricKey{memberID, policy.WindowStart(at)}
	if !seen[k] {
		seen[k] = true
		n.metricMembers = append(n.metricMembers, k.memberID)
		n.metricStarts = append(n.metricStarts, k.windowStart)
	}
}

// needCampaigns reads the campaigns' budgets and what the member got from them.
func (n *batchNeeds) needCampaigns(memberID string, campaignIDs []string, addMember func(*[]string, string, string)) {
	for _, c := range campaignIDs {
		addMember(&n.campaigns, c, "c:"+c)
	}
	if len(campaignIDs) > 0 {
		addMember(&n.campaignMembers, memberID, "cm:"+memberID)
	}
}

// writeSet is every row a batch writes.
type writeSet struct {
	entries  []entryRow
	newLots  []newLot
	lotMoves []lotMove
	// closedHolds: the holds the batch captured or voided, as it left them;
	// newHolds: those it placed.
	closedHolds, newHolds []Hold
	// movedLots: lots opened before the batch that its moves changed.
	movedLots   []*lotState
	pending     []pendingRow
	orders      []orderRow
	metricMoves []metricMoveRow
	upgrades    []upgradeRow
	refunds     refundWrites
	// system postings summed per account, in the order accounts first appear.
	systemAccounts []string
	systemAmounts  []int64

	// released: the pending earnings the batch released.
	released []int64
	// goodwill: approvals recorded and decided, keys' usage (written with or
	// without entries).
	goodwill goodwillWrites
	// events: the batch's events, in the order its commands made them
	// (batch_events.go).
	events []events.Event
	// imports: the members the batch imported (opening.go); newMembers: those its
	// import enrolled, in member order, whose balance rows it inserts (as it leaves
	// them) rather than updates.
	imports    []importRow
	newMembers []*memberState
	// customPlans: the batch is large, planned for the arrays it sends (largeBatch).
	customPlans bool
}

func (w *writeSet) addSystem(account string, amount int64) {
	if i := slices.Index(w.systemAccounts, account); i >= 0 {
		w.systemAmounts[i] += amount
		return
	}
	w.systemAccounts = append(w.systemAccounts, account)
	w.systemAmounts = append(w.systemAmounts, amount)
}

type entryRow struct {
	entry       Entry
	fingerprint []byte
}

type newLot struct {
	memberID string
	lot      *lotState
}

type lotMove struct {
	memberID               string
	lotID, entryID, source int64
	points                 int64
}

type pendingRow struct {
	entryID     int64
	memberID    string
	orderID     string
	points      int64
	releaseTime time.Time
	lotExpire   time.Time
}

type orderRow struct {
	memberID, orderID       string
	earnEntryID, spendMinor int64
	currency                string
	earnedPoints            int64
	tierID, perks           string
	qualifies               bool
	metricPoints            int64
	metricSpend             int64
	metricDay               time.Time
}

type metricMoveRow struct {
	memberID      string
	entryID       int64
	orderID       string
	day           time.Time
	points, spend int64
	at            time.Time
}

type upgradeRow struct {
	memberID, from, to string
	metric             int64
	periodEnd          time.Time
	version            int64
	at                 time.Time
	// reason: "" for an upgrade (tiers.ReasonUpgrade); an import's start tier
	// has its own (tiers.ReasonImported).
	reason string
}

func (u upgradeRow) reasonOrUpgrade() string {
	if u.reason == "" {
		return tiers.ReasonUpgrade
	}
	return u.reason
}

// queueWrites is step 3: the batch's rows, one statement per kind of row.
func (s *Service) queueWrites(ctx context.Context, pipe *database.Pipeline, w *writeSet) {
	s.queueImports(ctx, pipe, w)
	s.queueEntriesAndEffects(ctx, pipe, w)
}

// queueImports writes an import's member_imports rows and the balance rows of
// the members it enrolled. These rows' foreign keys are checked row by row, each
// check a cached plan: planned again for every row under force_custom_plan (a
// large batch's), which made the checks several times their cost. So they are
// written under the default plan mode: their statements have no join a generic
// plan could get wrong.
func (s *Service) queueImports(ctx context.Context, pipe *database.Pipeline, w *writeSet) {
	if len(w.imports) == 0 && len(w.newMembers) == 0 {
		return
	}
	pipe.Queue("SET LOCAL plan_cache_mode = auto")
	q := s.q
	if len(w.imports) > 0 {
		var p ledgerdb.WriteImportsParams
		for _, r := range w.imports {
			p.MemberIds = append(p.MemberIds, r.memberID)
			p.Fingerprints = append(p.Fingerprints, r.fingerprint)
			p.EntryIds = append(p.EntryIds, r.entryID)
			p.CreateTimes = append(p.CreateTimes, r.at)
		}
		q.WriteImports(ctx, pipe, []ledgerdb.WriteImportsParams{p})
	}
	if len(w.newMembers) > 0 {
		q.WriteNewBalances(ctx, pipe, []ledgerdb.WriteNewBalancesParams{newBalances(w.newMembers)})
	}
	if w.customPlans {
		pipe.Queue("SET LOCAL plan_cache_mode = force_custom_plan")
	}
}

// queueEntriesAndEffects writes the entries, their balances and effects.
func (s *Service) queueEntriesAndEffects(ctx context.Context, pipe *database.Pipeline, w *writeSet) {
	if len(w.entries) > 0 {
		s.queueEntries(ctx, pipe, w)
	}
	s.queueEntryEffects(ctx, pipe, w)
}

// newBalances are the balance rows of the members an import enrolled (sorted, as
// the read step returned them), as the batch leaves them.
func newBalances(members []*memberState) ledgerdb.WriteNewBalancesParams {
	var p ledgerdb.WriteNewBalancesParams
	for _, m := range members {
		p.MemberIds = append(p.MemberIds, m.id)
		p.Available = append(p.Available, m.available)
		p.Pending = append(p.Pending, m.pending)
		p.Held = append(p.Held, m.held)
		p.LastEntryTimes = append(p.LastEntryTimes, m.lastEntryTime)
	}
	return p
}

// queueEntries writes the batch's entries and the balances they leave.
func (s *Service) queueEntries(ctx context.Context, pipe *database.Pipeline, w *writeSet) {
	q := s.q
	// Members in lock order, each once, with their balances as the batch left them
	// (those it enrolled have theirs inserted: WriteNewBalances).
	var bal ledgerdb.WriteBalancesParams
	seen := map[string]bool{}
	for _, m := range w.newMembers {
		seen[m.id] = true
	}
	for _, e := range w.entries {
		if !seen[e.entry.MemberID] {
			seen[e.entry.MemberID] = true
			bal.MemberIds = append(bal.MemberIds, e.entry.MemberID)
		}
	}
	slices.Sort(bal.MemberIds)
	last := map[string]Entry{}
	for _, e := range w.entries {
		last[e.entry.MemberID] = e.entry
	}
	for _, id := range bal.MemberIds {
		e := last[id]
		bal.Available = append(bal.Available, e.AvailableAfter)
		bal.Pending = append(bal.Pending, e.PendingAfter)
		bal.Held = append(bal.Held, e.HeldAfter)
		bal.LastEntryTimes = append(bal.LastEntryTimes, e.CreateTime)
	}
	if len(bal.MemberIds) > 0 {
		q.WriteBalances(ctx, pipe, []ledgerdb.WriteBalancesParams{bal})
	}

	var ent ledgerdb.WriteEntriesParams
	for _, r := range w.entries {
		e := r.entry
		accounts, amounts := postingArrays(e.Postings)
		ent.Accounts = append(ent.Accounts, accounts)
		ent.Amounts = append(ent.Amounts, amounts)
		ent.EntryIds = append(ent.EntryIds, e.ID)
		ent.MemberIds = append(ent.MemberIds, e.MemberID)
		ent.Kinds = append(ent.Kinds, string(e.Kind))
		ent.AvailableAfter = append(ent.AvailableAfter, e.AvailableAfter)
		ent.PendingAfter = append(ent.PendingAfter, e.PendingAfter)
		ent.HeldAfter = append(ent.HeldAfter, e.HeldAfter)
		ent.RequestIds = append(ent.RequestIds, e.RequestID)
		ent.Fingerprints = append(ent.Fingerprints, r.fingerprint)
		ent.OrderIds = append(ent.OrderIds, e.OrderID)
		ent.HoldIds = append(ent.HoldIds, e.HoldID)
		ent.ReversesEntryIds = append(ent.ReversesEntryIds, e.ReversesEntryID)
		ent.Memos = append(ent.Memos, e.Memo)
		ent.ActorKeyIds = append(ent.ActorKeyIds, e.ActorKeyID)
		ent.ReasonCodes = append(ent.ReasonCodes, e.ReasonCode)
		ent.TicketIds = append(ent.TicketIds, e.TicketID)
		ent.CreateTimes = append(ent.CreateTimes, e.CreateTime)
	}
	q.WriteEntries(ctx, pipe, []ledgerdb.WriteEntriesParams{ent})
}

// queueEntryEffects writes what entries cause besides themselves (lots, holds,
// releases, orders, system deltas, the metric, upgrades); an import that opened at
// zero moves the metric and the tier without an entry.
func (s *Service) queueEntryEffects(ctx context.Context, pipe *database.Pipeline, w *writeSet) {
	q := s.q
	if len(w.newLots) > 0 {
		var p ledgerdb.WriteNewLotsParams
		for _, n := range w.newLots {
			l := n.lot
			p.LotIds = append(p.LotIds, l.id)
			p.MemberIds = append(p.MemberIds, n.memberID)
			p.EntryIds = append(p.EntryIds, l.entryID)
			p.OriginEntryIds = append(p.OriginEntryIds, l.origin)
			p.Points = append(p.Points, l.points)
			p.Remaining = append(p.Remaining, l.remaining)
			p.ExpireTimes = append(p.ExpireTimes, l.expire)
			p.CreateTimes = append(p.CreateTimes, l.createTime)
		}
		q.WriteNewLots(ctx, pipe, []ledgerdb.WriteNewLotsParams{p})
	}
	if len(w.lotMoves) > 0 {
		var moves ledgerdb.WriteLotMovesParams
		var remaining ledgerdb.WriteLotsRemainingParams
		for _, m := range w.lotMoves {
			moves.MemberIds = append(moves.MemberIds, m.memberID)
			moves.LotIds = append(moves.LotIds, m.lotID)
			moves.EntryIds = append(moves.EntryIds, m.entryID)
			moves.SourceEntryIds = append(moves.SourceEntryIds, m.source)
			moves.Points = append(moves.Points, m.points)
		}
		for _, l := range w.movedLots {
			remaining.LotIds = append(remaining.LotIds, l.id)
			remaining.Remaining = append(remaining.Remaining, l.remaining)
		}
		q.WriteLotMoves(ctx, pipe, []ledgerdb.WriteLotMovesParams{moves})
		if len(remaining.LotIds) > 0 {
			q.WriteLotsRemaining(ctx, pipe, []ledgerdb.WriteLotsRemainingParams{remaining})
		}
	}
	if len(w.pending) > 0 {
		var p ledgerdb.WritePendingReleasesParams
		for _, r := range w.pending {
			p.EntryIds = append(p.EntryIds, r.entryID)
			p.MemberIds = append(p.MemberIds, r.memberID)
			p.OrderIds = append(p.OrderIds, r.orderID)
			p.Points = append(p.Points, r.points)
			p.ReleaseTimes = append(p.ReleaseTimes, r.releaseTime)
			p.LotExpireTimes = append(p.LotExpireTimes, r.lotExpire)
		}
		q.WritePendingReleases(ctx, pipe, []ledgerdb.WritePendingReleasesParams{p})
	}
	if len(w.orders) > 0 {
		var p ledgerdb.WriteOrdersParams
		for _, o := range w.orders {
			p.MemberIds = append(p.MemberIds, o.memberID)
			p.OrderIds = append(p.OrderIds, o.orderID)
			p.EarnEntryIds = append(p.EarnEntryIds, o.earnEntryID)
			p.SpendMinor = append(p.SpendMinor, o.spendMinor)
			p.Currencies = append(p.Currencies, o.currency)
			p.EarnedPoints = append(p.EarnedPoints, o.earnedPoints)
			p.TierIds = append(p.TierIds, o.tierID)
			p.Perks = append(p.Perks, o.perks)
			p.MetricPoints = append(p.MetricPoints, o.metricPoints)
			p.MetricSpend = append(p.MetricSpend, o.metricSpend)
			p.Qualifies = append(p.Qualifies, o.qualifies)
			p.MetricDays = append(p.MetricDays, o.metricDay)
		}
		q.WriteOrders(ctx, pipe, []ledgerdb.WriteOrdersParams{p})
	}
	if len(w.newHolds) > 0 {
		var p ledgerdb.WriteNewHoldsParams
		for _, h := range w.newHolds {
			p.HoldIds = append(p.HoldIds, h.ID)
			p.MemberIds = append(p.MemberIds, h.MemberID)
			p.Points = append(p.Points, h.Points)
			p.OrderIds = append(p.OrderIds, h.OrderID)
			p.CreateTimes = append(p.CreateTimes, h.CreateTime)
			p.ExpireTimes = append(p.ExpireTimes, h.ExpireTime)
		}
		q.WriteNewHolds(ctx, pipe, []ledgerdb.WriteNewHoldsParams{p})
	}
	if len(w.closedHolds) > 0 {
		var p ledgerdb.WriteHoldsClosedParams
		for _, h := range w.closedHolds {
			p.HoldIds = append(p.HoldIds, h.ID)
			p.Statuses = append(p.Statuses, h.Status)
			p.CapturedPoints = append(p.CapturedPoints, h.CapturedPoints)
		}
		q.WriteHoldsClosed(ctx, pipe, []ledgerdb.WriteHoldsClosedParams{p})
	}
	s.queueReleased(ctx, pipe, w.released)
	if len(w.systemAccounts) > 0 {
		q.WriteSystemDeltas(ctx, pipe, []ledgerdb.WriteSystemDeltasParams{{Accounts: w.systemAccounts, Amounts: w.systemAmounts}})
	}
	if len(w.metricMoves) > 0 {
		q.WriteMetricMoves(ctx, pipe, []ledgerdb.WriteMetricMovesParams{metricMovesParams(w.metricMoves)})
	}
	if len(w.upgrades) > 0 {
		var p ledgerdb.WriteUpgradesParams
		final := map[string]int{} // member_tiers gets each member's last upgrade
		for i, u := range w.upgrades {
			final[u.memberID] = i
		}
		for i, u := range w.upgrades {
			if final[u.memberID] == i {
				p.MemberIds = append(p.MemberIds, u.memberID)
				p.ToTiers = append(p.ToTiers, u.to)
				p.PeriodEnds = append(p.PeriodEnds, u.periodEnd)
				p.CreateTimes = append(p.CreateTimes, u.at)
			}
			p.HistoryMemberIds = append(p.HistoryMemberIds, u.memberID)
			p.FromTiers = append(p.FromTiers, u.from)
			p.HistoryToTiers = append(p.HistoryToTiers, u.to)
			p.Reasons = append(p.Reasons, u.reasonOrUpgrade())
			p.Metrics = append(p.Metrics, u.metric)
			p.HistoryPeriodEnds = append(p.HistoryPeriodEnds, u.periodEnd)
			p.PolicyVersions = append(p.PolicyVersions, u.version)
			p.HistoryCreateTimes = append(p.HistoryCreateTimes, u.at)
		}
		q.WriteUpgrades(ctx, pipe, []ledgerdb.WriteUpgradesParams{p})
	}
}

// metricMovesParams are the rows of moves of the qualifying metric, as arrays.
func metricMovesParams(moves []metricMoveRow) ledgerdb.WriteMetricMovesParams {
	var p ledgerdb.WriteMetricMovesParams
	for _, m := range moves {
		p.MemberIds = append(p.MemberIds, m.memberID)
		p.EntryIds = append(p.EntryIds, m.entryID)
		p.OrderIds = append(p.OrderIds, m.orderID)
		p.Days = append(p.Days, m.day)
		p.Points = append(p.Points, m.points)
		p.SpendMinor = append(p.SpendMinor, m.spend)
		p.CreateTimes = append(p.CreateTimes, m.at)
	}
	return p
}

// tierState is a member's qualified tier as stored.
func tiersState(r ledgerdb.TierStatesOfRow) tiers.State {
	return tiers.State{TierID: r.TierID, PeriodEnd: nullable.Value(r.PeriodEnd), GraceEnd: nullable.Value(r.GraceEnd)}
}

func toTierMembership(r ledgerdb.MembershipsOfRow) tiers.Membership {
	return tiers.Membership{MemberID: r.MemberID, TierID: r.TierID, StartTime: r.StartTime, EndTime: r.EndTime,
		CancelTime: nullable.Value(r.CancelTime)}
}

// postingArrays are an entry's postings as PostgreSQL array literals, accounts
// (each element quoted) and amounts, which WriteEntries casts per row.
func postingArrays(postings []Posting) (accounts, amounts string) {
	var a, n strings.Builder
	a.WriteByte('{')
	n.WriteByte('{')
	for i, p := range postings {
		if i > 0 {
			a.WriteByte(',')
			n.WriteByte(',')
		}
		a.WriteByte('"')
		for _, r := range p.Account {
			if r == '"' || r == '\\' {
				a.WriteByte('\\')
			}
			a.WriteRune(r)
		}
		a.WriteByte('"')
		n.WriteString(strconv.FormatInt(p.Amount, 10))
	}
	a.WriteByte('}')
	n.WriteByte('}')
	return a.String(), n.String()
}
