package campaigns

import (
	"fmt"
	"testing"
	"time"
)

// Table tests of the budget and cap rule (take) and of the slice a member starts
// from (sliceOf), without a database.

var budgetT0 = time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)

// slices builds budget slices: each a points budget (-1 unbounded) and what was spent.
func slicesOf(budgetSpent ...[2]int64) []*budgetSlice {
	out := make([]*budgetSlice, len(budgetSpent))
	for i, bs := range budgetSpent {
		out[i] = &budgetSlice{slice: int16(i), budgetPoints: bs[0], budgetCoupons: -1, spentPoints: bs[1]}
	}
	return out
}

func running() Campaign {
	return Campaign{ID: "c1", Status: StatusActive, Start: budgetT0.Add(-time.Hour), End: budgetT0.Add(time.Hour)}
}

type sliceWant struct {
	spent, grants int64
	changed       bool
}

func TestTake(t *testing.T) {
	paused := running()
	paused.Status = StatusPaused
	cases := []struct {
		name        string
		campaign    Campaign
		capPoints   int64
		slices      []*budgetSlice
		used        int64
		want, start int
		now         time.Time
		wantGot     int64
		wantRefusal string
		wantSlices  []sliceWant
		wantUsed    int64
	}{
		{name: "a paused campaign refuses", campaign: paused, slices: slicesOf([2]int64{100, 0}),
			want: 10, now: budgetT0, wantRefusal: RefusedNotActive, wantSlices: []sliceWant{{0, 0, false}}},
		{name: "before its start refuses", campaign: running(), slices: slicesOf([2]int64{100, 0}),
			want: 10, now: budgetT0.Add(-2 * time.Hour), wantRefusal: RefusedNotActive, wantSlices: []sliceWant{{0, 0, false}}},
		{name: "at its end (exclusive) refuses", campaign: running(), slices: slicesOf([2]int64{100, 0}),
			want: 10, now: budgetT0.Add(time.Hour), wantRefusal: RefusedNotActive, wantSlices: []sliceWant{{0, 0, false}}},
		{name: "a member at the cap refuses", campaign: running(), capPoints: 50, used: 50, slices: slicesOf([2]int64{100, 0}),
			want: 10, now: budgetT0, wantRefusal: RefusedMemberCap, wantSlices: []sliceWant{{0, 0, false}}, wantUsed: 50},
		{name: "what is left of the cap trims the grant", campaign: running(), capPoints: 50, used: 45, slices: slicesOf([2]int64{100, 0}),
			want: 10, now: budgetT0, wantGot: 5, wantSlices: []sliceWant{{5, 1, true}}, wantUsed: 50},
		{name: "the member's slice first", campaign: running(), slices: slicesOf([2]int64{100, 0}, [2]int64{100, 0}, [2]int64{100, 0}),
			want: 10, start: 1, now: budgetT0, wantGot: 10, wantSlices: []sliceWant{{0, 0, false}, {10, 1, true}, {0, 0, false}}, wantUsed: 10},
		{name: "a dry slice passes to the next, wrapping, the grant counted once on the first slice touched", campaign: running(),
			slices: slicesOf([2]int64{100, 95}, [2]int64{100, 0}, [2]int64{100, 100}), want: 20, start: 2, now: budgetT0,
			wantGot: 20, wantSlices: []sliceWant{{100, 1, true}, {15, 0, true}, {100, 0, false}}, wantUsed: 20},
		{name: "unbounded slices give all", campaign: running(), slices: slicesOf([2]int64{-1, 1_000_000}, [2]int64{-1, 0}),
			want: 500, start: 0, now: budgetT0, wantGot: 500, wantSlices: []sliceWant{{1_000_500, 1, true}, {0, 0, false}}, wantUsed: 500},
		{name: "less than asked when the budget runs short", campaign: running(), slices: slicesOf([2]int64{10, 7}, [2]int64{10, 9}),
			want: 10, start: 0, now: budgetT0, wantGot: 4, wantSlices: []sliceWant{{10, 1, true}, {10, 0, true}}, wantUsed: 4},
		{name: "every slice dry refuses", campaign: running(), slices: slicesOf([2]int64{10, 10}, [2]int64{5, 5}),
			want: 10, start: 1, now: budgetT0, wantRefusal: RefusedBudgetExhausted, wantSlices: []sliceWant{{10, 0, false}, {5, 0, false}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := &campaignBudget{campaign: c.campaign, capPoints: c.capPoints, slices: c.slices}
			use := &memberUse{points: c.used}
			got := take(b, use, int64(c.want), 0, c.start, c.now)
			if got.refusal != c.wantRefusal || got.points != c.wantGot || got.coupons != 0 {
				t.Fatalf("take = %+v, want %d points, refusal %q", got, c.wantGot, c.wantRefusal)
			}
			for i, w := range c.wantSlices {
				s := b.slices[i]
				if s.spentPoints != w.spent || s.grants != w.grants || s.changed != w.changed {
					t.Errorf("slice %d: spent %d, grants %d, changed %v; want %+v", i, s.spentPoints, s.grants, s.changed, w)
				}
			}
			if use.points != c.wantUsed || use.changed != (c.wantRefusal == "") {
				t.Errorf("member use %+v, want %d points, changed %v", use, c.wantUsed, c.wantRefusal == "")
			}
		})
	}
}

// A lane's slices (partial) answer a grant they can give in full, as every slice
// would; one they cannot give in full, refusals included, is incomplete, because
// the slices of the other lanes may hold what is missing.
func TestTakeFromALane(t *testing.T) {
	cases := []struct {
		name           string
		capPoints      int64
		used           int64
		slices         []*budgetSlice
		want           int64
		wantGot        int64
		wantRefusal    string
		wantIncomplete bool
	}{
		{name: "the lane gives all that is asked", slices: slicesOf([2]int64{100, 0}, [2]int64{100, 90}), want: 50, wantGot: 50},
		{name: "the lane gives it over two of its slices", slices: slicesOf([2]int64{100, 80}, [2]int64{100, 70}), want: 50, wantGot: 50},
		{name: "the lane runs short: incomplete, not a partial grant", slices: slicesOf([2]int64{100, 80}, [2]int64{100, 90}), want: 50,
			wantIncomplete: true},
		{name: "the lane is dry: incomplete, not exhausted", slices: slicesOf([2]int64{10, 10}), want: 5, wantIncomplete: true},
		{name: "the cap trims first, the lane gives the rest in full", capPoints: 30, used: 20, slices: slicesOf([2]int64{100, 95}, [2]int64{100, 95}),
			want: 50, wantGot: 10},
		{name: "the cap reached refuses whatever the slices", capPoints: 30, used: 30, slices: slicesOf([2]int64{100, 100}), want: 5,
			wantRefusal: RefusedMemberCap},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := &campaignBudget{campaign: running(), capPoints: c.capPoints, slices: c.slices, partial: true}
			got := take(b, &memberUse{points: c.used}, c.want, 0, 0, budgetT0)
			if got.incomplete != c.wantIncomplete || got.points != c.wantGot || got.refusal != c.wantRefusal {
				t.Fatalf("take = %+v, want %d points, refusal %q, incomplete %v", got, c.wantGot, c.wantRefusal, c.wantIncomplete)
			}
		})
	}
}

// Coupons follow the same rule as points, on their own counters and cap.
func TestTakeCoupons(t *testing.T) {
	cases := []struct {
		name        string
		capCoupons  int64
		used        int64
		budgets     []int64 // coupon budget per slice, issued 0; -1 unbounded
		issued      []int64
		wantGot     int64
		wantRefusal string
	}{
		{"one coupon from the member's slice", 0, 0, []int64{5, 5}, []int64{0, 0}, 1, ""},
		{"the cap reached refuses", 2, 2, []int64{5}, []int64{0}, 0, RefusedMemberCap},
		{"a dry slice passes on", 0, 0, []int64{3, 3}, []int64{0, 3}, 1, ""},
		{"all issued refuses", 0, 0, []int64{3, 3}, []int64{3, 3}, 0, RefusedBudgetExhausted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := &campaignBudget{campaign: running(), capCoupons: c.capCoupons}
			for i := range c.budgets {
				b.slices = append(b.slices, &budgetSlice{slice: int16(i), budgetPoints: -1, budgetCoupons: c.budgets[i], issuedCoupons: c.issued[i]})
			}
			use := &memberUse{coupons: c.used}
			got := take(b, use, 0, 1, 1, budgetT0)
			if got.coupons != c.wantGot || got.points != 0 || got.refusal != c.wantRefusal {
				t.Fatalf("take = %+v, want %d coupon(s), refusal %q", got, c.wantGot, c.wantRefusal)
			}
			var spent int64
			for _, s := range b.slices {
				spent += s.spentPoints
			}
			if spent != 0 {
				t.Fatalf("a coupon grant spent %d points", spent)
			}
		})
	}
}

func TestSliceOfIsStableAndInRange(t *testing.T) {
	cases := []struct {
		name   string
		member string
		slices int
	}{
		{"one slice: always 0", "m-1", 1},
		{"no slices: 0", "m-1", 0},
		{"eight slices", "m-1", 8},
		{"sixteen slices", "shopper-42", 16},
		{"an empty id", "", 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			first := sliceOf(c.member, c.slices)
			if first < 0 || (c.slices > 0 && first >= c.slices) || (c.slices <= 1 && first != 0) {
				t.Fatalf("sliceOf(%q, %d) = %d, out of range", c.member, c.slices, first)
			}
			for range 3 {
				if again := sliceOf(c.member, c.slices); again != first {
					t.Fatalf("sliceOf(%q, %d) gave %d then %d", c.member, c.slices, first, again)
				}
			}
		})
	}
	// Members spread over the slices: a thousand of them reach all eight.
	seen := map[int]bool{}
	for i := range 1000 {
		seen[sliceOf(fmt.Sprintf("member-%d", i), 8)] = true
	}
	if len(seen) != 8 {
		t.Fatalf("a thousand members reached %d of 8 slices", len(seen))
	}
}
