package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// Discrepancy kinds.
const (
	DiscrepancyUnbalancedEntry = "UNBALANCED_ENTRY"
	DiscrepancyBalanceMismatch = "BALANCE_MISMATCH"
	DiscrepancyNegativeBalance = "NEGATIVE_BALANCE"
	DiscrepancyHeldMismatch    = "HELD_MISMATCH"
	DiscrepancyPendingMismatch = "PENDING_MISMATCH"
	DiscrepancyRunningBalance  = "RUNNING_BALANCE_MISMATCH"
	DiscrepancyPostingsSum     = "POSTINGS_DO_NOT_SUM_TO_ZERO"
	DiscrepancyLotsMismatch    = "LOTS_MISMATCH"
	DiscrepancyLotMoves        = "LOT_MOVES_MISMATCH"
	DiscrepancyTierMetric      = "TIER_METRIC_MISMATCH"
	DiscrepancyCampaignBudget  = "CAMPAIGN_BUDGET_MISMATCH"
	// An entry stamped before the member's previous entry: the readers that walk a
	// member's entries in time order would see them out of id order.
	DiscrepancyEntryTimeOrder = "ENTRY_OUT_OF_TIME_ORDER"
)

// Discrepancy is one thing Verify found wrong.
type Discrepancy struct {
	Kind     string
	Account  string
	MemberID string
	EntryID  int64
	Expected int64
	Actual   int64
	Detail   string
}

// Verification is the outcome of Verify.
type Verification struct {
	OK              bool
	EntriesChecked  int64
	AccountsChecked int64
	PostingsSum     int64
	Discrepancies   []Discrepancy
	Time            time.Time
	// Full: every entry was read (a full audit); otherwise only the entries after
	// After, the position of the last checkpoint. Upto is the position this
	// verify's checkpoint is at (saved when the books were right; After when a
	// long transaction kept it from being taken).
	Full        bool
	After, Upto int64
}

// Verify is a full audit: it proves the books on one consistent snapshot: all
// postings sum to zero, every entry balances, every cached balance (member and
// system) equals the sum of its postings, running balances chain, held balances
// match active holds, pending balances match unreleased earnings, open lots hold
// the available balance and follow from their moves, each day of the qualifying
// metric sums its moves, each campaign's spent points match what its account paid
// out, and no balance is negative but a debt left by a refund. When the books are
// right it saves a checkpoint for VerifyIncremental.
func (s *Service) Verify(ctx context.Context) (Verification, error) { return s.verify(ctx, true) }

// VerifyIncremental proves the same as Verify, reading only what came after the
// last checkpoint (docs/LEDGER.md, "Incremental verify"): the entries since (they
// balance, their running balances follow from the member's previous entry), the
// postings' sums since added to the checkpoint's, every member's cached balances
// against their last entry's running balances (which the chain makes the sum of
// their postings), the lots and metric days that moved since, and the per-member
// checks that read no history (holds, pending, negative balances). Entries are
// immutable, so what a checkpoint proved of them stays proved; tampering with
// them behind the database's back is for Verify to find. Without a checkpoint it
// is Verify.
func (s *Service) VerifyIncremental(ctx context.Context) (Verification, error) {
	return s.verify(ctx, false)
}

// verifyWaitStep is how often verify looks whether the writers that may hold ids
// below its high-water mark have ended.
const verifyWaitStep = 5 * time.Millisecond

// verifyWaitMax is how long verify waits for them before it goes on without
// saving a checkpoint.
const verifyWaitMax = 2 * time.Second

func (s *Service) verify(ctx context.Context, full bool) (Verification, error) {
	// The high-water mark: ids up to it are taken. The write path takes them
	// under its member locks, so each writer that holds one already has a
	// transaction id, lower than one taken after the mark; once every
	// transaction below that one has ended, every entry up to the mark is
	// committed (and in the snapshot verify reads) or never will be. The
	// checkpoint is at the mark, never past an entry still to commit; entries
	// committed above it are checked now and again next time. Any transaction
	// of the cluster counts (one cannot tell the writers): when one lasts longer
	// than verifyWaitMax, verify goes on without saving a checkpoint (what it
	// finds is right for its snapshot; the next one starts from the same place).
	hw, err := s.q.VerifyHighWater(ctx, s.pool)
	if err != nil {
		return Verification{}, fmt.Errorf("verify ledger: high-water mark: %w", err)
	}
	xid, err := s.q.VerifyWriters(ctx, s.pool)
	if err != nil {
		return Verification{}, fmt.Errorf("verify ledger: writers: %w", err)
	}
	settled := false
	for waitUntil := time.Now().Add(verifyWaitMax); ; {
		settled, err = s.q.VerifyWritersEnded(ctx, s.pool, xid)
		if err != nil {
			return Verification{}, fmt.Errorf("verify ledger: writers: %w", err)
		}
		if settled || time.Now().After(waitUntil) {
			break
		}
		select {
		case <-ctx.Done():
			return Verification{}, fmt.Errorf("verify ledger: %w", ctx.Err())
		case <-time.After(verifyWaitStep):
		}
	}
	var cp ledgerdb.VerifyCheckpoint
	base := map[string]int64{}
	if !full {
		cp, err = s.q.LastVerifyCheckpoint(ctx, s.pool)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			full = true
		case err != nil:
			return Verification{}, fmt.Errorf("verify ledger: checkpoint: %w", err)
		default:
			if err := json.Unmarshal(cp.SystemSums, &base); err != nil {
				return Verification{}, fmt.Errorf("verify ledger: checkpoint %d: %w", cp.CheckpointID, err)
			}
		}
	}
	if full {
		cp = ledgerdb.VerifyCheckpoint{}
	}
	var next ledgerdb.SaveVerifyCheckpointParams
	var v Verification
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		v = Verification{Time: s.clock.Now(), Full: full, After: cp.EntryID, Upto: max(hw.EntryID, cp.EntryID)}
		var err error
		if next, err = s.verifyPostings(ctx, tx, &v, cp, base, hw); err != nil {
			return err
		}
		if full {
			return s.verifyFull(ctx, tx, &v)
		}
		return s.verifySince(ctx, tx, &v, cp)
	})
	if err != nil {
		return Verification{}, fmt.Errorf("verify ledger: %w", err)
	}
	v.OK = len(v.Discrepancies) == 0
	if !settled {
		v.Upto = cp.EntryID
	}
	if v.OK && settled {
		next.FullAudit = full
		if err := s.q.SaveVerifyCheckpoint(ctx, s.pool, next); err != nil {
			return Verification{}, fmt.Errorf("verify ledger: save checkpoint: %w", err)
		}
	}
	return v, nil
}

// verifyPostings checks what the sums of postings prove, from the checkpoint's
// sums (zero for a full audit) plus the postings since: all sum to zero, each
// system account's cached balance is its sum, each campaign's spent points are
// what its account paid out. It returns the checkpoint at the high-water mark.
func (s *Service) verifyPostings(ctx context.Context, tx pgx.Tx, v *Verification, cp ledgerdb.VerifyCheckpoint,
	base map[string]int64, hw ledgerdb.VerifyHighWaterRow) (ledgerdb.SaveVerifyCheckpointParams, error) {
	var next ledgerdb.SaveVerifyCheckpointParams
	upto := max(hw.EntryID, cp.EntryID)
	counts, err := s.q.VerifyCounts(ctx, tx)
	if err != nil {
		return next, fmt.Errorf("count: %w", err)
	}
	v.AccountsChecked = counts.Members*3 + counts.SystemAccounts
	entries, err := s.q.VerifyEntriesSince(ctx, tx, ledgerdb.VerifyEntriesSinceParams{After: cp.EntryID, Upto: upto})
	if err != nil {
		return next, fmt.Errorf("count entries: %w", err)
	}
	v.EntriesChecked = entries.Total
	sums, err := s.q.VerifyPostingsSince(ctx, tx, ledgerdb.VerifyPostingsSinceParams{After: cp.EntryID, Upto: upto})
	if err != nil {
		return next, fmt.Errorf("postings: %w", err)
	}
	posted := maps.Clone(base) // per system account, in the snapshot
	kept := maps.Clone(base)   // per system account, up to the mark
	total, totalUpto := cp.PostingsSum, cp.PostingsSum
	for _, r := range sums {
		total += r.SumAll
		totalUpto += r.SumUpto
		if r.Account != "" {
			posted[r.Account] += r.SumAll
			kept[r.Account] += r.SumUpto
		}
	}
	v.PostingsSum = total
	if total != 0 {
		v.add(Discrepancy{Kind: DiscrepancyPostingsSum, Expected: 0, Actual: total, Detail: "the sum of all postings is not zero"})
	}

	cachedRows, err := s.q.VerifyCachedSystemBalances(ctx, tx)
	if err != nil {
		return next, fmt.Errorf("system balances: %w", err)
	}
	cached := map[string]int64{}
	for _, r := range cachedRows {
		cached[r.Account] = r.Total
	}
	for _, account := range unionKeys(posted, cached) {
		if cached[account] != posted[account] {
			v.add(Discrepancy{Kind: DiscrepancyBalanceMismatch, Account: account, Expected: posted[account], Actual: cached[account],
				Detail: "system balance differs from the sum of postings"})
		}
	}

	spentRows, err := s.q.VerifyCampaignSpent(ctx, tx)
	if err != nil {
		return next, fmt.Errorf("campaign budgets: %w", err)
	}
	spent, paid := map[string]int64{}, map[string]int64{}
	for _, r := range spentRows {
		spent[r.CampaignID] = r.Points
	}
	for account, sum := range posted {
		if id, ok := strings.CutPrefix(account, campaignAccountPrefix); ok {
			paid[id] = -sum
		}
	}
	for _, id := range unionKeys(spent, paid) {
		if spent[id] != paid[id] {
			v.add(Discrepancy{Kind: DiscrepancyCampaignBudget, Account: CampaignAccount(id), Expected: paid[id],
				Actual: spent[id], Detail: "the campaign's spent points differ from what its ledger account paid out"})
		}
	}

	keptJSON, err := json.Marshal(kept)
	if err != nil {
		return next, err
	}
	return ledgerdb.SaveVerifyCheckpointParams{EntryID: upto, LotID: max(hw.LotID, cp.LotID), MoveID: max(hw.MoveID, cp.MoveID),
		Entries: cp.Entries + entries.Upto, PostingsSum: totalUpto, SystemSums: keptJSON}, nil
}

// unionKeys is the keys of a and b, sorted.
func unionKeys(a, b map[string]int64) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// verifyFull is the rest of the full audit: every entry, lot and metric move.
func (s *Service) verifyFull(ctx context.Context, tx pgx.Tx, v *Verification) error {
	unbalanced, err := s.q.VerifyUnbalancedEntries(ctx, tx)
	if err != nil {
		return fmt.Errorf("unbalanced entries: %w", err)
	}
	for _, r := range unbalanced {
		v.addUnbalanced(r.EntryID, r.MemberID)
	}

	members, err := s.q.VerifyMemberBalances(ctx, tx)
	if err != nil {
		return fmt.Errorf("member balances: %w", err)
	}
	for _, r := range members {
		v.addMemberBalance(r.MemberID, r.CachedAvailable, r.PostedAvailable, r.CachedPending, r.PostedPending, r.CachedHeld, r.PostedHeld)
	}
	if err := s.verifyMemberState(ctx, tx, v); err != nil {
		return err
	}

	moves, err := s.q.VerifyLotMoves(ctx, tx)
	if err != nil {
		return fmt.Errorf("lot moves: %w", err)
	}
	for _, r := range moves {
		v.addLotMoves(r.LotID, r.MemberID, r.Expected, r.Remaining)
	}

	metric, err := s.q.VerifyTierMetric(ctx, tx)
	if err != nil {
		return fmt.Errorf("tier metric: %w", err)
	}
	for _, r := range metric {
		v.addTierMetric(r.MemberID, r.Day, r.CachedPoints, r.MovedPoints, r.CachedSpend, r.MovedSpend)
	}

	running, err := s.q.VerifyRunningBalances(ctx, tx)
	if err != nil {
		return fmt.Errorf("running balances: %w", err)
	}
	for _, r := range running {
		v.addRunning(r.EntryID, r.MemberID, r.ExpectedAvailable, r.AvailableAfter, r.RunningMismatch, r.OutOfOrder)
	}
	return nil
}

// verifySince is the rest of an incremental verify: what came after the
// checkpoint, and the per-member rows.
func (s *Service) verifySince(ctx context.Context, tx pgx.Tx, v *Verification, cp ledgerdb.VerifyCheckpoint) error {
	unbalanced, err := s.q.VerifyUnbalancedEntriesSince(ctx, tx, cp.EntryID)
	if err != nil {
		return fmt.Errorf("unbalanced entries: %w", err)
	}
	for _, r := range unbalanced {
		v.addUnbalanced(r.EntryID, r.MemberID)
	}

	running, err := s.q.VerifyRunningBalancesSince(ctx, tx, cp.EntryID)
	if err != nil {
		return fmt.Errorf("running balances: %w", err)
	}
	for _, r := range running {
		v.addRunning(r.EntryID, r.MemberID, r.ExpectedAvailable, r.AvailableAfter, r.RunningMismatch, r.OutOfOrder)
	}

	members, err := s.q.VerifyMemberBalancesByLastEntry(ctx, tx)
	if err != nil {
		return fmt.Errorf("member balances: %w", err)
	}
	for _, r := range members {
		v.addMemberBalance(r.MemberID, r.CachedAvailable, r.PostedAvailable, r.CachedPending, r.PostedPending, r.CachedHeld, r.PostedHeld)
	}
	orphans, err := s.q.VerifyEntriesWithoutMember(ctx, tx, cp.EntryID)
	if err != nil {
		return fmt.Errorf("entries without a member: %w", err)
	}
	for _, m := range orphans {
		v.add(Discrepancy{Kind: DiscrepancyBalanceMismatch, MemberID: m, Detail: "the member of entries has no cached balance"})
	}
	if err := s.verifyMemberState(ctx, tx, v); err != nil {
		return err
	}

	moves, err := s.q.VerifyLotMovesSince(ctx, tx, ledgerdb.VerifyLotMovesSinceParams{AfterLot: cp.LotID, AfterEntry: cp.EntryID})
	if err != nil {
		return fmt.Errorf("lot moves: %w", err)
	}
	for _, r := range moves {
		v.addLotMoves(r.LotID, r.MemberID, r.Expected, r.Remaining)
	}

	metric, err := s.q.VerifyTierMetricSince(ctx, tx, cp.MoveID)
	if err != nil {
		return fmt.Errorf("tier metric: %w", err)
	}
	for _, r := range metric {
		v.addTierMetric(r.MemberID, r.Day, r.CachedPoints, r.MovedPoints, r.CachedSpend, r.MovedSpend)
	}
	return nil
}

// verifyMemberState is the checks of both kinds of verify that read the members'
// current rows, not their history: negative balances, held against active holds,
// pending against unreleased earnings, open lots against the available balance.
func (s *Service) verifyMemberState(ctx context.Context, tx pgx.Tx, v *Verification) error {
	negative, err := s.q.VerifyNegativeBalances(ctx, tx)
	if err != nil {
		return fmt.Errorf("negative balances: %w", err)
	}
	for _, r := range negative {
		v.add(Discrepancy{Kind: DiscrepancyNegativeBalance, MemberID: r.MemberID, Actual: r.Available,
			Detail: "available " + strconv.FormatInt(r.Available, 10) + ", pending " + strconv.FormatInt(r.Pending, 10) + ", held " + strconv.FormatInt(r.Held, 10)})
	}

	held, err := s.q.VerifyHeldMatchesHolds(ctx, tx)
	if err != nil {
		return fmt.Errorf("held balances: %w", err)
	}
	for _, r := range held {
		v.add(Discrepancy{Kind: DiscrepancyHeldMismatch, Account: AccountHeld, MemberID: r.MemberID,
			Expected: r.ActiveHoldPoints, Actual: r.Held, Detail: "held balance differs from the member's active holds"})
	}

	pending, err := s.q.VerifyPendingMatchesReleases(ctx, tx)
	if err != nil {
		return fmt.Errorf("pending balances: %w", err)
	}
	for _, r := range pending {
		v.add(Discrepancy{Kind: DiscrepancyPendingMismatch, Account: AccountPending, MemberID: r.MemberID,
			Expected: r.UnreleasedPoints, Actual: r.Pending, Detail: "pending balance differs from the member's unreleased earnings"})
	}

	lots, err := s.q.VerifyLotsMatchAvailable(ctx, tx)
	if err != nil {
		return fmt.Errorf("lots: %w", err)
	}
	for _, r := range lots {
		v.add(Discrepancy{Kind: DiscrepancyLotsMismatch, Account: AccountAvailable, MemberID: r.MemberID,
			Expected: max(r.Available, 0), Actual: r.LotPoints, Detail: "the member's open lots do not hold the available balance"})
	}
	return nil
}

func (v *Verification) addUnbalanced(entryID int64, memberID string) {
	v.add(Discrepancy{Kind: DiscrepancyUnbalancedEntry, EntryID: entryID, MemberID: memberID, Detail: "postings do not sum to zero"})
}

// addRunning reports an entry of the running-balance walk: its running balance
// does not follow from the previous entry's, or it is out of the member's time
// order, or both.
func (v *Verification) addRunning(entryID int64, memberID string, expected, actual int64, mismatch, outOfOrder bool) {
	if mismatch {
		v.add(Discrepancy{Kind: DiscrepancyRunningBalance, MemberID: memberID, EntryID: entryID,
			Expected: expected, Actual: actual, Detail: "running balance does not follow from the previous entry"})
	}
	if outOfOrder {
		v.add(Discrepancy{Kind: DiscrepancyEntryTimeOrder, MemberID: memberID, EntryID: entryID,
			Detail: "the entry's time is out of the member's entry id order"})
	}
}

func (v *Verification) addMemberBalance(memberID string, cachedAvailable, postedAvailable, cachedPending, postedPending, cachedHeld, postedHeld int64) {
	for _, c := range []struct {
		account        string
		cached, posted int64
	}{{AccountAvailable, cachedAvailable, postedAvailable}, {AccountPending, cachedPending, postedPending}, {AccountHeld, cachedHeld, postedHeld}} {
		if c.cached != c.posted {
			v.add(Discrepancy{Kind: DiscrepancyBalanceMismatch, Account: c.account, MemberID: memberID,
				Expected: c.posted, Actual: c.cached, Detail: "cached balance differs from the sum of postings"})
		}
	}
}

func (v *Verification) addLotMoves(lotID int64, memberID string, expected, remaining int64) {
	v.add(Discrepancy{Kind: DiscrepancyLotMoves, MemberID: memberID, Expected: expected, Actual: remaining,
		Detail: "lot " + strconv.FormatInt(lotID, 10) + "'s remaining points differ from its points plus its moves"})
}

func (v *Verification) addTierMetric(memberID string, day time.Time, cachedPoints, movedPoints, cachedSpend, movedSpend int64) {
	detail := "the qualifying metric of " + day.Format(time.DateOnly) + " differs from its moves"
	if cachedPoints != movedPoints {
		v.add(Discrepancy{Kind: DiscrepancyTierMetric, MemberID: memberID, Expected: movedPoints, Actual: cachedPoints, Detail: detail + " (points)"})
	}
	if cachedSpend != movedSpend {
		v.add(Discrepancy{Kind: DiscrepancyTierMetric, MemberID: memberID, Expected: movedSpend, Actual: cachedSpend, Detail: detail + " (spend)"})
	}
}

func (v *Verification) add(d Discrepancy) { v.Discrepancies = append(v.Discrepancies, d) }
