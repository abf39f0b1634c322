package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/ledger"
)

// Points earned on an order stay pending through the return window, are released to
// available once by racing release jobs, and only then can the earning be reversed.
func TestOrderPointsStayPendingThroughTheReturnWindow(t *testing.T) {
	svc, clock := newLedger(t, "m")
	ctx := context.Background()
	var earnings []ledger.Entry
	for i := 0; i < 30; i++ {
		res, err := svc.Earn(ctx, actor, ledger.Earn{MemberID: "m", RequestID: fmt.Sprintf("o%d", i), OrderID: fmt.Sprintf("order-%d", i), SpendMinor: 1000, Currency: "CNY"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Entry.Delta(ledger.AccountPending) != 10 || res.Entry.Delta(ledger.AccountAvailable) != 0 {
			t.Fatalf("order earning %+v, want 10 pending", res.Entry)
		}
		earnings = append(earnings, res.Entry)
	}
	if b := balanceOf(t, svc, "m"); b.Pending != 300 || b.Available != 0 {
		t.Fatalf("balance %+v, want 300 pending", b)
	}
	if _, err := svc.Redeem(ctx, actor, ledger.Redeem{MemberID: "m", RequestID: "r", Points: 1}); !errors.Is(err, ledger.ErrInsufficientPoints) {
		t.Fatalf("redeeming pending points: %v", err)
	}
	if _, err := svc.Reverse(ctx, actor, ledger.Reverse{EntryID: earnings[0].ID, RequestID: "rev", Reason: "x"}); !errors.Is(err, ledger.ErrNotReversible) {
		t.Fatalf("reversing a pending earning: %v", err)
	}
	if n, err := svc.ReleasePending(ctx, 100); err != nil || n != 0 {
		t.Fatalf("released %d (%v) before the window is over", n, err)
	}
	mustVerify(t, svc)

	clock.Advance(7 * 24 * time.Hour)
	var released atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := svc.ReleasePending(ctx, 4)
				if err != nil {
					t.Errorf("release: %v", err)
					return
				}
				released.Add(int64(n))
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	if released.Load() != 30 {
		t.Fatalf("released %d earnings, want 30", released.Load())
	}
	if b := balanceOf(t, svc, "m"); b.Pending != 0 || b.Available != 300 {
		t.Fatalf("balance %+v after the window, want 300 available", b)
	}
	rev, err := svc.Reverse(ctx, actor, ledger.Reverse{EntryID: earnings[0].ID, RequestID: "rev2", Reason: "x"})
	if err != nil || rev.Delta(ledger.AccountAvailable) != -10 || rev.Delta(ledger.AccountPending) != 0 {
		t.Fatalf("reversing a released earning: %+v %v", rev, err)
	}
	mustVerify(t, svc)
}

func TestVerifyFindsPendingWithoutAnEarning(t *testing.T) {
	svc, pool := rawPool(t)
	if _, err := pool.Exec(context.Background(), `UPDATE member_balances SET pending = 5, available = available - 5 WHERE member_id = 'a'`); err != nil {
		t.Fatal(err)
	}
	v, err := svc.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range v.Discrepancies {
		found = found || d.Kind == ledger.DiscrepancyPendingMismatch
	}
	if v.OK || !found {
		t.Fatalf("verify missed pending points without an earning: %+v", v)
	}
}
