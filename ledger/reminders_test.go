package ledger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/fakeclock"
	"github.com/loyalty-engine/loyalty/ledger"
)

// Expiry reminders: each member is reminded once per expiry instant and reminder
// day, with the points that expire then (lots of one instant summed), on the
// tightest day whose window holds the expiry; a run finds nothing twice; expired
// points are not reminded.
func TestExpiryRemindersOncePerMemberDateAndDay(t *testing.T) {
	ctx := context.Background()
	clock := fakeclock.At(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	svc, pool := newLedgerOnPool(t, clock)
	prog, err := svc.Program(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(prog.ExpiryReminderDays) != 2 || prog.ExpiryReminderDays[0] != 30 || prog.ExpiryReminderDays[1] != 7 {
		t.Fatalf("a fresh install reminds %v days before, want [30 7]", prog.ExpiryReminderDays)
	}
	prog.ExpiryKind, prog.ExpiryDays = ledger.ExpiryRollingDays, 20
	if prog, err = svc.UpdateProgram(ctx, actor, prog); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"a", "b"} {
		if _, _, err := svc.Enroll(ctx, ledger.EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
	}
	mustEarn(t, svc, "a", "a1", 100)
	mustEarn(t, svc, "b", "b1", 60)
	mustEarn(t, svc, "b", "b2", 40) // the same expiry instant: one reminder of 100
	expire := prog.LotExpiry(clock.Now())

	remind := func(want int) {
		t.Helper()
		n, err := svc.RemindExpiring(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("at %s: %d reminders sent, want %d", clock.Now().Format(time.RFC3339), n, want)
		}
	}
	remind(2) // 20 days before: day 30
	remind(0)
	clock.Set(expire.Add(-6 * 24 * time.Hour))
	remind(2) // day 7
	remind(0)
	clock.Set(expire.Add(time.Hour))
	remind(0) // expired

	feed, err := events.NewStore(pool).List(ctx, events.Filter{Types: []events.Type{events.PointsExpiring}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range feed {
		var d events.ExpiringData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		if !d.ExpireTime.Equal(expire) {
			t.Errorf("%s reminded of an expiry at %s, want %s", ev.MemberID, d.ExpireTime, expire)
		}
		got = append(got, fmt.Sprintf("%s:%d:%d", ev.MemberID, d.Points, d.DaysBefore))
	}
	if fmt.Sprint(got) != "[a:100:30 b:100:30 a:100:7 b:100:7]" {
		t.Errorf("reminders %v", got)
	}
}
