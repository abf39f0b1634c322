package campaigns

import (
	"testing"

	"github.com/loyalty-engine/loyalty/ledger"
)

// A refund in a batch that read the campaign's budget gives back in memory (giveBack
// on the slices, and on the member's use if read), so a later earning of the batch
// sees the points; what was not read is left to the relative writes.
func TestBudgetsGiveBackWhatTheBatchRead(t *testing.T) {
	var _ ledger.Budgets = (*budgets)(nil)
	cases := []struct {
		name                string
		readCampaign        bool
		readUse             bool
		wantBudget, wantCap bool
		wantSpent           []int64
		wantUse             int64
	}{
		{"budget and use read: both in memory", true, true, true, true, []int64{0, 10}, 0},
		{"budget read, use not: the budget only", true, false, true, false, []int64{0, 10}, 30},
		{"nothing read: nothing in memory", false, false, false, false, []int64{20, 20}, 30},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := &budgets{state: map[string]*campaignBudget{}, uses: map[useKey]*memberUse{}}
			cb := &campaignBudget{campaign: running(), slices: slicesOf([2]int64{100, 20}, [2]int64{100, 20})}
			if c.readCampaign {
				b.state["c1"] = cb
			}
			use := &memberUse{points: 30}
			if c.readUse {
				b.uses[useKey{"c1", "m"}] = use
			}
			// "m" starts at its own slice; which one depends on the hash.
			start := sliceOf("m", 2)
			budget, limit := b.GiveBack("m", "c1", 30)
			if budget != c.wantBudget || limit != c.wantCap {
				t.Fatalf("GiveBack = %v, %v; want %v, %v", budget, limit, c.wantBudget, c.wantCap)
			}
			want := c.wantSpent
			if start == 1 && c.readCampaign {
				want = []int64{want[1], want[0]}
			}
			for i, sl := range cb.slices {
				if sl.spentPoints != want[i] {
					t.Fatalf("slice %d spent %d, want %d (start %d)", i, sl.spentPoints, want[i], start)
				}
			}
			if use.points != c.wantUse {
				t.Fatalf("use %d, want %d", use.points, c.wantUse)
			}
		})
	}
}
