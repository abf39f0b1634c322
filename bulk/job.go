package bulk

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/bulk/internal/bulkdb"
	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

// The job (docs/BULK.md): Work does what the open bulk credits have to do, a step
// at a time (a page of the listing, or a few chunks at once), yielding between
// them; any replica may run it, and a crash loses nothing: every transaction
// commits its rows with the progress that says it was done (a listed page moves
// prepare_after, a chunk inserts its chunk row), and one that finds that done
// already (another run did it) writes nothing.

// runLock is the advisory lock of the replica working the bulk credits: one at a
// time (two would only find each other's chunks done), released with its
// connection if the replica dies.
const runLock = 74210023

// Run works the open bulk credits for about runFor (it stops between two steps),
// unless another replica is working them; it returns how many members it
// credited. The job calls it every few seconds.
func (s *Service) Run(ctx context.Context, runFor time.Duration) (int64, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("acquire a connection: %w", err)
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", runLock).Scan(&got); err != nil {
		return 0, fmt.Errorf("bulk credits' lock: %w", err)
	}
	if !got {
		return 0, nil
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", runLock); err != nil {
			conn.Conn().Close(uctx) // the lock goes with the session
		}
	}()
	return s.work(ctx, time.Now().Add(runFor))
}

// Work runs every open bulk credit until none is left or ctx ends; it returns how
// many members it credited.
func (s *Service) Work(ctx context.Context) (int64, error) { return s.work(ctx, time.Time{}) }

func (s *Service) work(ctx context.Context, until time.Time) (int64, error) {
	var credited int64
	for {
		if !until.IsZero() && time.Now().After(until) {
			return credited, nil
		}
		ids, err := s.q.OpenBulkCredits(ctx, s.pool)
		if err != nil {
			return credited, fmt.Errorf("open bulk credits: %w", err)
		}
		if len(ids) == 0 {
			return credited, nil
		}
		progressed := false
		for _, id := range ids {
			n, moved, err := s.Step(ctx, id)
			credited += n
			if err != nil {
				return credited, err
			}
			progressed = progressed || moved
			if err := s.yield(ctx); err != nil {
				return credited, err
			}
		}
		if !progressed {
			return credited, nil
		}
	}
}

// yield waits between two steps (Options.Yield), so the API's batches run in
// between.
func (s *Service) yield(ctx context.Context) error {
	if s.opts.Yield <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(s.opts.Yield)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Step does one step of a bulk credit: a page of its listing while it prepares,
// up to Options.Parallel chunks of credits at once while it runs (each on its
// own members, a chunk row of its own). moved tells whether it did anything.
func (s *Service) Step(ctx context.Context, id int64) (credited int64, moved bool, err error) {
	row, err := s.q.BulkCreditRow(ctx, s.pool, id)
	if err != nil {
		return 0, false, fmt.Errorf("bulk credit %d: %w", id, err)
	}
	switch row.Status {
	case StatusPreparing:
		moved, err := s.prepare(ctx, row)
		return 0, moved, err
	case StatusRunning:
		return s.credit(ctx, row)
	}
	return 0, false, nil
}

// prepare lists a page of a TIER, RULE or ALL target's members, after the last
// member id scanned, with the page's progress in one transaction.
func (s *Service) prepare(ctx context.Context, row bulkdb.BulkCredit) (bool, error) {
	now := s.clock.Now()
	var ids []string
	var last string
	var scanned int
	switch row.TargetKind {
	case TargetAll:
		page, err := s.q.ScanMemberIDs(ctx, s.pool, bulkdb.ScanMemberIDsParams{After: row.PrepareAfter, MaxRows: int32(s.opts.Page)})
		if err != nil {
			return false, fmt.Errorf("list members: %w", err)
		}
		ids, scanned = page, len(page)
		if scanned > 0 {
			last = page[scanned-1]
		}
	case TargetTier, TargetRule:
		page, err := s.q.ScanMembers(ctx, s.pool, bulkdb.ScanMembersParams{After: row.PrepareAfter, MaxRows: int32(s.opts.Page), Now: now})
		if err != nil {
			return false, fmt.Errorf("list members: %w", err)
		}
		scanned = len(page)
		if scanned > 0 {
			last = page[scanned-1].MemberID
		}
		policy, err := s.tiers.Policy(ctx)
		if err != nil {
			return false, err
		}
		var rule *campaigns.Rule
		if row.TargetKind == TargetRule {
			if rule, err = campaigns.CompileRule(row.TargetValue); err != nil {
				return false, fmt.Errorf("bulk credit %d: its rule: %w", row.BulkCreditID, err)
			}
		}
		for _, m := range page {
			if ok := targeted(policy, row.TargetKind, row.TargetValue, rule, m); ok {
				ids = append(ids, m.MemberID)
			}
		}
	default:
		return false, fmt.Errorf("bulk credit %d: target %s has nothing to list", row.BulkCreditID, row.TargetKind)
	}
	if scanned == 0 {
		last = row.PrepareAfter
	}
	done := scanned < s.opts.Page
	points := make([]int64, len(ids))
	for i := range points {
		points[i] = row.Points
	}
	err := s.tx.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		// The progress first: it locks the row, and moves only if nobody listed
		// this page meanwhile (else no row, and nothing is written).
		updated, err := s.q.RecordPrepared(ctx, tx, bulkdb.RecordPreparedParams{BulkCreditID: row.BulkCreditID, Found: int64(len(ids)),
			After: last, Done: done, Now: now, ExpectedAfter: row.PrepareAfter})
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		return s.q.InsertBulkMembers(ctx, tx, bulkdb.InsertBulkMembersParams{BulkCreditID: row.BulkCreditID,
			FirstSeq: updated.Total - int64(len(ids)), MemberIds: ids, Points: points})
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil // another run listed it, or it was paused
	}
	if err != nil {
		return false, fmt.Errorf("list members of bulk credit %d: %w", row.BulkCreditID, err)
	}
	return true, nil
}

// targeted tells whether a scanned member is in a TIER or RULE target: its
// effective tier (tiers.Better of the qualified one and its paid memberships) is
// the tier, or the rule holds for it (a rule that fails on the member leaves it
// out).
func targeted(policy tiers.Policy, kind, value string, rule *campaigns.Rule, m bulkdb.ScanMembersRow) bool {
	tier, _ := tiers.Better(policy, m.TierID, m.PaidTierIds)
	if kind == TargetTier {
		return tier == value
	}
	ok, err := rule.Eval(campaigns.Facts{Member: campaigns.MemberFacts{TierID: tier, MemberID: m.MemberID, JoinTime: m.JoinTime}})
	return ok && err == nil
}

// seqRange is a range of a bulk credit's members by seq, [from, to).
type seqRange struct{ from, to int64 }

// uncoveredChunks is the rule of what is left of a bulk credit of total
// members: the seqs of [0, total) that no committed chunk covers, cut at the
// multiples of its chunk size. covered is the committed chunks' ranges, in seq
// order, disjoint. The cut depends on nothing but what committed, and a chunk
// commits whole: so two runs that plan the same members plan the same chunk
// (the same first seq), and only one of them can claim its row.
func uncoveredChunks(total, size int64, covered []seqRange) []seqRange {
	var left []seqRange
	cut := func(from, to int64) {
		for from < to {
			end := min((from/size+1)*size, to)
			left = append(left, seqRange{from, end})
			from = end
		}
	}
	at := int64(0)
	for _, c := range covered {
		if c.from > at {
			cut(at, min(c.from, total))
		}
		at = max(at, c.to)
	}
	cut(at, total)
	return left
}

// credit credits the next chunks of a running bulk credit: up to
// Options.Parallel of them at once, each on its own members (a campaign-funded
// one: its first chunk left, one at a time, so that the members after the first
// one its budget refuses are not reached); with nothing left, it ends it.
func (s *Service) credit(ctx context.Context, row bulkdb.BulkCredit) (int64, bool, error) {
	rows, err := s.q.ChunkRanges(ctx, s.pool, row.BulkCreditID)
	if err != nil {
		return 0, false, fmt.Errorf("chunks of bulk credit %d: %w", row.BulkCreditID, err)
	}
	covered := make([]seqRange, len(rows))
	for i, r := range rows {
		covered[i] = seqRange{r.FromSeq, r.ToSeq}
	}
	left := uncoveredChunks(row.Total, row.ChunkSize, covered)
	if len(left) == 0 {
		moved, err := s.finish(ctx, row)
		return 0, moved, err
	}
	at := s.opts.Parallel
	if row.CampaignID != nil {
		at = 1
	}
	step := left[:min(len(left), at)]
	type result struct {
		credited int64
		moved    bool
		err      error
	}
	results := make([]result, len(step))
	var wg sync.WaitGroup
	for i, r := range step {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, moved, err := s.chunk(ctx, row, r)
			results[i] = result{n, moved, err}
		}()
	}
	wg.Wait()
	var credited int64
	var err1 error
	moved, all := false, len(step) == len(left)
	for _, r := range results {
		credited += r.credited
		moved = moved || r.moved
		all = all && r.moved
		if err1 == nil {
			err1 = r.err
		}
	}
	if err1 != nil {
		return credited, moved, err1
	}
	if all {
		// The last chunks committed: end it now rather than on the next round.
		if _, err := s.finish(ctx, row); err != nil {
			return credited, moved, err
		}
	}
	return credited, moved, nil
}

// chunk credits one chunk of members: one batch of the ledger's write path, with
// the chunk's row, failures and progress, under a shared lock on the bulk
// credit's row taken after the members' (ledger.BulkChunk.Lock). A chunk that
// finds the bulk credit no longer running (paused, cancelled, its budget spent)
// or its row claimed (another run did it) writes nothing.
func (s *Service) chunk(ctx context.Context, row bulkdb.BulkCredit, r seqRange) (int64, bool, error) {
	members, err := s.q.ChunkMembers(ctx, s.pool, bulkdb.ChunkMembersParams{BulkCreditID: row.BulkCreditID, FromSeq: r.from, ToSeq: r.to})
	if err != nil {
		return 0, false, fmt.Errorf("members of bulk credit %d: %w", row.BulkCreditID, err)
	}
	if len(members) == 0 {
		return 0, false, fmt.Errorf("bulk credit %d lists no member from %d to %d", row.BulkCreditID, r.from, r.to)
	}
	now := s.clock.Now()
	credits := make([]ledger.BulkMemberCredit, len(members))
	for i, m := range members {
		credits[i] = ledger.BulkMemberCredit{MemberID: m.MemberID, Points: m.Points}
	}
	funded := row.CampaignID != nil
	c := ledger.BulkChunk{BulkCreditID: row.BulkCreditID, Credits: credits, Memo: row.Reason, ActorKeyID: row.ActorKeyID}
	if row.LotExpireTime != nil {
		c.LotExpire = *row.LotExpireTime
	}
	if funded {
		c.CampaignID = *row.CampaignID
	}
	c.Lock = func(pipe *database.Pipeline) func() error {
		status := s.lockBulkCredit(ctx, pipe, row.BulkCreditID, funded)
		claim := s.q.ClaimChunk(ctx, pipe, []bulkdb.ClaimChunkParams{{BulkCreditID: row.BulkCreditID, FromSeq: r.from, ToSeq: r.to, Now: now}})
		return func() error {
			st, err := status()
			if err != nil {
				return fmt.Errorf("lock bulk credit %d: %w", row.BulkCreditID, err)
			}
			var claimed bool
			var cerr error
			claim.QueryRow(func(_ int, _ int64, err error) { claimed, cerr = err == nil, err })
			if cerr != nil && !errors.Is(cerr, pgx.ErrNoRows) {
				return fmt.Errorf("claim chunk %d of bulk credit %d: %w", r.from, row.BulkCreditID, cerr)
			}
			if st != StatusRunning || !claimed {
				return errStale
			}
			return nil
		}
	}
	var credited int64
	c.Record = func(pipe *database.Pipeline, results []ledger.BulkResult) {
		p := progressOf(members, results)
		credited = p.done
		s.q.RecordChunk(ctx, pipe, []bulkdb.RecordChunkParams{{BulkCreditID: row.BulkCreditID, FromSeq: r.from,
			Done: p.done, Failed: int64(len(p.failures)), Points: p.points}})
		if p.finish != "" && funded { // only a funded chunk holds the row's lock for an update
			s.q.EndBulkCredit(ctx, pipe, []bulkdb.EndBulkCreditParams{{BulkCreditID: row.BulkCreditID, Status: p.finish, Now: now}})
		}
		if len(p.failures) > 0 {
			f := bulkdb.RecordFailuresParams{BulkCreditID: row.BulkCreditID}
			for _, x := range p.failures {
				f.Seqs = append(f.Seqs, x.Seq)
				f.MemberIds = append(f.MemberIds, x.MemberID)
				f.Reasons = append(f.Reasons, x.Reason)
				f.Messages = append(f.Messages, x.Message)
			}
			s.q.RecordFailures(ctx, pipe, []bulkdb.RecordFailuresParams{f})
		}
	}
	if _, err := s.ledger.PostBulkChunk(ctx, c); err != nil {
		if errors.Is(err, errStale) {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("bulk credit %d, members from %d: %w", row.BulkCreditID, r.from, err)
	}
	return credited, true, nil
}

// lockBulkCredit queues a chunk's lock on its bulk credit's row and returns how
// to read its status: shared, so that chunks run at once (a pause or cancel
// waits for those in flight), or, funded, exclusive: such a chunk may end it.
func (s *Service) lockBulkCredit(ctx context.Context, pipe *database.Pipeline, id int64, exclusive bool) func() (string, error) {
	var status string
	var err error
	if exclusive {
		lock := s.q.LockBulkCredit(ctx, pipe, []int64{id})
		return func() (string, error) {
			lock.QueryRow(func(_ int, st string, e error) { status, err = st, e })
			return status, err
		}
	}
	lock := s.q.ShareBulkCredit(ctx, pipe, []int64{id})
	return func() (string, error) {
		lock.QueryRow(func(_ int, st string, e error) { status, err = st, e })
		return status, err
	}
}

// progress is what a chunk did.
type progress struct {
	done, points int64
	failures     []Failure
	finish       string
}

// progressOf is the rule of a chunk's progress: a member credited counts as done
// (a replayed credit too: it was posted by a run whose chunk row did not commit,
// which cannot happen but costs nothing to count right), another as failed with
// its reason; the first member a campaign's budget refuses as exhausted ends the
// bulk credit there (BUDGET_EXHAUSTED: the budget is spent exactly, and the
// members after it are not failures, just not reached).
func progressOf(members []bulkdb.ChunkMembersRow, results []ledger.BulkResult) progress {
	var p progress
	for i, r := range results {
		switch {
		case r.Reason == campaigns.RefusedBudgetExhausted:
			p.finish = StatusBudgetExhausted
			return p
		case r.Failed():
			p.failures = append(p.failures, Failure{Seq: members[i].Seq, MemberID: r.MemberID, Reason: r.Reason, Message: r.Message})
		default:
			p.done++
			for _, posting := range r.Entry.Postings {
				if posting.Account == ledger.AccountAvailable {
					p.points += posting.Amount
				}
			}
		}
	}
	return p
}

// finish ends a running bulk credit all of whose members its chunks cover
// (SUCCEEDED); moved tells whether it did.
func (s *Service) finish(ctx context.Context, row bulkdb.BulkCredit) (bool, error) {
	_, err := s.q.FinishBulkCredit(ctx, s.pool, bulkdb.FinishBulkCreditParams{BulkCreditID: row.BulkCreditID, Now: s.clock.Now()})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
