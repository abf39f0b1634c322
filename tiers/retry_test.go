package tiers_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/fakeclock"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

// The downgrade job's transaction, killed by PostgreSQL in a real deadlock, is run
// again by the tiers' runner: the evaluation lands once and the retry is counted
// under component="tiers".
func TestEvaluationKilledByADeadlockIsRunAgain(t *testing.T) {
	pool := dbtest.NewPool(t)
	clock := fakeclock.At(time.Now())
	ts := tiers.NewService(pool, tiers.WithClock(clock))
	svc := ledger.NewService(pool, ts, ledger.WithClock(clock))
	prog, err := svc.Program(ctx)
	if err != nil {
		t.Fatal(err)
	}
	prog.ReturnWindowDays = 0
	if _, err := svc.UpdateProgram(ctx, actor, prog); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Enroll(ctx, ledger.EnrollMember{MemberID: "m"}); err != nil {
		t.Fatal(err)
	}
	order(t, svc, "m", "big", 500_000) // gold for a period
	clock.Advance(365 * day)           // the period is over: the member is due
	retries := database.TxRetries("tiers", "40P01")
	before := testutil.ToFloat64(retries)

	// Another transaction holds the member's tier row, which the evaluation writes
	// after taking the member lock (the balance row)...
	other, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(ctx) //nolint:errcheck
	// Only the evaluation's backend may find the cycle: PostgreSQL kills the
	// backend whose deadlock check runs first, and on a loaded machine the other's
	// could run first too.
	if _, err := other.Exec(ctx, "SET LOCAL deadlock_timeout = '60s'"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(ctx, "SELECT 1 FROM member_tiers WHERE member_id = 'm' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := ts.EvaluateDue(ctx, 100)
		done <- err
	}()
	waitForALockWait(t, pool)
	// ...and then wants the member lock: a cycle, which the evaluation's deadlock
	// check finds, and PostgreSQL kills the evaluation.
	if _, err := other.Exec(ctx, "SELECT 1 FROM member_balances WHERE member_id = 'm' FOR UPDATE"); err != nil {
		t.Fatalf("the other transaction was the one killed: %v", err)
	}
	if err := other.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	if err := <-done; err != nil {
		t.Fatalf("EvaluateDue after a deadlock: %v", err)
	}
	if got := testutil.ToFloat64(retries) - before; got != 1 {
		t.Errorf("tiers deadlock retries counted = %v, want 1", got)
	}
	if h := history(t, ts, "m"); len(h) != 2 || h[0].Reason != tiers.ReasonGraceStarted {
		t.Fatalf("history %+v, want the upgrade then one grace start", h)
	}
}

// waitForALockWait returns once a backend of the test's database waits for a lock.
func waitForALockWait(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var waiting int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			return
		}
	}
	t.Fatal("the evaluation never waited for the tier row")
}
