package reminders

import (
	"testing"
	"time"
)

// Table test of the reminder days' rule (WindowsAt): which reminder day an instant
// at a given distance from now falls on.
func TestWindowsAt(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, tc := range []struct {
		name  string
		days  []int32
		ahead time.Duration
		want  int32 // 0: no reminder
	}{
		{"beyond every window", []int32{30, 7}, 31 * day, 0},
		{"inside the widest only", []int32{30, 7}, 20 * day, 30},
		{"on the widest window's edge", []int32{30, 7}, 30 * day, 30},
		{"inside both: the tightest", []int32{30, 7}, 5 * day, 7},
		{"on the tightest window's edge", []int32{30, 7}, 7 * day, 7},
		{"just past the tightest window", []int32{30, 7}, 7*day + time.Second, 30},
		{"the order and repeats of the days do not matter", []int32{7, 30, 7}, 5 * day, 7},
		{"past", []int32{30, 7}, -time.Second, 0},
		{"now is past", []int32{30, 7}, 0, 0},
		{"no reminder days", nil, day, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := WindowsAt(tc.days, now)
			at := now.Add(tc.ahead)
			n := 0
			for i := range w.Days {
				if at.After(w.After[i]) && !at.After(w.Until[i]) {
					n++
				}
			}
			if n > 1 {
				t.Fatalf("an instant %s ahead falls in %d windows", tc.ahead, n)
			}
			if got := w.DayOf(at); got != tc.want {
				t.Fatalf("an instant %s ahead is reminded on day %d, want %d", tc.ahead, got, tc.want)
			}
		})
	}
}
