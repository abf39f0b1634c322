package campaigns

import (
	"testing"

	"github.com/loyalty-engine/loyalty/ledger"
)

// A refund's batch gives campaign points back only to what it read under lock
// (Holds: the budget and the member's use), in memory, so a later earning of the
// batch sees them.
func TestBudgetsHoldAndGiveBackWhatTheBatchRead(t *testing.T) {
	var _ ledger.Budgets = (*budgets)(nil)
	cases := []struct {
		name                  string
		readCampaign, readUse bool
		wantHolds             bool
	}{
		{"budget and use read: held", true, true, true},
		{"budget read, use not: not held", true, false, false},
		{"use read, budget not: not held", false, true, false},
		{"nothing read: not held", false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := &budgets{state: map[string]*campaignBudget{}, uses: map[useKey]*memberUse{}, read: map[useKey]bool{}}
			cb := &campaignBudget{campaign: running(), slices: slicesOf([2]int64{100, 20}, [2]int64{100, 20})}
			if c.readCampaign {
				b.state["c1"] = cb
			}
			use := &memberUse{points: 30}
			if c.readUse {
				b.read[useKey{"c1", "m"}] = true
				b.uses[useKey{"c1", "m"}] = use
			}
			if got := b.Holds("m", "c1"); got != c.wantHolds {
				t.Fatalf("Holds = %v, want %v", got, c.wantHolds)
			}
			if !c.wantHolds {
				return
			}
			b.GiveBack("m", "c1", 30)
			// giveBack from the member's own slice: 20 there, the other 10 next.
			start := sliceOf("m", 2)
			if own, next := cb.slices[start].spentPoints, cb.slices[1-start].spentPoints; own != 0 || next != 10 {
				t.Fatalf("slices spent: own %d, next %d; want 0, 10", own, next)
			}
			if use.points != 0 || !use.changed {
				t.Fatalf("use %+v, want 0 and changed", use)
			}
		})
	}
}
