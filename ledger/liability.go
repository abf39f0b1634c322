package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/internal/database"
)

// Liability is what the program owes its members in points, and where the points
// it issued went.
type Liability struct {
	// TimeZone is the program's time zone, in which expiry months fall.
	TimeZone string
	// Outstanding totals over all members. Available counts balances above zero;
	// Debt (zero or negative) sums balances left below zero by refund claw-backs.
	Available int64
	Pending   int64
	Held      int64
	Debt      int64
	// Outstanding is Available + Pending + Held + Debt: the sum of every member
	// account, which the system accounts mirror.
	Outstanding   int64
	MembersInDebt int64
	// ByExpiryMonth splits available points (open lots) and pending points (the
	// lots they open when released) by the month they expire in: the last month in
	// which they can be used (points expiring at 00:00 on 1 January 2028 are in
	// "2027-12"). Held points have left their lots and are not in it.
	ByExpiryMonth []MonthLiability
	// SystemAccounts are the balances of the program's accounts: issued (negative:
	// what was issued), redeemed, breakage, goodwill by reason.
	SystemAccounts []SystemBalance
	// Issued, Redeemed, Expired and Goodwill summarize the system accounts as
	// positive amounts; Goodwill sums every reason.
	Issued, Redeemed, Expired, Goodwill int64
	// Consistent: the member accounts and the system accounts sum to zero, and
	// the months add up to the available and pending totals.
	Consistent bool
	Time       time.Time
}

// MonthLiability is the points expiring in one month ("2027-12": usable until the
// end of December 2027).
type MonthLiability struct {
	Month     string
	Available int64
	Pending   int64
}

// Liability reports outstanding points by expiry month and the system accounts,
// on one consistent snapshot.
func (s *Service) Liability(ctx context.Context) (Liability, error) {
	var l Liability
	err := pgx.BeginTxFunc(ctx, database.ReadPool(ctx, s.pool), pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		l = Liability{Time: s.clock.Now()}
		prog, err := s.q.CurrentProgram(ctx, tx)
		if err != nil {
			return fmt.Errorf("program settings: %w", err)
		}
		l.TimeZone = prog.TimeZone
		totals, err := s.q.LiabilityTotals(ctx, tx)
		if err != nil {
			return fmt.Errorf("totals: %w", err)
		}
		l.Available, l.Pending, l.Held, l.Debt, l.MembersInDebt = totals.Available, totals.Pending, totals.Held, totals.Debt, totals.MembersInDebt
		l.Outstanding = l.Available + l.Pending + l.Held + l.Debt
		months, err := s.q.LiabilityByExpiryMonth(ctx, tx, prog.TimeZone)
		if err != nil {
			return fmt.Errorf("by expiry month: %w", err)
		}
		var monthsAvailable, monthsPending int64
		for _, m := range months {
			l.ByExpiryMonth = append(l.ByExpiryMonth, MonthLiability{Month: m.Month, Available: m.Available, Pending: m.Pending})
			monthsAvailable += m.Available
			monthsPending += m.Pending
		}
		system, err := s.q.SystemBalances(ctx, tx)
		if err != nil {
			return fmt.Errorf("system balances: %w", err)
		}
		var systemSum int64
		for _, r := range system {
			l.SystemAccounts = append(l.SystemAccounts, SystemBalance{Account: r.Account, Balance: r.Balance})
			systemSum += r.Balance
			switch {
			case r.Account == AccountIssued:
				l.Issued = -r.Balance
			case r.Account == AccountRedeemed:
				l.Redeemed = r.Balance
			case r.Account == AccountBreakage:
				l.Expired = r.Balance
			case strings.HasPrefix(r.Account, GoodwillAccount("")):
				l.Goodwill -= r.Balance
			}
		}
		l.Consistent = l.Outstanding+systemSum == 0 && monthsAvailable == l.Available && monthsPending == l.Pending
		return nil
	})
	if err != nil {
		return Liability{}, fmt.Errorf("liability report: %w", err)
	}
	return l, nil
}
