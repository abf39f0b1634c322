package ledger

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/loyalty-engine/loyalty/internal/audit"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// Goodwill in the read and write steps (see apply_goodwill.go for the rules).

// goodwillNeeds is what the read step reads for the batch's goodwill: the usage
// rows of its limited grants' keys and days (sorted, unique), the approvals its
// grants' request ids may have produced, ids for the approvals it may record, and
// the approvals it decides (sorted, unique).
type goodwillNeeds struct {
	usageKeys                  []string
	usageDays                  []time.Time
	newApprovals               int
	requestMembers, requestIDs []string
	decided                    []int64
}

func (n goodwillNeeds) any() bool {
	return len(n.usageKeys) > 0 || len(n.requestIDs) > 0 || len(n.decided) > 0
}

// goodwillNeedsOf is what the batch's goodwill grants and decisions need read.
func goodwillNeedsOf(plans []plan) goodwillNeeds {
	var n goodwillNeeds
	type usage struct {
		key usageKey
		day time.Time
	}
	var usages []usage
	seen := map[usageKey]bool{}
	for _, p := range plans {
		if d := p.decide; d != nil && !slices.Contains(n.decided, d.approvalID) {
			n.decided = append(n.decided, d.approvalID)
		}
		g := p.goodwill
		if g == nil {
			continue
		}
		n.requestMembers = append(n.requestMembers, p.memberID)
		n.requestIDs = append(n.requestIDs, p.requestID)
		if !g.limited {
			continue
		}
		n.newApprovals++
		if k := usageKeyOf(g.keyID, g.day); !seen[k] {
			seen[k] = true
			usages = append(usages, usage{k, g.day})
		}
	}
	// One order for every batch: racing batches wait for each other's usage rows
	// (and their creation) in this order, never in a cycle.
	slices.SortFunc(usages, func(a, b usage) int {
		if c := strings.Compare(a.key.keyID, b.key.keyID); c != 0 {
			return c
		}
		return strings.Compare(a.key.day, b.key.day)
	})
	for _, u := range usages {
		n.usageKeys = append(n.usageKeys, u.key.keyID)
		n.usageDays = append(n.usageDays, u.day)
	}
	slices.Sort(n.decided)
	return n
}

// queueGoodwillReads queues the goodwill reads of the batch on read, after the
// member locks: the usage rows, created when missing and locked, then the approvals
// decided, locked, then the approvals of the grants' request ids and the ids of new
// approvals. The returned function reads them into the state, in their turn.
func (s *Service) queueGoodwillReads(ctx context.Context, read *database.Pipeline, n goodwillNeeds) func(*batchState) error {
	if !n.any() {
		return func(*batchState) error { return nil }
	}
	q := s.q
	var (
		ensure  *ledgerdb.EnsureGoodwillUsageOfBatchResults
		usage   *ledgerdb.LockGoodwillUsageOfBatchResults
		decided *ledgerdb.LockApprovalsOfBatchResults
		stored  *ledgerdb.ApprovalsOfRequestsBatchResults
		ids     *ledgerdb.NextApprovalIDsBatchResults
	)
	if len(n.usageKeys) > 0 {
		ensure = q.EnsureGoodwillUsageOf(ctx, read, []ledgerdb.EnsureGoodwillUsageOfParams{{KeyIds: n.usageKeys, Days: n.usageDays}})
		usage = q.LockGoodwillUsageOf(ctx, read, []ledgerdb.LockGoodwillUsageOfParams{{KeyIds: n.usageKeys, Days: n.usageDays}})
	}
	if len(n.decided) > 0 {
		decided = q.LockApprovalsOf(ctx, read, [][]int64{n.decided})
	}
	if len(n.requestIDs) > 0 {
		stored = q.ApprovalsOfRequests(ctx, read, []ledgerdb.ApprovalsOfRequestsParams{{MemberIds: n.requestMembers, RequestIds: n.requestIDs}})
	}
	if n.newApprovals > 0 {
		ids = q.NextApprovalIDs(ctx, read, []int32{int32(n.newApprovals)})
	}
	return func(st *batchState) error {
		var errs []error
		fail := func(what string, err error) {
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", what, err))
			}
		}
		g := &st.goodwill
		if ensure != nil {
			ensure.Exec(func(_ int, err error) { fail("goodwill usage", err) })
			g.usage = map[usageKey]*goodwillUsage{}
			usage.Query(func(_ int, rows []ledgerdb.GoodwillUsage, err error) {
				fail("lock goodwill usage", err)
				for _, r := range rows {
					g.usage[usageKeyOf(r.KeyID, r.Day)] = &goodwillUsage{keyID: r.KeyID, day: r.Day, granted: r.Granted}
				}
			})
		}
		if decided != nil {
			decided.Query(func(_ int, rows []ledgerdb.GoodwillApproval, err error) {
				fail("lock approvals", err)
				for _, r := range rows {
					g.add(toApprovalState(r))
				}
			})
		}
		if stored != nil {
			stored.Query(func(_ int, rows []ledgerdb.ApprovalsOfRequestsRow, err error) {
				fail("approvals of requests", err)
				for _, r := range rows {
					g.add(toApprovalState(r.GoodwillApproval))
				}
			})
		}
		if ids != nil {
			ids.QueryRow(func(_ int, r []int64, err error) {
				fail("draw approval ids", err)
				g.approvalIDs = r
				slices.Sort(g.approvalIDs)
			})
		}
		if len(errs) > 0 {
			return errs[0]
		}
		return nil
	}
}

// goodwillCalls are the calls whose effect is an approval the batch writes without
// an entry (one recorded, one rejected): their audit records commit with it. A
// repeat answered with its approval wrote nothing; its record is written after the
// call, like a repeated entry's.
func goodwillCalls(plans []plan, out []outcome) []*audit.Pending {
	var calls []*audit.Pending
	for i, p := range plans {
		if o := out[i]; p.call != nil && o.err == nil && o.approval != nil && !o.replayed && o.entry.ID == 0 {
			calls = append(calls, p.call)
		}
	}
	return calls
}

func toApprovalState(r ledgerdb.GoodwillApproval) *approvalState {
	return &approvalState{approval: toApproval(r), requestID: r.RequestID, fingerprint: r.Fingerprint}
}

// queueGoodwillWrites queues the batch's goodwill rows: approvals recorded, approvals
// decided, and the keys' usage of the day. They go whether or not the batch wrote
// an entry (an approval instead of a grant, a rejection).
func (s *Service) queueGoodwillWrites(ctx context.Context, pipe *database.Pipeline, w *goodwillWrites) {
	q := s.q
	if len(w.newApprovals) > 0 {
		var p ledgerdb.WriteNewApprovalsParams
		for _, a := range w.newApprovals {
			p.ApprovalIds = append(p.ApprovalIds, a.approval.ID)
			p.MemberIds = append(p.MemberIds, a.approval.MemberID)
			p.RequestIds = append(p.RequestIds, a.requestID)
			p.Fingerprints = append(p.Fingerprints, a.fingerprint)
			p.Points = append(p.Points, a.approval.Points)
			p.ReasonCodes = append(p.ReasonCodes, a.approval.ReasonCode)
			p.TicketIds = append(p.TicketIds, a.approval.TicketID)
			p.Notes = append(p.Notes, a.approval.Note)
			p.RequestedBy = append(p.RequestedBy, a.approval.RequestedBy)
			p.CreateTimes = append(p.CreateTimes, a.approval.CreateTime)
		}
		q.WriteNewApprovals(ctx, pipe, []ledgerdb.WriteNewApprovalsParams{p})
	}
	if len(w.decided) > 0 {
		var p ledgerdb.WriteApprovalsDecidedParams
		for _, a := range w.decided {
			p.ApprovalIds = append(p.ApprovalIds, a.ID)
			p.Statuses = append(p.Statuses, a.Status)
			p.DecidedBy = append(p.DecidedBy, a.DecidedBy)
			p.DecideTimes = append(p.DecideTimes, a.DecideTime)
			p.EntryIds = append(p.EntryIds, a.EntryID)
		}
		q.WriteApprovalsDecided(ctx, pipe, []ledgerdb.WriteApprovalsDecidedParams{p})
	}
	if len(w.usage) > 0 {
		var p ledgerdb.WriteGoodwillUsageParams
		for _, u := range w.usage {
			p.KeyIds = append(p.KeyIds, u.keyID)
			p.Days = append(p.Days, u.day)
			p.Granted = append(p.Granted, u.granted)
		}
		q.WriteGoodwillUsage(ctx, pipe, []ledgerdb.WriteGoodwillUsageParams{p})
	}
}
