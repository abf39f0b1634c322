package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/bulk"
	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/fakeclock"
	"github.com/loyalty-engine/loyalty/internal/jobs"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// Two replicas run the job queue on one database: expired holds and pending points
// past their return window are released once, and the system balances are rolled up,
// by whichever replica gets the jobs.
func TestTwoReplicasReleaseExpiredHoldsAndRollUpOnce(t *testing.T) {
	pool := dbtest.NewPool(t)
	clk := fakeclock.At(time.Now())
	ts := tiers.NewService(pool, tiers.WithClock(clk))
	l := ledger.NewService(pool, ts, ledger.WithClock(clk))
	ctx := context.Background()
	if _, _, err := l.Enroll(ctx, ledger.EnrollMember{MemberID: "m"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Earn(ctx, ledger.Actor{}, ledger.Earn{MemberID: "m", RequestID: "e", Points: 100}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Earn(ctx, ledger.Actor{}, ledger.Earn{MemberID: "m", RequestID: "o", OrderID: "order-1", Points: 30}); err != nil {
		t.Fatal(err)
	}
	var holds []int64
	for _, id := range []string{"h1", "h2", "h3"} {
		res, err := l.CreateHold(ctx, ledger.Actor{}, ledger.CreateHold{MemberID: "m", RequestID: id, Points: 20, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		holds = append(holds, res.Hold.ID)
	}
	clk.Advance(8 * 24 * time.Hour) // past the holds' TTL and the 7-day return window

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var runners []*jobs.Runner
	for i := 0; i < 2; i++ {
		r, err := jobs.New(pool, l, ts, quiet, jobs.Options{Every: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		runners = append(runners, r)
	}
	defer func() {
		for _, r := range runners {
			stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := r.Stop(stopCtx); err != nil {
				t.Error(err)
			}
			cancel()
		}
	}()

	deadline := time.Now().Add(30 * time.Second)
	for {
		released := 0
		for _, id := range holds {
			h, err := l.GetHold(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if h.Status == ledger.HoldExpired {
				released++
			}
		}
		var queued int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM system_deltas").Scan(&queued); err != nil {
			t.Fatal(err)
		}
		var pending int64
		if b, err := l.Balance(ctx, "m"); err == nil {
			pending = b.Pending
		}
		if released == len(holds) && queued == 0 && pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %d of %d holds released, %d system postings not rolled up", released, len(holds), queued)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, err := l.Balance(ctx, "m")
	if err != nil || b.Available != 130 || b.Held != 0 || b.Pending != 0 {
		t.Fatalf("balance %+v (%v), want all 100 available again and the order's 30 released", b, err)
	}
	var expiries int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM entries WHERE kind = 'HOLD_EXPIRE'").Scan(&expiries); err != nil || expiries != 3 {
		t.Fatalf("%d expiry entries (%v), want one per hold", expiries, err)
	}
	if v, err := l.Verify(ctx); err != nil || !v.OK {
		t.Fatalf("verify: %+v %v", v, err)
	}
}

// Two replicas expire lots once: what is left of a due lot goes to breakage in one
// EXPIRY entry, and points not yet due stay.
func TestTwoReplicasExpireLotsOnce(t *testing.T) {
	pool := dbtest.NewPool(t)
	clk := fakeclock.At(time.Now())
	ts := tiers.NewService(pool, tiers.WithClock(clk))
	l := ledger.NewService(pool, ts, ledger.WithClock(clk))
	ctx := context.Background()
	prog, err := l.Program(ctx)
	if err != nil {
		t.Fatal(err)
	}
	prog.ExpiryKind, prog.ExpiryDays = ledger.ExpiryRollingDays, 1
	if _, err := l.UpdateProgram(ctx, ledger.Actor{}, prog); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"a", "b"} {
		if _, _, err := l.Enroll(ctx, ledger.EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Earn(ctx, ledger.Actor{}, ledger.Earn{MemberID: m, RequestID: "old", Points: 100}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Redeem(ctx, ledger.Actor{}, ledger.Redeem{MemberID: "a", RequestID: "r", Points: 30}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(3 * 24 * time.Hour)
	if _, err := l.Earn(ctx, ledger.Actor{}, ledger.Earn{MemberID: "b", RequestID: "new", Points: 5}); err != nil {
		t.Fatal(err)
	}

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i := 0; i < 2; i++ {
		r, err := jobs.New(pool, l, ts, quiet, jobs.Options{Every: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := r.Stop(stopCtx); err != nil {
				t.Error(err)
			}
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		a, errA := l.Balance(ctx, "a")
		b, errB := l.Balance(ctx, "b")
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if a.Available == 0 && b.Available == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: a has %d, b has %d; want 0 and 5", a.Available, b.Available)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a few more runs of both replicas
	var expiries, breakage int64
	if err := pool.QueryRow(ctx, "SELECT count(*), coalesce(sum(amounts[2]), 0) FROM entries WHERE kind = 'EXPIRY'").Scan(&expiries, &breakage); err != nil {
		t.Fatal(err)
	}
	if expiries != 2 || breakage != 170 {
		t.Fatalf("%d expiry entries moving %d to breakage, want 2 moving 70 + 100", expiries, breakage)
	}
	if v, err := l.Verify(ctx); err != nil || !v.OK {
		t.Fatalf("verify: %+v %v", v, err)
	}
}

// Two replicas run the tier job: members whose gold period and grace are over drop
// one tier, once each, and a paid membership's end is recorded once.
func TestTwoReplicasDowngradeTiersOnce(t *testing.T) {
	pool := dbtest.NewPool(t)
	clk := fakeclock.At(time.Now())
	ts := tiers.NewService(pool, tiers.WithClock(clk))
	l := ledger.NewService(pool, ts, ledger.WithClock(clk))
	ctx := context.Background()
	members := []string{"a", "b", "c"}
	for _, m := range members {
		if _, _, err := l.Enroll(ctx, ledger.EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Earn(ctx, ledger.Actor{}, ledger.Earn{MemberID: m, RequestID: "o", OrderID: "o", SpendMinor: 500_000, Currency: "CNY"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.BuyMembership(ctx, "k", tiers.BuyMembership{MemberID: "a", RequestID: "p", TierID: "platinum", EndTime: clk.Now().Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(400 * 24 * time.Hour) // past gold's period and grace

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i := 0; i < 2; i++ {
		r, err := jobs.New(pool, l, ts, quiet, jobs.Options{Every: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := r.Stop(stopCtx); err != nil {
				t.Error(err)
			}
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var pending int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM member_tiers WHERE tier_id = 'gold'").Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s %d members are still gold", pending)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a few more runs of both replicas
	var downgrades, ended int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE reason = 'DOWNGRADE' AND to_tier = 'silver'),
	                                     count(*) FILTER (WHERE reason = 'MEMBERSHIP_ENDED') FROM tier_history`).Scan(&downgrades, &ended); err != nil {
		t.Fatal(err)
	}
	if downgrades != len(members) || ended != 1 {
		t.Fatalf("%d downgrades to silver and %d membership ends, want %d and 1", downgrades, ended, len(members))
	}
}

// A replica that starts while another (killed, say) still holds River's leader
// lease, so that no periodic job is scheduled for a long while, takes up the open
// bulk credits at once: Start queues a run of the bulk credits' job itself.
func TestStartingReplicaTakesUpOpenBulkCredits(t *testing.T) {
	pool := dbtest.NewPool(t)
	clk := fakeclock.At(time.Now())
	ts := tiers.NewService(pool, tiers.WithClock(clk))
	l := ledger.NewService(pool, ts, ledger.WithClock(clk))
	camps := campaigns.NewService(pool, l, ts, clk)
	l.SetPromotions(camps)
	ctx := context.Background()
	ids := []string{"b1", "b2", "b3"}
	if _, err := l.EnrollMany(ctx, ids); err != nil {
		t.Fatal(err)
	}
	b := bulk.NewService(pool, l, ts, camps, clk, bulk.Options{Chunk: 2})
	created, err := b.Create(ctx, bulk.Create{RequestID: "r", Points: 10, Reason: "thanks", Target: bulk.Target{All: true}, ActorKeyID: "key_admin"})
	if err != nil {
		t.Fatal(err)
	}
	// The lease of a dead leader, for an hour (a new replica cannot be elected).
	if _, err := pool.Exec(ctx, `INSERT INTO river_leader (leader_id, elected_at, expires_at) VALUES ('dead-replica', now(), now() + interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := jobs.New(pool, l, ts, quiet, jobs.Options{Every: time.Hour, Bulk: b})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := r.Stop(stopCtx); err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := b.Get(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == bulk.StatusSucceeded && got.Done == int64(len(ids)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s the bulk credit is %+v: nobody took it up", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
