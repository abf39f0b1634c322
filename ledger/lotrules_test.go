package ledger

import (
	"testing"
	"time"
)

// Table tests of the ledger's own rules (lotrules.go), without a database.

var ruleT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestRefusesOverdraft(t *testing.T) {
	cases := []struct {
		name                     string
		available, delta         int64
		allowNegative, wantRefus bool
	}{
		{"a credit applies", 10, 5, false, false},
		{"a credit applies to a balance in debt", -50, 5, false, false},
		{"a debit down to exactly zero applies", 10, -10, false, false},
		{"a debit one past zero is refused", 10, -11, false, true},
		{"a debit from a balance in debt is refused", -5, -1, false, true},
		{"a claw-back may take the member into debt", 10, -30, true, false},
		{"no change is never refused", 0, 0, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := refusesOverdraft(c.available, c.delta, c.allowNegative); got != c.wantRefus {
				t.Fatalf("refusesOverdraft(%d, %d, %v) = %v, want %v", c.available, c.delta, c.allowNegative, got, c.wantRefus)
			}
		})
	}
}

func TestLotCreditIsWhatIsAboveZero(t *testing.T) {
	cases := []struct {
		name                  string
		delta, availableAfter int64
		want                  int64
	}{
		{"from zero: all of it", 100, 100, 100},
		{"on top of a balance: all of it", 100, 250, 100},
		{"repaying part of a debt: what is above zero", 100, 40, 40},
		{"repaying exactly the debt: nothing", 100, 0, 0},
		{"still in debt after: nothing", 100, -20, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := lotCredit(c.delta, c.availableAfter); got != c.want {
				t.Fatalf("lotCredit(%d, %d) = %d, want %d", c.delta, c.availableAfter, got, c.want)
			}
		})
	}
}

func TestLotDebitIsNoMoreThanWhatWasAboveZero(t *testing.T) {
	cases := []struct {
		name                   string
		delta, availableBefore int64
		want                   int64
	}{
		{"within the balance: all of it", -30, 100, 30},
		{"the whole balance", -100, 100, 100},
		{"a claw-back past zero: what was above zero", -150, 100, 100},
		{"from zero: nothing", -10, 0, 0},
		{"from a debt: nothing", -10, -40, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := lotDebit(c.delta, c.availableBefore); got != c.want {
				t.Fatalf("lotDebit(%d, %d) = %d, want %d", c.delta, c.availableBefore, got, c.want)
			}
		})
	}
}

// lot is a lot for the rule tables: id, origin, remaining, expiry in days from ruleT0.
func lot(id, origin, remaining int64, expireDays int) *lotState {
	return &lotState{id: id, origin: origin, remaining: remaining, expire: ruleT0.AddDate(0, 0, expireDays)}
}

func lotIDs(lots []*lotState) []int64 {
	ids := make([]int64, len(lots))
	for i, l := range lots {
		ids[i] = l.id
	}
	return ids
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestConsumeOrder(t *testing.T) {
	cases := []struct {
		name   string
		lots   []*lotState
		prefer int64
		want   []int64
	}{
		{"earliest expiry first", []*lotState{lot(1, 10, 5, 30), lot(2, 20, 5, 10), lot(3, 30, 5, 20)}, 0, []int64{2, 3, 1}},
		{"equal expiry: the lower lot id first", []*lotState{lot(7, 10, 5, 10), lot(3, 20, 5, 10), lot(5, 30, 5, 10)}, 0, []int64{3, 5, 7}},
		{"the preferred origin first, whatever its expiry", []*lotState{lot(1, 10, 5, 10), lot(2, 20, 5, 90), lot(3, 30, 5, 20)}, 20, []int64{2, 1, 3}},
		{"several lots of the preferred origin keep their own order", []*lotState{lot(1, 10, 5, 10), lot(4, 20, 5, 90), lot(2, 20, 5, 50)}, 20, []int64{2, 4, 1}},
		{"prefer 0 prefers nothing, not lots of origin 0", []*lotState{lot(1, 0, 5, 30), lot(2, 20, 5, 10)}, 0, []int64{2, 1}},
		{"a preferred origin the member has no lot of changes nothing", []*lotState{lot(1, 10, 5, 30), lot(2, 20, 5, 10)}, 99, []int64{2, 1}},
		{"lots without points are skipped", []*lotState{lot(1, 10, 0, 1), lot(2, 20, 5, 10), lot(3, 20, 0, 2)}, 20, []int64{2}},
		{"no lots", nil, 0, []int64{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := lotIDs(c.lots)
			got := lotIDs(consumeOrder(c.lots, c.prefer))
			if !equalIDs(got, c.want) {
				t.Fatalf("consumeOrder = %v, want %v", got, c.want)
			}
			if !equalIDs(lotIDs(c.lots), before) {
				t.Fatalf("consumeOrder reordered the member's lots: %v, was %v", lotIDs(c.lots), before)
			}
		})
	}
}

func TestRestoreOrder(t *testing.T) {
	r := func(l *lotState, source int64) sourcedRestorable {
		return sourcedRestorable{restorable: &restorable{lot: l, points: 1}, source: source}
	}
	type key struct{ lot, source int64 }
	cases := []struct {
		name string
		in   []sourcedRestorable
		want []key
	}{
		{"latest expiry first", []sourcedRestorable{r(lot(1, 1, 0, 10), 100), r(lot(2, 2, 0, 30), 100), r(lot(3, 3, 0, 20), 100)},
			[]key{{2, 100}, {3, 100}, {1, 100}}},
		{"equal expiry: the higher lot id first", []sourcedRestorable{r(lot(1, 1, 0, 10), 100), r(lot(5, 2, 0, 10), 100), r(lot(3, 3, 0, 10), 100)},
			[]key{{5, 100}, {3, 100}, {1, 100}}},
		{"one lot consumed by two sources: the higher source first", []sourcedRestorable{r(lot(4, 1, 0, 10), 100), r(lot(4, 1, 0, 10), 300), r(lot(4, 1, 0, 10), 200)},
			[]key{{4, 300}, {4, 200}, {4, 100}}},
		{"expiry decides before lot id and source", []sourcedRestorable{r(lot(9, 1, 0, 10), 900), r(lot(1, 1, 0, 11), 100)},
			[]key{{1, 100}, {9, 900}}},
		{"nothing to give back", nil, []key{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := []key{}
			for _, s := range restoreOrder(c.in) {
				got = append(got, key{s.lot.id, s.source})
			}
			if len(got) != len(c.want) {
				t.Fatalf("restoreOrder = %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("restoreOrder = %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestEntryTimeNeverGoesBack(t *testing.T) {
	cases := []struct {
		name     string
		last, at time.Time
		want     time.Time
	}{
		{"a member's first entry: its business time", time.Time{}, ruleT0, ruleT0},
		{"after the last entry: its business time", ruleT0, ruleT0.Add(time.Second), ruleT0.Add(time.Second)},
		{"at the same instant: that instant", ruleT0, ruleT0, ruleT0},
		{"before the last entry: the last entry's time", ruleT0, ruleT0.Add(-time.Hour), ruleT0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := entryTime(c.last, c.at); !got.Equal(c.want) {
				t.Fatalf("entryTime(%v, %v) = %v, want %v", c.last, c.at, got, c.want)
			}
		})
	}
}
