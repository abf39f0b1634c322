package jobs_test

import (
	"context"
	"fmt"
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

// The referral job on two replicas at once pays each referral once, both sides;
// after a restart it pays the referrals that came since and nothing again.
func TestTwoReplicasPayReferralsOnceAcrossARestart(t *testing.T) {
	pool := dbtest.NewPool(t)
	clk := fakeclock.At(time.Now())
	ctx := context.Background()
	ts := tiers.NewService(pool, tiers.WithClock(clk))
	l := ledger.NewService(pool, ts, ledger.WithClock(clk))
	cs := campaigns.NewService(pool, l, ts, clk)
	l.SetPromotions(cs)
	prog, err := l.Program(ctx)
	if err != nil {
		t.Fatal(err)
	}
	prog.ReturnWindowDays = 7
	if _, err := l.UpdateProgram(ctx, ledger.Actor{KeyID: "k"}, prog); err != nil {
		t.Fatal(err)
	}
	c, err := cs.Create(ctx, "k", campaigns.Create{Definition: campaigns.Definition{DisplayName: "Bring a friend", Type: campaigns.TypeReferral,
		Referral: campaigns.ReferralReward{ReferrerPoints: 200, ReferredPoints: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Activate(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	refer := func(i int) {
		t.Helper()
		for _, m := range []string{fmt.Sprintf("r%d", i), fmt.Sprintf("n%d", i)} {
			if _, _, err := l.Enroll(ctx, ledger.EnrollMember{MemberID: m}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := cs.RecordReferral(ctx, ledger.Actor{KeyID: "k"}, campaigns.RecordReferralCmd{RequestID: "ref", MemberID: fmt.Sprintf("r%d", i),
			ReferredMemberID: fmt.Sprintf("n%d", i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Earn(ctx, ledger.Actor{KeyID: "k"}, ledger.Earn{MemberID: fmt.Sprintf("n%d", i), RequestID: "o", OrderID: "o", Points: 10}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 6 {
		refer(i)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	runner := func() *jobs.Runner {
		r, err := jobs.New(pool, l, ts, quiet, jobs.Options{Every: 100 * time.Millisecond, Campaigns: cs})
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
		if err := pool.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	paid := "SELECT count(*) FROM referrals WHERE status = 'PAID'"
	entries := "SELECT count(*) FROM entries WHERE kind = 'REFERRAL'"
	runs := "SELECT count(*) FROM river_job WHERE kind = 'campaigns.pay_referrals' AND state = 'completed'"
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

	r1, r2 := runner(), runner()
	waitFor("a few runs inside the return window", func() bool { return count(runs) >= 3 })
	if n := count(paid); n != 0 {
		t.Fatalf("%d paid inside the return window", n)
	}
	clk.Advance(8 * 24 * time.Hour)
	waitFor("the six referrals paid", func() bool { return count(paid) >= 6 })
	before := count(runs)
	waitFor("two more runs", func() bool { return count(runs) >= before+2 })
	stop(r1)
	stop(r2)
	if n := count(entries); n != 12 {
		t.Fatalf("%d REFERRAL entries, want 12 (6 referrals, both sides once)", n)
	}

	refer(6) // while no runner runs
	clk.Advance(8 * 24 * time.Hour)
	r3 := runner()
	waitFor("the seventh referral paid after the restart", func() bool { return count(paid) >= 7 })
	before = count(runs)
	waitFor("two more runs", func() bool { return count(runs) >= before+2 })
	stop(r3)
	if n := count(entries); n != 14 {
		t.Fatalf("%d REFERRAL entries after the restart, want 14", n)
	}
	v, err := l.Verify(ctx)
	if err != nil || !v.OK {
		t.Fatalf("books: %+v, %v", v.Discrepancies, err)
	}
}
