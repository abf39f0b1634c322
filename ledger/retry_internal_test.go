package ledger

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/tiers"
)

func TestRetryRerunsDeadlocksAndSerializationFailuresBoundedAndCounted(t *testing.T) {
	s := NewService(nil, tiers.NewService(nil))
	before := testutil.ToFloat64(database.TxRetries("ledger", "40P01"))
	calls := 0
	err := s.retry(context.Background(), func() error {
		calls++
		if calls < 3 {
			return &pgconn.PgError{Code: "40P01"}
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err %v after %d calls, want success on the third", err, calls)
	}
	if got := testutil.ToFloat64(database.TxRetries("ledger", "40P01")) - before; got != 2 {
		t.Fatalf("retries counted %v, want 2", got)
	}

	calls = 0
	err = s.retry(context.Background(), func() error { calls++; return &pgconn.PgError{Code: "40001"} })
	if calls != database.MaxAttempts || err == nil {
		t.Fatalf("%d calls, err %v: want %d bounded attempts and the error", calls, err, database.MaxAttempts)
	}

	calls = 0
	other := errors.New("not retryable")
	if err := s.retry(context.Background(), func() error { calls++; return other }); !errors.Is(err, other) || calls != 1 {
		t.Fatalf("a non-retryable error was retried: %d calls", calls)
	}
}
