package tiers_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/events"
)

// Downgrade reminders: 30 days before the period ends, a gold member whose points
// will have left the window by then is told what it needs and where it would drop;
// one who earned enough since is not; a second run decides nothing again.
func TestDowngradeRemindersTellWhoIsNotOnTrack(t *testing.T) {
	svc, ts, clock, pool := newEngineOnPool(t, "short", "kept")
	order(t, svc, "short", "s1", 500_000) // 5,000 points: gold, for a year
	order(t, svc, "kept", "k1", 500_000)
	clock.Advance(100 * day)
	order(t, svc, "kept", "k2", 400_000) // 4,000 + 2,000 (gold): still counted at the period's end
	period := perks(t, ts, "short").Progress.HeldUntil

	remind := func(want int) {
		t.Helper()
		n, err := ts.RemindDowngrades(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("at %s: %d reminders decided, want %d", clock.Now().Format(time.RFC3339), n, want)
		}
	}
	clock.Set(period.Add(-31 * day))
	remind(0)
	clock.Set(period.Add(-20 * day))
	remind(2) // both decided, one told
	remind(0)

	feed, err := events.NewStore(pool).List(ctx, events.Filter{Types: []events.Type{events.TierDowngradeDue}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(feed) != 1 || feed[0].MemberID != "short" {
		t.Fatalf("downgrade reminders %+v, want one, to the member who is short", feed)
	}
	var d events.DowngradeDueData
	if err := json.Unmarshal(feed[0].Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.TierID != "gold" || d.NextTierID != "silver" || d.KeepNeeded != 5000 || d.DaysBefore != 30 || !d.PeriodEnd.Equal(period) {
		t.Fatalf("reminder %+v, want gold, 5000 needed, silver next, 30 days before %s", d, period)
	}
}
