package ledger

import (
	"testing"
	"time"
)

func TestBirthdayValidDate(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		b     Birthday
		field string
	}{
		{Birthday{Month: 2, Day: 29}, ""},
		{Birthday{Month: 2, Day: 29, Year: 2000}, ""},
		{Birthday{Month: 2, Day: 29, Year: 1900}, "birthday.day"}, // 1900 was no leap year
		{Birthday{Month: 2, Day: 30}, "birthday.day"},
		{Birthday{Month: 4, Day: 31}, "birthday.day"},
		{Birthday{Month: 12, Day: 31, Year: 2026}, ""},
		{Birthday{Month: 1, Day: 1, Year: 2027}, "birthday.year"},
		{Birthday{Month: 0, Day: 1}, "birthday.month"},
		{Birthday{Month: 1, Day: 0}, "birthday.day"},
	} {
		v := c.b.ValidDate(now)
		switch {
		case c.field == "" && len(v) > 0:
			t.Errorf("%+v: refused %v", c.b, v)
		case c.field != "" && (len(v) == 0 || v[0].Field != c.field):
			t.Errorf("%+v: want %s refused, got %v", c.b, c.field, v)
		}
	}
}

func TestBirthdayOn(t *testing.T) {
	for _, c := range []struct {
		b     Birthday
		year  int
		month time.Month
		day   int
	}{
		{Birthday{Month: 2, Day: 29}, 2028, time.February, 29},
		{Birthday{Month: 2, Day: 29}, 2027, time.February, 28},
		{Birthday{Month: 2, Day: 29, Year: 2000}, 2100, time.February, 28},
		{Birthday{Month: 5, Day: 17}, 2027, time.May, 17},
		{Birthday{Month: 12, Day: 31}, 2027, time.December, 31},
	} {
		if m, d := c.b.On(c.year); m != c.month || d != c.day {
			t.Errorf("%+v in %d: %v %d, want %v %d", c.b, c.year, m, d, c.month, c.day)
		}
	}
}
