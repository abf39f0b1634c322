package database_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// cells is a table of two counters for the tests to collide on.
func cells(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := dbtest.NewPool(t)
	_, err := pool.Exec(context.Background(), `CREATE TABLE cells (id int PRIMARY KEY, v int NOT NULL);
		INSERT INTO cells VALUES (1, 0), (2, 0)`)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

func cell(t *testing.T, pool *pgxpool.Pool, id int) int {
	t.Helper()
	var v int
	if err := pool.QueryRow(context.Background(), "SELECT v FROM cells WHERE id = $1", id).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func bump(ctx context.Context, tx pgx.Tx, id int) error {
	_, err := tx.Exec(ctx, "UPDATE cells SET v = v + 1 WHERE id = $1", id)
	return err
}

// Two transactions lock the two rows in opposite orders: PostgreSQL kills one
// with a deadlock, the runner runs it again, and both effects land once.
func TestInTxRetriesARealDeadlock(t *testing.T) {
	pool := cells(t)
	ctx := context.Background()
	r := database.NewRunner("test-deadlock")
	before := testutil.ToFloat64(database.TxRetries("test-deadlock", "40P01"))

	var attempts atomic.Int32
	var bothLocked sync.WaitGroup
	bothLocked.Add(2)
	crossed := func(first, second int) func(pgx.Tx) error {
		var mine atomic.Int32
		return func(tx pgx.Tx) error {
			attempts.Add(1)
			if err := bump(ctx, tx, first); err != nil {
				return err
			}
			if mine.Add(1) == 1 { // only the first runs wait for each other
				bothLocked.Done()
				bothLocked.Wait()
			}
			return bump(ctx, tx, second)
		}
	}
	errs := make(chan error, 2)
	go func() { errs <- r.InTx(ctx, pool, crossed(1, 2)) }()
	go func() { errs <- r.InTx(ctx, pool, crossed(2, 1)) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("InTx: %v", err)
		}
	}

	// Usually one deadlock and one run again. On a loaded machine the victim's
	// second run can take the row back before the survivor's backend wakes up to
	// take it, and the two deadlock once more: each deadlock is one retry, and
	// each retry is one run more.
	retries := testutil.ToFloat64(database.TxRetries("test-deadlock", "40P01")) - before
	if retries < 1 {
		t.Errorf("deadlock retries counted = %v, want at least 1", retries)
	}
	if got := attempts.Load(); float64(got) != 2+retries {
		t.Errorf("attempts = %d, want %v (two transactions and one run more a deadlock)", got, 2+retries)
	}
	if a, b := cell(t, pool, 1), cell(t, pool, 2); a != 2 || b != 2 {
		t.Errorf("cells = %d, %d, want 2, 2: each transaction's effect exactly once", a, b)
	}
}

// A REPEATABLE READ transaction that updates a row another committed since its
// snapshot fails to serialize; run again, it sees the new row and succeeds.
func TestInTxRetriesARealSerializationFailure(t *testing.T) {
	pool := cells(t)
	ctx := context.Background()
	r := database.NewRunner("test-serialization")
	before := testutil.ToFloat64(database.TxRetries("test-serialization", "40001"))

	attempts := 0
	err := r.InTx(ctx, pool, func(tx pgx.Tx) error {
		attempts++
		if _, err := tx.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
			return err
		}
		var v int
		if err := tx.QueryRow(ctx, "SELECT v FROM cells WHERE id = 1").Scan(&v); err != nil {
			return err
		}
		if attempts == 1 { // someone else changes the row after our snapshot
			if _, err := pool.Exec(ctx, "UPDATE cells SET v = v + 10 WHERE id = 1"); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, "UPDATE cells SET v = $1 + 1 WHERE id = 1", v)
		return err
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if attempts != 2 {
		t.Errorf("attempts = %d, want 2", attempts)
	}
	if got := testutil.ToFloat64(database.TxRetries("test-serialization", "40001")) - before; got != 1 {
		t.Errorf("serialization retries counted = %v, want 1", got)
	}
	if v := cell(t, pool, 1); v != 11 {
		t.Errorf("cell = %d, want 11 (the retry read the other's update)", v)
	}
}

// A failure that running again cannot cure is returned at once, and the
// transaction's work is rolled back.
func TestInTxDoesNotRetryOtherErrors(t *testing.T) {
	pool := cells(t)
	ctx := context.Background()
	r := database.NewRunner("test-other")

	attempts := 0
	err := r.InTx(ctx, pool, func(tx pgx.Tx) error {
		attempts++
		if err := bump(ctx, tx, 2); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO cells VALUES (1, 0)")
		return err
	})
	if !database.IsUniqueViolation(err, "cells_pkey") {
		t.Fatalf("InTx = %v, want the unique violation", err)
	}
	if attempts != 1 {
		t.Errorf("attempts = %d, want 1", attempts)
	}
	if v := cell(t, pool, 2); v != 0 {
		t.Errorf("cell = %d, want 0: the failed transaction rolled back", v)
	}
	if got := testutil.ToFloat64(database.TxRetries("test-other", "23505")); got != 0 {
		t.Errorf("a unique violation was counted as a retry: %v", got)
	}
}

func TestRetry(t *testing.T) {
	deadlock := &pgconn.PgError{Code: "40P01"}
	serialization := &pgconn.PgError{Code: "40001"}
	tests := []struct {
		name         string
		errs         []error // what each run returns; the last one repeats
		wantAttempts int
		wantErr      error
		wantCounted  map[string]float64
	}{
		{"success", []error{nil}, 1, nil, nil},
		{"unique violation", []error{&pgconn.PgError{Code: "23505"}}, 1, &pgconn.PgError{Code: "23505"}, nil},
		{"a plain error", []error{pgx.ErrNoRows}, 1, pgx.ErrNoRows, nil},
		{"deadlock then success", []error{deadlock, nil}, 2, nil, map[string]float64{"40P01": 1}},
		{"mixed then success", []error{serialization, deadlock, serialization, nil}, 4, nil,
			map[string]float64{"40P01": 1, "40001": 2}},
		{"always a deadlock", []error{deadlock}, database.MaxAttempts, deadlock,
			map[string]float64{"40P01": database.MaxAttempts - 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			component := "test-retry-" + tt.name
			r := database.NewRunner(component)
			attempts := 0
			err := r.Retry(context.Background(), func() error {
				err := tt.errs[min(attempts, len(tt.errs)-1)]
				attempts++
				return err
			})
			if attempts != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d", attempts, tt.wantAttempts)
			}
			if !sameError(err, tt.wantErr) {
				t.Errorf("Retry = %v, want %v", err, tt.wantErr)
			}
			for _, code := range []string{"40P01", "40001", "23505"} {
				if got := testutil.ToFloat64(database.TxRetries(component, code)); got != tt.wantCounted[code] {
					t.Errorf("retries after %s = %v, want %v", code, got, tt.wantCounted[code])
				}
			}
		})
	}
}

func sameError(got, want error) bool {
	var g, w *pgconn.PgError
	if errors.As(want, &w) {
		return errors.As(got, &g) && g.Code == w.Code
	}
	return errors.Is(got, want) && (got == nil) == (want == nil)
}

// A cancelled call stops retrying: the runner does not wait out its attempts.
func TestRetryStopsWhenContextIsDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := database.NewRunner("test-cancel")
	attempts := 0
	err := r.Retry(ctx, func() error {
		attempts++
		cancel() // the client goes away while the work fails on a deadlock
		return &pgconn.PgError{Code: "40P01"}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Retry = %v, want context.Canceled", err)
	}
	if attempts != 1 {
		t.Errorf("attempts = %d, want 1", attempts)
	}
}

// A real transaction whose context is cancelled between attempts is not begun again.
func TestInTxStopsWhenContextIsDone(t *testing.T) {
	pool := cells(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := database.NewRunner("test-cancel-tx")
	attempts := 0
	err := r.InTx(ctx, pool, func(tx pgx.Tx) error {
		attempts++
		if err := bump(ctx, tx, 1); err != nil {
			return err
		}
		cancel()
		return &pgconn.PgError{Code: "40001"}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("InTx = %v, want context.Canceled", err)
	}
	if attempts != 1 {
		t.Errorf("attempts = %d, want 1", attempts)
	}
	if v := cell(t, pool, 1); v != 0 {
		t.Errorf("cell = %d, want 0: the cancelled transaction rolled back", v)
	}
}

// The zero Runner retries like any other and counts under component="unnamed".
func TestZeroRunnerRetriesAndCounts(t *testing.T) {
	before := testutil.ToFloat64(database.TxRetries("unnamed", "40P01"))
	var r database.Runner
	attempts := 0
	err := r.Retry(context.Background(), func() error {
		if attempts++; attempts == 1 {
			return &pgconn.PgError{Code: "40P01"}
		}
		return nil
	})
	if err != nil || attempts != 2 {
		t.Fatalf("Retry = %v after %d attempts, want nil after 2", err, attempts)
	}
	if got := testutil.ToFloat64(database.TxRetries("unnamed", "40P01")) - before; got != 1 {
		t.Errorf("counted %v, want 1", got)
	}
}
