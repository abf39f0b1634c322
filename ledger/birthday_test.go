package ledger_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/fakeclock"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

// birthdayLedger is a ledger whose bottom tier has a 50-point birthday bonus, with
// members born on the given days (month, day; the program's time zone is UTC).
func birthdayLedger(t *testing.T, clock *fakeclock.Clock, born map[string]ledger.Birthday) *ledger.Service {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	ts := tiers.NewService(pool, tiers.WithClock(clock))
	p := tiers.DefaultPolicy()
	p.Tiers[0].Perks.BirthdayBonusPoints = 50
	if _, err := ts.UpdatePolicy(ctx, "key_test", p); err != nil {
		t.Fatal(err)
	}
	svc := ledger.NewService(pool, ts, ledger.WithClock(clock))
	for id, b := range born {
		if _, _, err := svc.Enroll(ctx, ledger.EnrollMember{MemberID: id, Profile: ledger.Profile{Birthday: &b}}); err != nil {
			t.Fatal(err)
		}
	}
	return svc
}

func TestBirthdayBonusAcrossLeapYears(t *testing.T) {
	ctx := context.Background()
	clock := fakeclock.At(time.Date(2027, 2, 27, 12, 0, 0, 0, time.UTC))
	svc := birthdayLedger(t, clock, map[string]ledger.Birthday{
		"leap": {Month: 2, Day: 29}, "feb28": {Month: 2, Day: 28, Year: 1990}, "mar1": {Month: 3, Day: 1}, "none": {Month: 7, Day: 4},
	})
	run := func(day time.Time, want int) {
		t.Helper()
		clock.Set(day)
		n, err := svc.GrantBirthdays(ctx, 100)
		if err != nil || n != want {
			t.Fatalf("on %s: granted %d (%v), want %d", day.Format(time.DateOnly), n, err, want)
		}
	}
	run(time.Date(2027, 2, 27, 23, 59, 59, 0, time.UTC), 0)
	run(time.Date(2027, 2, 28, 0, 0, 0, 0, time.UTC), 2)  // 2027 has no 29 February: leap and feb28
	run(time.Date(2027, 2, 28, 18, 0, 0, 0, time.UTC), 0) // once per member and year
	run(time.Date(2027, 3, 1, 0, 0, 1, 0, time.UTC), 1)
	run(time.Date(2028, 2, 28, 9, 0, 0, 0, time.UTC), 1) // 2028 has one: feb28 alone
	run(time.Date(2028, 2, 29, 9, 0, 0, 0, time.UTC), 1)
	run(time.Date(2028, 2, 29, 10, 0, 0, 0, time.UTC), 0)
	for id, want := range map[string]int64{"leap": 100, "feb28": 100, "mar1": 50, "none": 0} {
		if b := balanceOf(t, svc, id); b.Available != want {
			t.Errorf("%s has %d, want %d", id, b.Available, want)
		}
	}
	st, err := svc.ListActivity(ctx, ledger.ListActivity{MemberID: "leap", PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range st.Entries {
		if e.Kind != ledger.KindBirthday || e.RequestID[:16] != "system#birthday:" {
			t.Errorf("leap's statement has %s %q", e.Kind, e.RequestID)
		}
	}
	mustVerify(t, svc)
}

// Two runners (two replicas' jobs) racing over the same day grant each member once.
func TestBirthdayBonusRacingRunners(t *testing.T) {
	ctx := context.Background()
	clock := fakeclock.At(time.Date(2027, 6, 1, 8, 0, 0, 0, time.UTC))
	born := map[string]ledger.Birthday{}
	for i := range 40 {
		born[fmt.Sprintf("bd-%02d", i)] = ledger.Birthday{Month: 6, Day: 1}
	}
	svc := birthdayLedger(t, clock, born)
	var wg sync.WaitGroup
	granted := make([]int, 4)
	for r := range granted {
		wg.Go(func() {
			n, err := svc.GrantBirthdays(ctx, 7)
			if err != nil {
				t.Errorf("runner %d: %v", r, err)
			}
			granted[r] = n
		})
	}
	wg.Wait()
	total := 0
	for _, n := range granted {
		total += n
	}
	if total != 40 {
		t.Fatalf("runners granted %v (%d), want 40 in all", granted, total)
	}
	for id := range born {
		if b := balanceOf(t, svc, id); b.Available != 50 {
			t.Errorf("%s has %d, want 50", id, b.Available)
		}
	}
	mustVerify(t, svc)
}
