package ledger_test

import (
	"testing"

	"github.com/loyalty-engine/loyalty/ledger"
)

func TestOrderStatus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		order ledger.Order
		want  string
	}{
		{"nothing refunded", ledger.Order{SpendMinor: 10000, EarnedPoints: 100}, ledger.OrderNotRefunded},
		{"part of the spend", ledger.Order{SpendMinor: 10000, RefundedMinor: 2500, PointsTakenBack: 25}, ledger.OrderPartlyRefunded},
		{"money without points (nothing earned)", ledger.Order{SpendMinor: 10000, RefundedMinor: 1}, ledger.OrderPartlyRefunded},
		{"points without money (no known spend)", ledger.Order{EarnedPoints: 100, PointsTakenBack: 100}, ledger.OrderPartlyRefunded},
		{"only a give-back", ledger.Order{PointsReturned: 50}, ledger.OrderPartlyRefunded},
		{"all of it", ledger.Order{SpendMinor: 10000, RefundedMinor: 10000, FullyRefunded: true}, ledger.OrderRefunded},
		{"in full without a spend", ledger.Order{FullyRefunded: true}, ledger.OrderRefunded},
	} {
		if got := tc.order.Status(); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
