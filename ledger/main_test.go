package ledger_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/fakeclock"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

var actor = ledger.Actor{KeyID: "key_test"}

// newLedger is a ledger on a fresh database with the given members enrolled.
func newLedger(t testing.TB, members ...string) (*ledger.Service, *fakeclock.Clock) {
	t.Helper()
	clock := fakeclock.At(time.Now())
	svc, _ := newLedgerOnPool(t, clock, members...)
	return svc, clock
}

// newLedgerOnPool is newLedger on the given clock, with its pool.
func newLedgerOnPool(t testing.TB, clock *fakeclock.Clock, members ...string) (*ledger.Service, *pgxpool.Pool) {
	t.Helper()
	pool := dbtest.NewPool(t)
	svc := ledger.NewService(pool, tiers.NewService(pool, tiers.WithClock(clock)), ledger.WithClock(clock))
	for _, m := range members {
		if _, _, err := svc.Enroll(context.Background(), ledger.EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
	}
	return svc, pool
}

// mustVerify fails the test unless the books verify.
func mustVerify(t testing.TB, svc *ledger.Service) ledger.Verification {
	t.Helper()
	v, err := svc.Verify(context.Background())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !v.OK {
		t.Fatalf("books do not verify: %+v", v.Discrepancies)
	}
	return v
}

func mustEarn(t testing.TB, svc *ledger.Service, member, requestID string, points int64) ledger.Entry {
	t.Helper()
	res, err := svc.Earn(context.Background(), actor, ledger.Earn{MemberID: member, RequestID: requestID, Points: points})
	if err != nil {
		t.Fatalf("earn %d for %s: %v", points, member, err)
	}
	return res.Entry
}

func balanceOf(t testing.TB, svc *ledger.Service, member string) ledger.Balance {
	t.Helper()
	b, err := svc.Balance(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
