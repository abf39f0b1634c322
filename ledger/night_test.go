package ledger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/fakeclock"
	"github.com/loyalty-engine/loyalty/ledger"
)

// Expiry night with parallel sweepers: several expiry jobs at once (as on two
// replicas), each with three sweepers over shares of the members and chunks of a
// few members, while every member redeems. Each member's due lot expires once (the
// counts of all runs add up to one expiry a member), a redemption that came first
// spent from the due lot and one that came after only from the newer points,
// nothing is left due, and the books verify.
func TestParallelExpirySweepsExpireEachLotOnce(t *testing.T) {
	const members = 60
	svc, member := membersWithADueLot(t, members)
	ctx := context.Background()

	var wg sync.WaitGroup
	var expired, redeemed atomic.Int64
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := svc.ExpireAllDue(ctx, ledger.NightSweep{PerTx: 4, Parallel: 3})
			if err != nil {
				t.Errorf("expire: %v", err)
			}
			expired.Add(int64(n))
		}()
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < members; i += 4 {
				// 30: from the due lot if it comes first, else from the new one.
				if _, err := svc.Redeem(ctx, actor, ledger.Redeem{MemberID: member(i), RequestID: "r", Points: 30}); err != nil {
					t.Errorf("redeem %s: %v", member(i), err)
					continue
				}
				redeemed.Add(30)
			}
		}()
	}
	wg.Wait()
	// A redemption racing the runs may have left a member to the next run.
	more, err := svc.ExpireAllDue(ctx, ledger.NightSweep{PerTx: 4, Parallel: 3})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := svc.ExpireAllDue(ctx, ledger.NightSweep{PerTx: 4, Parallel: 3}); err != nil || n != 0 {
		t.Fatalf("a last run found %d members still due (%v)", n, err)
	}
	if got := expired.Load() + int64(more); got != members {
		t.Errorf("%d expiries, want each of the %d members' once", got, members)
	}
	var available int64
	for i := range members {
		b := balanceOf(t, svc, member(i))
		if b.Available != 40 && b.Available != 10 {
			t.Errorf("%s has %d available, want 40 (redeemed from the due lot) or 10 (after expiry)", member(i), b.Available)
		}
		available += b.Available
	}
	breakage := rolledUpSystemBalance(t, svc, ledger.AccountBreakage)
	if breakage+available+redeemed.Load() != members*140 {
		t.Errorf("breakage %d + available %d + redeemed %d != %d issued", breakage, available, redeemed.Load(), members*140)
	}
	mustVerify(t, svc)
}

// Expiry reminders with parallel sweepers: several runs at once, three sweepers
// each, one reminder a transaction, members with two expiry instants in the window
// (two reminders a day each, so a chunk ends between a member's two): every
// reminder is sent once, none is skipped, a later run finds none, and a run alone
// sends every reminder of the next day.
func TestParallelReminderSweepsSendEachReminderOnce(t *testing.T) {
	const members = 30
	ctx := context.Background()
	clock := fakeclock.At(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	svc, pool := newLedgerOnPool(t, clock)
	setProgram(t, svc, func(p *ledger.Program) { p.ExpiryKind, p.ExpiryDays = ledger.ExpiryRollingDays, 20 })
	member := func(i int) string { return fmt.Sprintf("m%02d", i) }
	for i := range members {
		if _, _, err := svc.Enroll(ctx, ledger.EnrollMember{MemberID: member(i)}); err != nil {
			t.Fatal(err)
		}
		mustEarn(t, svc, member(i), "a", 100)
	}
	clock.Advance(24 * time.Hour)
	for i := range members {
		mustEarn(t, svc, member(i), "b", 40) // a day later: another expiry instant
	}

	var wg sync.WaitGroup
	var sent atomic.Int64
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := svc.RemindAllExpiring(ctx, ledger.NightSweep{PerTx: 1, Parallel: 3})
			if err != nil {
				t.Errorf("remind: %v", err)
			}
			sent.Add(int64(n))
		}()
	}
	wg.Wait()
	// A run that met another's reminders stops early (the next run goes on).
	more, err := svc.RemindAllExpiring(ctx, ledger.NightSweep{PerTx: 1, Parallel: 3})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := svc.RemindAllExpiring(ctx, ledger.NightSweep{PerTx: 1, Parallel: 3}); err != nil || n != 0 {
		t.Fatalf("a last run sent %d reminders (%v)", n, err)
	}
	if got := sent.Load() + int64(more); got != 2*members {
		t.Errorf("%d reminders sent, want two for each of the %d members", got, members)
	}
	// 7 days before both instants: a run alone sends every reminder of day 7.
	clock.Advance(14 * 24 * time.Hour)
	if n, err := svc.RemindAllExpiring(ctx, ledger.NightSweep{PerTx: 1, Parallel: 3}); err != nil || n != 2*members {
		t.Fatalf("a run alone sent %d reminders of day 7 (%v), want %d", n, err, 2*members)
	}
	feed, err := events.NewStore(pool).List(ctx, events.Filter{Types: []events.Type{events.PointsExpiring}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int64{}
	for _, ev := range feed {
		var d events.ExpiringData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("%s@%s/%d", ev.MemberID, d.ExpireTime, d.DaysBefore)
		if seen[key] != 0 {
			t.Errorf("%s reminded twice", key)
		}
		seen[key] = d.Points
	}
	for i := range members {
		var points []int64
		for key, p := range seen {
			if len(key) > 3 && key[:3] == member(i) {
				points = append(points, p)
			}
		}
		if len(points) != 4 || points[0]+points[1]+points[2]+points[3] != 280 {
			t.Errorf("%s reminded of %v, want 100 and 40 on day 30 and on day 7", member(i), points)
		}
	}
}
