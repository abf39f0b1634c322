package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/fakeclock"
	"github.com/loyalty-engine/loyalty/internal/jobs"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

// The allowance job issues each member's cycle once across a restart: a runner
// issues it, a new runner (a restarted replica) runs the job again and issues
// nothing more, and at the next cycle it issues the next one.
func TestCouponAllowanceJobOncePerCycleAcrossARestart(t *testing.T) {
	pool := dbtest.NewPool(t)
	clk := fakeclock.At(time.Now())
	ctx := context.Background()
	ts := tiers.NewService(pool, tiers.WithClock(clk))
	l := ledger.NewService(pool, ts, ledger.WithClock(clk))
	cs := campaigns.NewService(pool, l, ts, clk)
	l.SetPromotions(cs)
	for m, tier := range map[string]string{"s": "silver", "g": "gold", "p": "platinum", "b": ""} {
		if _, _, err := l.Enroll(ctx, ledger.EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
		if tier == "" {
			continue
		}
		if _, err := ts.BuyMembership(ctx, "k", tiers.BuyMembership{MemberID: m, RequestID: "buy", TierID: tier, EndTime: clk.Now().AddDate(1, 0, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	drop, err := cs.Create(ctx, "k", campaigns.Create{Definition: campaigns.Definition{DisplayName: "Monthly", Type: campaigns.TypeCouponDrop,
		Coupon: campaigns.CouponTemplate{Kind: campaigns.CouponFreeShipping, ValidDays: 30}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Activate(ctx, drop.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.SetCouponAllowance(ctx, "k", campaigns.SetCouponAllowance{CampaignID: drop.ID}); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	runner := func() *jobs.Runner {
		r, err := jobs.New(pool, l, ts, quiet, jobs.Options{Every: time.Hour, AllowanceEvery: 100 * time.Millisecond, Campaigns: cs})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return r
	}
	stop := func(r *jobs.Runner) {
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := r.Stop(stopCtx); err != nil {
			t.Error(err)
		}
	}
	count := func(q string) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, q, drop.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	coupons := "SELECT count(*) FROM coupons WHERE campaign_id = $1"
	runs := "SELECT count(*) FROM river_job WHERE kind = 'campaigns.coupon_allowance' AND state = 'completed' AND $1 <> ''"
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("after 30 s: %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	r1 := runner()
	waitFor("the first cycle's 7 coupons", func() bool { return count(coupons) >= 7 })
	stop(r1)
	before := count(runs)
	r2 := runner()
	waitFor("the restarted runner running the job twice", func() bool { return count(runs) >= before+2 })
	if n := count(coupons); n != 7 {
		t.Fatalf("%d coupons after a restart, want silver's 1 + gold's 2 + platinum's 4", n)
	}
	clk.Advance(32 * 24 * time.Hour) // into every member's next cycle
	waitFor("the next cycle's coupons", func() bool { return count(coupons) >= 14 })
	before = count(runs)
	waitFor("two more runs", func() bool { return count(runs) >= before+2 })
	stop(r2)
	if n := count(coupons); n != 14 {
		t.Fatalf("%d coupons after two cycles, want 14", n)
	}
	if n := count("SELECT count(*) FROM coupon_allowance_cycles WHERE campaign_id = $1"); n != 8 {
		t.Fatalf("%d member cycles dealt with, want 4 members × 2", n)
	}
}
