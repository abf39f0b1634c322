package ledger

import (
	"testing"

	"github.com/loyalty-engine/loyalty/events"
)

// Table tests of the entries' events: the type of each kind, and the points the
// event reports.
func TestEntryEventType(t *testing.T) {
	for kind, want := range map[Kind]events.Type{
		KindEarn: events.PointsEarned, KindRedeem: events.PointsRedeemed, KindHold: events.HoldPlaced,
		KindHoldCapture: events.HoldCaptured, KindHoldVoid: events.HoldVoided, KindHoldExpire: events.HoldExpired,
		KindReversal: events.EntryReversed, KindGoodwill: events.PointsGoodwill, KindPendingRelease: events.PointsReleased,
		KindExpiry: events.PointsExpired, KindRefund: events.PointsRefunded, KindRefundReturn: events.PointsRefundReturned,
		KindCampaign: events.PointsCompensation,
	} {
		if got := entryEventType(kind); got != want || !got.Valid() {
			t.Errorf("entryEventType(%s) = %q, want %s", kind, got, want)
		}
	}
}

func TestEntryEventPoints(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    memberDeltas
		want int64
	}{
		{"an earning to available", memberDeltas{available: 100}, 100},
		{"a redemption", memberDeltas{available: -40}, -40},
		{"an earning inside the return window", memberDeltas{pending: 100}, 100},
		{"its release", memberDeltas{available: 100, pending: -100}, 100},
		{"a hold", memberDeltas{available: -30, held: 30}, -30},
		{"a partial capture gives the rest back", memberDeltas{available: 10, held: -30}, 10},
		{"a whole capture", memberDeltas{held: -30}, -30},
	} {
		if got := entryEventPoints(tc.d); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
