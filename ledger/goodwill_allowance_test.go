package ledger_test

import (
	"testing"

	"github.com/loyalty-engine/loyalty/ledger"
)

func TestGoodwillAllowanceRemaining(t *testing.T) {
	for _, c := range []struct {
		perDay, granted, want int64
	}{
		{2000, 0, 2000},
		{2000, 1500, 500},
		{2000, 2000, 0},
		// Limits lowered after the day's grants: nothing is left, never less than nothing.
		{1000, 1500, 0},
		{0, 0, 0},
	} {
		a := ledger.GoodwillAllowance{Limits: ledger.GoodwillLimits{PerDay: c.perDay}, GrantedToday: c.granted}
		if got := a.Remaining(); got != c.want {
			t.Errorf("per day %d, granted %d: remaining %d, want %d", c.perDay, c.granted, got, c.want)
		}
	}
}
