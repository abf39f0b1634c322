package ledger

import (
	"context"
	"testing"
	"time"
)

// A hold closed in a batch: the member is found by way of the hold; a partial
// capture redeems its part and gives the rest back to the lot the hold consumed; a
// second closing of the same hold in the batch finds it captured; an unknown hold,
// an expired one and an over-capture are refused and write nothing.
func TestApplyHoldClosings(t *testing.T) {
	lot := openLot(7, 7, 0, 90) // the hold consumed all 100 points of lot 7
	m := stateMember("m", 0, lot)
	m.held = 100
	st := newApplyState(m)
	st.holds = map[int64]*holdState{
		1: {hold: Hold{ID: 1, MemberID: "m", Points: 100, Status: HoldActive, ExpireTime: applyT0.Add(time.Hour)}, entryID: 50},
		2: {hold: Hold{ID: 2, MemberID: "m", Points: 10, Status: HoldActive, ExpireTime: applyT0}},
	}
	st.restorable[50] = []*restorable{{lot: lot, points: 100}}
	closing := func(requestID string, c *holdClose) plan {
		return plan{requestID: requestID, fingerprint: []byte(requestID), close: c, lotExpire: applyT0.AddDate(1, 0, 0)}
	}
	out := st.apply(context.Background(), []plan{
		closing("c1", &holdClose{holdID: 1, capture: true, points: 30}),
		closing("c2", &holdClose{holdID: 1, capture: true}),
		closing("v9", &holdClose{holdID: 9}),
		closing("v2", &holdClose{holdID: 2}),
	})
	e := wantOK(t, out[0])
	if e.MemberID != "m" || e.Kind != KindHoldCapture || e.AvailableAfter != 70 || e.HeldAfter != 0 || e.HoldID != 1 {
		t.Fatalf("capture entry %+v", e)
	}
	if out[0].hold.Status != HoldCaptured || out[0].hold.CapturedPoints != 30 {
		t.Fatalf("hold after the capture %+v", out[0].hold)
	}
	wantLot(t, lot, 70)
	wantMoves(t, st.out.lotMoves, lotMove{memberID: "m", lotID: 7, entryID: e.ID, source: 50, points: 70})
	wantReason(t, out[1].err, "HOLD_NOT_ACTIVE")
	wantReason(t, out[2].err, "HOLD_NOT_FOUND")
	wantReason(t, out[3].err, "HOLD_EXPIRED")
	if len(st.out.closedHolds) != 1 || len(st.out.entries) != 1 {
		t.Fatalf("%d holds closed and %d entries written, want 1 and 1", len(st.out.closedHolds), len(st.out.entries))
	}

	over := newApplyState(stateMember("m", 0))
	over.holds = map[int64]*holdState{1: {hold: Hold{ID: 1, MemberID: "m", Points: 5, Status: HoldActive, ExpireTime: applyT0.Add(time.Hour)}}}
	wantReason(t, over.apply(context.Background(), []plan{closing("c", &holdClose{holdID: 1, capture: true, points: 6})})[0].err, "CAPTURE_EXCEEDS_HOLD")
	wantNothingWritten(t, over)
}
