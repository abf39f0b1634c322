// Package reminders holds the rule of reminder days, shared by the ledger's expiry
// reminders and the tiers' downgrade reminders: which reminder day a coming
// instant (an expiry, the end of a tier period) falls on.
package reminders

import (
	"slices"
	"time"
)

// Windows are reminder windows: an instant in (After[i], Until[i]] is reminded on
// reminder day Days[i].
type Windows struct {
	After, Until []time.Time
	Days         []int32
}

// WindowsAt is the rule of reminder days: an instant is reminded on the tightest
// reminder day whose window holds it (within Days[i] days of now), so an instant
// first seen 5 days ahead with days [30, 7] is reminded once, on day 7, not twice;
// each day's window starts where the next tighter one ends. An instant at or before
// now is past: no window holds it.
func WindowsAt(days []int32, now time.Time) Windows {
	ds := slices.Clone(days)
	slices.Sort(ds)
	ds = slices.Compact(ds)
	var w Windows
	after := now
	for _, d := range ds {
		until := now.Add(time.Duration(d) * 24 * time.Hour)
		w.After, w.Until, w.Days = append(w.After, after), append(w.Until, until), append(w.Days, d)
		after = until
	}
	return w
}

// DayOf is the reminder day of an instant at t, or 0 when no window holds it.
func (w Windows) DayOf(t time.Time) int32 {
	for i := range w.Days {
		if t.After(w.After[i]) && !t.After(w.Until[i]) {
			return w.Days[i]
		}
	}
	return 0
}
