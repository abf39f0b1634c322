package campaigns

import (
	"testing"
	"time"
)

func TestActivityCapPeriods(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	at := func(loc *time.Location, y int, m time.Month, d, h, min, s int) time.Time {
		return time.Date(y, m, d, h, min, s, 0, loc)
	}
	// 2026-12-06 is a Sunday, 2026-12-07 a Monday.
	for _, c := range []struct {
		name        string
		t           time.Time
		loc         *time.Location
		day, week   time.Time
		month, next time.Time
	}{
		{"Shanghai midday", at(sh, 2026, 12, 3, 12, 0, 0), sh, at(sh, 2026, 12, 3, 0, 0, 0), at(sh, 2026, 11, 30, 0, 0, 0), at(sh, 2026, 12, 1, 0, 0, 0), at(sh, 2027, 1, 1, 0, 0, 0)},
		{"Shanghai's midnight is UTC's 16:00", time.Date(2026, 12, 6, 16, 0, 0, 0, time.UTC), sh, at(sh, 2026, 12, 7, 0, 0, 0), at(sh, 2026, 12, 7, 0, 0, 0), at(sh, 2026, 12, 1, 0, 0, 0), at(sh, 2027, 1, 1, 0, 0, 0)},
		{"a second before", time.Date(2026, 12, 6, 15, 59, 59, 0, time.UTC), sh, at(sh, 2026, 12, 6, 0, 0, 0), at(sh, 2026, 11, 30, 0, 0, 0), at(sh, 2026, 12, 1, 0, 0, 0), at(sh, 2027, 1, 1, 0, 0, 0)},
		{"Sunday is the week's last day", at(sh, 2026, 12, 6, 23, 59, 59), sh, at(sh, 2026, 12, 6, 0, 0, 0), at(sh, 2026, 11, 30, 0, 0, 0), at(sh, 2026, 12, 1, 0, 0, 0), at(sh, 2027, 1, 1, 0, 0, 0)},
		{"New York on the day clocks go back", at(ny, 2026, 11, 1, 23, 30, 0), ny, at(ny, 2026, 11, 1, 0, 0, 0), at(ny, 2026, 10, 26, 0, 0, 0), at(ny, 2026, 11, 1, 0, 0, 0), at(ny, 2026, 12, 1, 0, 0, 0)},
	} {
		if d, _ := dayOf(c.t, c.loc); !d.Equal(c.day) {
			t.Errorf("%s: day starts %v, want %v", c.name, d, c.day)
		}
		if w, end := weekOf(c.t, c.loc); !w.Equal(c.week) || !end.Equal(w.AddDate(0, 0, 7)) {
			t.Errorf("%s: week %v-%v, want from %v", c.name, w, end, c.week)
		}
		if m, end := monthOf(c.t, c.loc); !m.Equal(c.month) || !end.Equal(c.next) {
			t.Errorf("%s: month %v-%v, want %v-%v", c.name, m, end, c.month, c.next)
		}
	}
}

func TestActivityCapRefusal(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	at := func(d, h, m, s int) time.Time { return time.Date(2026, 12, d, h, m, s, 0, sh) }
	g := func(campaign, key string, t time.Time) activityGrant {
		return activityGrant{campaignID: campaign, activityKey: key, occurTime: t}
	}
	// Saturday 5th and Sunday 6th: one week; Monday 7th starts the next.
	grants := []activityGrant{
		g("c", "a", at(5, 10, 0, 0)), g("c", "b", at(5, 23, 59, 59)),
		g("c", "c", at(6, 0, 0, 0)), g("c", "d", at(6, 9, 0, 0)),
		g("other", "e", at(6, 9, 0, 0)), g("other", "f", at(6, 10, 0, 0)),
	}
	for _, c := range []struct {
		name string
		caps ActivityCaps
		key  string
		at   time.Time
		want string
	}{
		{"no caps", ActivityCaps{}, "z", at(6, 12, 0, 0), ""},
		{"two today, cap 2", ActivityCaps{PerDay: 2}, "z", at(6, 12, 0, 0), RefusedDailyCap},
		{"two today, cap 3", ActivityCaps{PerDay: 3}, "z", at(6, 12, 0, 0), ""},
		{"Saturday's last second counts on Saturday", ActivityCaps{PerDay: 2}, "z", at(5, 23, 59, 59), RefusedDailyCap},
		{"Monday midnight is a new day", ActivityCaps{PerDay: 2}, "z", at(7, 0, 0, 0), ""},
		{"four this week, cap 4", ActivityCaps{PerDay: 10, PerWeek: 4}, "z", at(6, 23, 59, 59), RefusedWeeklyCap},
		{"Monday midnight is a new week", ActivityCaps{PerDay: 10, PerWeek: 4}, "z", at(7, 0, 0, 0), ""},
		{"month", ActivityCaps{PerMonth: 4}, "z", at(7, 0, 0, 0), RefusedMonthlyCap},
		{"next month", ActivityCaps{PerMonth: 4}, "z", time.Date(2027, 1, 1, 0, 0, 0, 0, sh), ""},
		{"key rewarded once", ActivityCaps{PerActivityKey: 1}, "a", at(6, 12, 0, 0), RefusedActivityKeyCap},
		{"key of another campaign", ActivityCaps{PerActivityKey: 1}, "e", at(6, 12, 0, 0), ""},
		{"no key, no key cap", ActivityCaps{PerActivityKey: 1}, "", at(6, 12, 0, 0), ""},
		{"key before day", ActivityCaps{PerDay: 1, PerActivityKey: 1}, "a", at(6, 12, 0, 0), RefusedActivityKeyCap},
	} {
		if got := activityCapRefusal(c.caps, grants, "c", c.key, c.at, sh); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
