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

// The jobs run as batches of the write path; these race them with each other, with
// refunds of the same orders, and with earnings and redemptions of the same members
// through the group commit, and then check the books.

// Racing release runs release each pending earning once, while refunds void or
// claw back the same orders and the members earn and redeem: whatever the
// interleaving, nothing stays pending, each earning has at most one release, and
// each member's available points are what the earnings, redemptions and refunds
// add up to.
func TestRacingReleasesAndRefundsReleaseEachEarningOnce(t *testing.T) {
	const members, orders = 6, 4
	svc, clock := newLedger(t)
	ctx := context.Background()
	member := func(i int) string { return fmt.Sprintf("m%d", i) }
	order := func(j int) string { return fmt.Sprintf("o%d", j) }
	for i := range members {
		if _, _, err := svc.Enroll(ctx, ledger.EnrollMember{MemberID: member(i)}); err != nil {
			t.Fatal(err)
		}
		mustEarn(t, svc, member(i), "welcome", 500)
		for j := range orders {
			earnOrder(t, svc, member(i), order(j), 1000) // 10 points, pending
		}
	}
	clock.Advance(7 * 24 * time.Hour) // every return window is over

	var wg sync.WaitGroup
	var released, earned, redeemed atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := svc.ReleasePending(ctx, 5)
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
	for i := range members {
		// Refunds of each order: in full, in part, in part and then the rest,
		// none: voided while pending, clawed back once released.
		for j, amounts := range [][]int64{{0}, {400}, {300, 0}, nil} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k, a := range amounts {
					_, err := svc.RefundOrder(ctx, actor, ledger.Refund{MemberID: member(i), OrderID: order(j), RequestID: fmt.Sprintf("refund-%s-%d", order(j), k), AmountMinor: a})
					if err != nil {
						t.Errorf("refund %d of %s's %s: %v", a, member(i), order(j), err)
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 5 {
				if _, err := svc.Earn(ctx, actor, ledger.Earn{MemberID: member(i), RequestID: fmt.Sprintf("e%d", k), Points: 10}); err != nil {
					t.Errorf("earn: %v", err)
				} else {
					earned.Add(10)
				}
				if _, err := svc.Redeem(ctx, actor, ledger.Redeem{MemberID: member(i), RequestID: fmt.Sprintf("r%d", k), Points: 10}); err != nil {
					t.Errorf("redeem: %v", err)
				} else {
					redeemed.Add(10)
				}
			}
		}()
	}
	wg.Wait()
	// A release skipped while a refund held its row is released by a later run.
	for {
		n, err := svc.ReleasePending(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		released.Add(int64(n))
		if n == 0 {
			break
		}
	}

	var releases int64
	for i := range members {
		want := int64(500) + 5*10 - 5*10
		for j := range orders {
			o, err := svc.GetOrder(ctx, member(i), order(j))
			if err != nil {
				t.Fatal(err)
			}
			want += o.EarnedPoints - o.PointsTakenBack
		}
		if b := balanceOf(t, svc, member(i)); b.Pending != 0 || b.Available != want {
			t.Errorf("%s has %+v, want nothing pending and %d available", member(i), b, want)
		}
		a, err := svc.ListActivity(ctx, ledger.ListActivity{MemberID: member(i), Kinds: []string{string(ledger.KindPendingRelease)}, PageSize: 200})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range a.Entries {
			if seen[e.OrderID] {
				t.Errorf("%s's %s was released twice", member(i), e.OrderID)
			}
			seen[e.OrderID] = true
			releases++
		}
		if seen[order(0)] {
			// Refunded in full: released only if the release came first.
			t.Logf("%s's fully refunded order was released before its refund", member(i))
		}
	}
	if released.Load() != releases {
		t.Errorf("the runs say they released %d earnings, the books show %d releases", released.Load(), releases)
	}
	if earned.Load() != members*50 || redeemed.Load() != members*50 {
		t.Errorf("earned %d, redeemed %d, want %d each", earned.Load(), redeemed.Load(), members*50)
	}
	mustVerify(t, svc)
}

// Racing expiry runs expire each member's due lot once while the members earn and
// redeem through the group commit: a redemption that comes first spends from the due
// lot (earliest expiry first), one that comes after finds only the newer points.
func TestRacingExpiryRunsWithEarningsAndRedemptions(t *testing.T) {
	const members = 24
	svc, member := membersWithADueLot(t, members)
	ctx := context.Background()

	var wg sync.WaitGroup
	var expired, redeemed, refused atomic.Int64
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for redeemed.Load()+90*refused.Load() < 90*members/4 {
				time.Sleep(time.Millisecond) // some redemptions come first, the others race the runs
			}
			for {
				n, err := svc.ExpireLots(ctx, 7)
				if err != nil {
					t.Errorf("expire: %v", err)
					return
				}
				expired.Add(int64(n))
				if n == 0 {
					return
				}
			}
		}()
	}
	for i := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 10 * time.Millisecond) // staggered, to meet the runs at all stages
			mustEarn(t, svc, member(i), "more", 20)
			// 90: from the due lot if it comes first, else more than is left.
			_, err := svc.Redeem(ctx, actor, ledger.Redeem{MemberID: member(i), RequestID: "r", Points: 90})
			switch {
			case err == nil:
				redeemed.Add(90)
			case errors.Is(err, ledger.ErrInsufficientPoints):
				refused.Add(1)
			default:
				t.Errorf("redeem: %v", err)
			}
		}()
	}
	wg.Wait()
	if n, err := svc.ExpireLots(ctx, 100); err != nil || n != 0 {
		t.Fatalf("a last run found %d members still due (%v)", n, err)
	}
	var available int64
	for i := range members {
		b := balanceOf(t, svc, member(i))
		if b.Available != 70 && b.Available != 60 {
			t.Errorf("%s has %d available, want 70 (redeemed 90 of the due lot) or 60 (expired first)", member(i), b.Available)
		}
		available += b.Available
	}
	if expired.Load() != members {
		t.Errorf("%d members expired, want each of the %d once", expired.Load(), members)
	}
	breakage := rolledUpSystemBalance(t, svc, ledger.AccountBreakage)
	if breakage+available+redeemed.Load() != members*160 {
		t.Errorf("breakage %d + available %d + redeemed %d != %d issued", breakage, available, redeemed.Load(), members*160)
	}
	t.Logf("%d redemptions came before the expiry, %d after", redeemed.Load()/90, refused.Load())
	mustVerify(t, svc)
}

// membersWithADueLot enrolls n members (m00, m01, ...) under a rolling 10-day expiry,
// each earning 100 points, then 40 five days later, and moves the clock to when the
// 100s are due and the 40s are not.
func membersWithADueLot(t *testing.T, n int) (*ledger.Service, func(int) string) {
	t.Helper()
	svc, clock := newLedger(t)
	ctx := context.Background()
	setProgram(t, svc, func(p *ledger.Program) { p.ExpiryKind, p.ExpiryDays = ledger.ExpiryRollingDays, 10 })
	member := func(i int) string { return fmt.Sprintf("m%02d", i) }
	for i := range n {
		if _, _, err := svc.Enroll(ctx, ledger.EnrollMember{MemberID: member(i)}); err != nil {
			t.Fatal(err)
		}
		mustEarn(t, svc, member(i), "old", 100) // expires in 11 days
	}
	clock.Advance(5 * 24 * time.Hour)
	for i := range n {
		mustEarn(t, svc, member(i), "new", 40) // expires in 16 days
	}
	clock.Advance(6 * 24 * time.Hour) // the 100s are due, the 40s are not
	return svc, member
}

// rolledUpSystemBalance is a system account's balance once every posting to it is
// rolled up.
func rolledUpSystemBalance(t *testing.T, svc *ledger.Service, account string) int64 {
	t.Helper()
	ctx := context.Background()
	if err := svc.RollUpSystemBalances(ctx); err != nil {
		t.Fatal(err)
	}
	sys, err := svc.SystemBalances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sys {
		if s.Account == account {
			return s.Balance
		}
	}
	return 0
}
