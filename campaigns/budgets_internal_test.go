package campaigns

import (
	"slices"
	"testing"
	"time"
)

// budgetOf is a running campaign's budget of slices spent as given (budget -1:
// unbounded).
func budgetOf(capPoints, capCoupons int64, sl ...budgetSlice) *campaignBudget {
	b := &campaignBudget{campaign: Campaign{Status: StatusActive}, capPoints: capPoints, capCoupons: capCoupons}
	for i := range sl {
		s := sl[i]
		s.slice = int16(i)
		b.slices = append(b.slices, &s)
	}
	return b
}

func spentOf(b *campaignBudget) (points, coupons []int64) {
	for _, s := range b.slices {
		points = append(points, s.spentPoints)
		coupons = append(coupons, s.issuedCoupons)
	}
	return points, coupons
}

func TestGiveBackLowersTheUseAndRefillsSlicesFromTheMembersOwn(t *testing.T) {
	cases := []struct {
		name       string
		spent      []int64 // points spent per slice, budgets of 100 each
		use        int64
		points     int64
		start      int
		wantSpent  []int64
		wantUse    int64
		wantChange []bool
	}{
		{name: "all from the member's slice", spent: []int64{50, 80, 10}, use: 200, points: 30, start: 1,
			wantSpent: []int64{50, 50, 10}, wantUse: 170, wantChange: []bool{false, true, false}},
		{name: "on to the next slices, wrapping", spent: []int64{50, 0, 10}, use: 200, points: 30, start: 2,
			wantSpent: []int64{30, 0, 0}, wantUse: 170, wantChange: []bool{true, false, true}},
		{name: "never below zero spent: what no slice spent is dropped", spent: []int64{5, 5, 5}, use: 15, points: 40, start: 0,
			wantSpent: []int64{0, 0, 0}, wantUse: 0, wantChange: []bool{true, true, true}},
		{name: "the use never below zero", spent: []int64{100, 100, 100}, use: 10, points: 40, start: 0,
			wantSpent: []int64{60, 100, 100}, wantUse: 0, wantChange: []bool{true, false, false}},
		{name: "nothing for no points", spent: []int64{10, 10, 10}, use: 30, points: 0, start: 0,
			wantSpent: []int64{10, 10, 10}, wantUse: 30, wantChange: []bool{false, false, false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var sl []budgetSlice
			for _, p := range c.spent {
				sl = append(sl, budgetSlice{budgetPoints: 100, budgetCoupons: -1, spentPoints: p})
			}
			b := budgetOf(0, 0, sl...)
			use := &memberUse{points: c.use}
			giveBack(b, use, c.points, c.start)
			spent, _ := spentOf(b)
			var changed []bool
			for _, s := range b.slices {
				changed = append(changed, s.changed)
			}
			if !slices.Equal(spent, c.wantSpent) || use.points != c.wantUse || !slices.Equal(changed, c.wantChange) {
				t.Errorf("spent %v, use %d, changed %v; want %v, %d, %v", spent, use.points, changed, c.wantSpent, c.wantUse, c.wantChange)
			}
			if use.changed != (c.points > 0) {
				t.Errorf("use changed %v for %d points", use.changed, c.points)
			}
		})
	}
}

// take's refusals, in the order they win, and its partial grants.
func TestTakeRefusesInOrderAndGrantsWhatIsLeft(t *testing.T) {
	now := time.Date(2026, time.December, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name                   string
		b                      *campaignBudget
		usePoints, useCoupons  int64
		wantPoints, wantCoupon int64
		got                    takeResult
		spentPoints, issued    []int64
	}{
		{name: "paused beats a reached cap",
			b:         &campaignBudget{campaign: Campaign{Status: StatusPaused}, capPoints: 10, slices: []*budgetSlice{{budgetPoints: -1, budgetCoupons: -1}}},
			usePoints: 10, wantPoints: 5, got: takeResult{refusal: RefusedNotActive}, spentPoints: []int64{0}, issued: []int64{0}},
		{name: "a reached cap of either kind asked refuses the whole grant",
			b:          budgetOf(100, 1, budgetSlice{budgetPoints: -1, budgetCoupons: -1}),
			useCoupons: 1, wantPoints: 50, wantCoupon: 1, got: takeResult{refusal: RefusedMemberCap}, spentPoints: []int64{0}, issued: []int64{0}},
		{name: "a cap beats an exhausted budget",
			b:         budgetOf(100, 0, budgetSlice{budgetPoints: 10, budgetCoupons: -1, spentPoints: 10}),
			usePoints: 100, wantPoints: 5, got: takeResult{refusal: RefusedMemberCap}, spentPoints: []int64{10}, issued: []int64{0}},
		{name: "exhausted everywhere",
			b:          budgetOf(0, 0, budgetSlice{budgetPoints: 10, budgetCoupons: 1, spentPoints: 10, issuedCoupons: 1}, budgetSlice{budgetPoints: 10, budgetCoupons: 1, spentPoints: 10, issuedCoupons: 1}),
			wantPoints: 5, wantCoupon: 1, got: takeResult{refusal: RefusedBudgetExhausted}, spentPoints: []int64{10, 10}, issued: []int64{1, 1}},
		{name: "asking nothing is refused as exhausted",
			b:   budgetOf(0, 0, budgetSlice{budgetPoints: -1, budgetCoupons: -1}),
			got: takeResult{refusal: RefusedBudgetExhausted}, spentPoints: []int64{0}, issued: []int64{0}},
		{name: "the points left by the cap, over two slices",
			b:         budgetOf(100, 0, budgetSlice{budgetPoints: 50, budgetCoupons: -1, spentPoints: 40}, budgetSlice{budgetPoints: 50, budgetCoupons: -1}),
			usePoints: 70, wantPoints: 50, got: takeResult{points: 30}, spentPoints: []int64{50, 20}, issued: []int64{0, 0}},
		{name: "the coupon without the points the budget no longer has",
			b:          budgetOf(0, 0, budgetSlice{budgetPoints: 10, budgetCoupons: 5, spentPoints: 10}),
			wantPoints: 100, wantCoupon: 1, got: takeResult{coupons: 1}, spentPoints: []int64{10}, issued: []int64{1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			use := &memberUse{points: c.usePoints, coupons: c.useCoupons}
			got := take(c.b, use, c.wantPoints, c.wantCoupon, 0, now)
			spent, issued := spentOf(c.b)
			if got != c.got || !slices.Equal(spent, c.spentPoints) || !slices.Equal(issued, c.issued) {
				t.Errorf("took %+v leaving spent %v issued %v; want %+v, %v, %v", got, spent, issued, c.got, c.spentPoints, c.issued)
			}
			if got.refusal == "" && (use.points != c.usePoints+got.points || use.coupons != c.useCoupons+got.coupons) {
				t.Errorf("use %+v after taking %+v from %d points %d coupons", use, got, c.usePoints, c.useCoupons)
			}
		})
	}
}
