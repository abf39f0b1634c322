package ledger

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
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
}

// Verify proves the books on one consistent snapshot: all postings sum to zero,
// every entry balances, every cached balance (member and system) equals the sum of
// its postings, running balances chain, held balances match active holds, pending
// balances match unreleased earnings, open lots hold the available balance and
// follow from their moves, each day of the qualifying metric sums its moves, each
// campaign's spent points match what its account paid out, and no balance is negative but a debt left by a refund.
func (s *Service) Verify(ctx context.Context) (Verification, error) {
	var v Verification
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		v = Verification{Time: s.clock.Now()}
		counts, err := s.q.VerifyCounts(ctx, tx)
		if err != nil {
			return fmt.Errorf("count: %w", err)
		}
		v.EntriesChecked = counts.Entries
		v.AccountsChecked = counts.Members*3 + counts.SystemAccounts
		v.PostingsSum = counts.PostingsSum
		if counts.PostingsSum != 0 {
			v.add(Discrepancy{Kind: DiscrepancyPostingsSum, Expected: 0, Actual: counts.PostingsSum, Detail: "the sum of all postings is not zero"})
		}

		unbalanced, err := s.q.VerifyUnbalancedEntries(ctx, tx)
		if err != nil {
			return fmt.Errorf("unbalanced entries: %w", err)
		}
		for _, r := range unbalanced {
			v.add(Discrepancy{Kind: DiscrepancyUnbalancedEntry, EntryID: r.EntryID, MemberID: r.MemberID, Detail: "postings do not sum to zero"})
		}

		members, err := s.q.VerifyMemberBalances(ctx, tx)
		if err != nil {
			return fmt.Errorf("member balances: %w", err)
		}
		for _, r := range members {
			for _, c := range []struct {
				account        string
				cached, posted int64
			}{{AccountAvailable, r.CachedAvailable, r.PostedAvailable}, {AccountPending, r.CachedPending, r.PostedPending}, {AccountHeld, r.CachedHeld, r.PostedHeld}} {
				if c.cached != c.posted {
					v.add(Discrepancy{Kind: DiscrepancyBalanceMismatch, Account: c.account, MemberID: r.MemberID,
						Expected: c.posted, Actual: c.cached, Detail: "cached balance differs from the sum of postings"})
				}
			}
		}

		system, err := s.q.VerifySystemBalances(ctx, tx)
		if err != nil {
			return fmt.Errorf("system balances: %w", err)
		}
		for _, r := range system {
			v.add(Discrepancy{Kind: DiscrepancyBalanceMismatch, Account: r.Account, Expected: r.Posted, Actual: r.Cached,
				Detail: "system balance differs from the sum of postings"})
		}

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

		moves, err := s.q.VerifyLotMoves(ctx, tx)
		if err != nil {
			return fmt.Errorf("lot moves: %w", err)
		}
		for _, r := range moves {
			v.add(Discrepancy{Kind: DiscrepancyLotMoves, MemberID: r.MemberID, Expected: r.Expected, Actual: r.Remaining,
				Detail: "lot " + strconv.FormatInt(r.LotID, 10) + "'s remaining points differ from its points plus its moves"})
		}

		metric, err := s.q.VerifyTierMetric(ctx, tx)
		if err != nil {
			return fmt.Errorf("tier metric: %w", err)
		}
		for _, r := range metric {
			detail := "the qualifying metric of " + r.Day.Format(time.DateOnly) + " differs from its moves"
			if r.CachedPoints != r.MovedPoints {
				v.add(Discrepancy{Kind: DiscrepancyTierMetric, MemberID: r.MemberID, Expected: r.MovedPoints, Actual: r.CachedPoints, Detail: detail + " (points)"})
			}
			if r.CachedSpend != r.MovedSpend {
				v.add(Discrepancy{Kind: DiscrepancyTierMetric, MemberID: r.MemberID, Expected: r.MovedSpend, Actual: r.CachedSpend, Detail: detail + " (spend)"})
			}
		}

		budgets, err := s.q.VerifyCampaignBudgets(ctx, tx)
		if err != nil {
			return fmt.Errorf("campaign budgets: %w", err)
		}
		for _, r := range budgets {
			v.add(Discrepancy{Kind: DiscrepancyCampaignBudget, Account: CampaignAccount(r.CampaignID), Expected: r.PaidPoints,
				Actual: r.SpentPoints, Detail: "the campaign's spent points differ from what its ledger account paid out"})
		}

		running, err := s.q.VerifyRunningBalances(ctx, tx)
		if err != nil {
			return fmt.Errorf("running balances: %w", err)
		}
		for _, r := range running {
			v.add(Discrepancy{Kind: DiscrepancyRunningBalance, MemberID: r.MemberID, EntryID: r.EntryID,
				Expected: r.ExpectedAvailable, Actual: r.AvailableAfter, Detail: "running balance does not follow from the previous entry"})
		}
		return nil
	})
	if err != nil {
		return Verification{}, fmt.Errorf("verify ledger: %w", err)
	}
	v.OK = len(v.Discrepancies) == 0
	return v, nil
}

func (v *Verification) add(d Discrepancy) { v.Discrepancies = append(v.Discrepancies, d) }
