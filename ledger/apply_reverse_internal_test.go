package ledger

import (
	"testing"

	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// A reversal of an entry on an order is refused once the order's refunds undid the
// entry's points; what refunds did to the other side of the order does not matter.
func TestRefundedBefore(t *testing.T) {
	cases := []struct {
		name        string
		original    Kind
		takenBack   int64
		returned    int64
		wantRefused bool
	}{
		{"an earning of an order never refunded", KindEarn, 0, 0, false},
		{"an earning whose points a refund took back in part", KindEarn, 1, 0, true},
		{"an earning of an order whose refunds only gave back redeemed points", KindEarn, 0, 50, false},
		{"a redemption whose points a refund gave back", KindRedeem, 0, 50, true},
		{"a redemption on an order whose refunds only took back earned points", KindRedeem, 80, 0, false},
		{"a capture whose points a refund gave back", KindHoldCapture, 0, 1, true},
		{"a capture of an order never refunded", KindHoldCapture, 0, 0, false},
		{"goodwill on an order: refunds do not own it", KindGoodwill, 80, 50, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := refundedBefore(c.original, 7, ledgerdb.Order{OrderID: "o1", PointsTakenBack: c.takenBack, PointsReturned: c.returned})
			if (err != nil) != c.wantRefused {
				t.Fatalf("refundedBefore = %v, want refused %v", err, c.wantRefused)
			}
			if p, ok := problem.As(err); err != nil && (!ok || p.Reason != "NOT_REVERSIBLE") {
				t.Fatalf("refused with %v, want NOT_REVERSIBLE", err)
			}
		})
	}
}
