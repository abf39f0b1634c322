package ledger

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// The jobs' rules (apply_jobs.go) as tables, and the jobs' plans through the apply
// step on a state built by hand.

func TestReleasable(t *testing.T) {
	now := ruleT0
	due := pendingState{memberID: "m", points: 40, releaseTime: now.Add(-time.Hour)}
	cases := []struct {
		name       string
		edit       func(*pendingState)
		wantPoints int64
		wantOK     bool
	}{
		{"due: what is left of it", func(*pendingState) {}, 40, true},
		{"due at exactly now", func(r *pendingState) { r.releaseTime = now }, 40, true},
		{"partly voided by a refund: what is left as locked", func(r *pendingState) { r.points = 13 }, 13, true},
		{"released by another run", func(r *pendingState) { r.released = true }, 0, false},
		{"voided to nothing by refunds (which mark it released)", func(r *pendingState) { r.points, r.released = 0, true }, 0, false},
		{"nothing left, whatever the flag says", func(r *pendingState) { r.points = 0 }, 0, false},
		{"return window not over", func(r *pendingState) { r.releaseTime = now.Add(time.Second) }, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := due
			c.edit(&r)
			if points, ok := releasable(r, now); points != c.wantPoints || ok != c.wantOK {
				t.Fatalf("releasable(%+v) = %d, %v; want %d, %v", r, points, ok, c.wantPoints, c.wantOK)
			}
		})
	}
}

func TestLotsDueAt(t *testing.T) {
	now := ruleT0
	at := func(id, remaining int64, expire time.Duration) *lotState {
		return &lotState{id: id, remaining: remaining, expire: now.Add(expire)}
	}
	cases := []struct {
		name string
		lots []*lotState
		want dueLots
	}{
		{"no lots", nil, dueLots{}},
		{"nothing due yet", []*lotState{at(1, 10, time.Second)}, dueLots{}},
		{"expiring at exactly now is due", []*lotState{at(1, 10, 0)}, dueLots{Points: 10, Lots: 1, FirstLotID: 1}},
		{"a due lot spent already is not", []*lotState{at(1, 0, -time.Hour), at(2, 5, time.Hour)}, dueLots{}},
		{"what is left of the due lots, the first by id",
			[]*lotState{at(7, 30, -time.Hour), at(3, 5, -48*time.Hour), at(9, 100, time.Hour), at(4, 0, -time.Hour)},
			dueLots{Points: 35, Lots: 2, FirstLotID: 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := lotsDueAt(c.lots, now); got != c.want {
				t.Fatalf("lotsDueAt = %+v, want %+v", got, c.want)
			}
		})
	}
}

func releasePlan(memberID string, entryID int64, now time.Time) plan {
	return plan{memberID: memberID, kind: KindPendingRelease, requestID: systemRequestID("release", entryID),
		fingerprint: fingerprint("release", entryID), actorKeyID: "system", release: &pendingRef{entryID: entryID, now: now}}
}

func expiryPlan(memberID string, now time.Time, nonce string) plan {
	return plan{memberID: memberID, kind: KindExpiry, actorKeyID: "system", at: now, expireLots: &lotsDue{now: now, nonce: nonce}}
}

// A release posts the earning's points as locked, once: a second release of it in
// the batch, one of an earning released already, and one whose row the read step
// did not get (a refund held it) are skipped; the write set marks the earning
// released and opens its lot.
func TestApplyReleasesEachPendingEarningOnce(t *testing.T) {
	m := stateMember("m", 0)
	m.pending = 60
	st := newApplyState(m)
	expire := applyT0.AddDate(1, 0, 0)
	st.releases = map[int64]*pendingState{
		11: {memberID: "m", orderID: "o1", points: 25, releaseTime: applyT0.Add(-time.Hour), lotExpire: expire}, // 40 earned, 15 voided
		12: {memberID: "m", orderID: "o2", points: 0, released: true, releaseTime: applyT0.Add(-time.Hour), lotExpire: expire},
	}
	out := st.apply(context.Background(), []plan{
		releasePlan("m", 11, applyT0), releasePlan("m", 11, applyT0), releasePlan("m", 12, applyT0), releasePlan("m", 13, applyT0),
	})
	e := wantOK(t, out[0])
	if e.Delta(AccountPending) != -25 || e.Delta(AccountAvailable) != 25 || e.OrderID != "o1" || e.AvailableAfter != 25 || e.PendingAfter != 35 {
		t.Fatalf("release %+v, want 25 points of o1 made available", e)
	}
	if !out[1].replayed {
		t.Fatalf("the release again in the batch: %+v, want its first result", out[1])
	}
	for _, o := range out[2:] {
		if o.err != nil || !o.skipped {
			t.Fatalf("a settled or unlocked earning: %+v, want skipped", o)
		}
	}
	if fmt.Sprint(st.out.released) != "[11]" || len(st.out.newLots) != 1 {
		t.Fatalf("released %v, lots %v; want entry 11 released into one lot", st.out.released, st.out.newLots)
	}
	if l := st.out.newLots[0].lot; l.origin != 11 || l.remaining != 25 || !l.expire.Equal(expire) {
		t.Fatalf("lot %+v, want 25 points of entry 11 expiring %s", l, expire)
	}
	// A release that is already posted (another run) is answered by its entry.
	st = newApplyState(stateMember("m", 0))
	st.releases = map[int64]*pendingState{11: {memberID: "m", points: 25, released: true}}
	p := releasePlan("m", 11, applyT0)
	st.stored[requestKey{"m", p.requestID}] = storedEntry{entry: Entry{ID: 7}, fingerprint: p.fingerprint}
	if o := st.apply(context.Background(), []plan{p})[0]; !o.replayed || o.entry.ID != 7 {
		t.Fatalf("a release posted before: %+v, want its entry", o)
	}
	wantNothingWritten(t, st)
}

// An expiry takes what is left of the member's due lots, and only them: a
// redemption before it in the batch consumed the due lot first; an expiry after it
// finds nothing left.
func TestApplyExpiresWhatIsLeftOfTheDueLots(t *testing.T) {
	due, later := openLot(1, 901, 100, -1), openLot(2, 902, 40, 5)
	st := newApplyState(stateMember("m", 140, due, later))
	out := st.apply(context.Background(), []plan{
		redeemPlan("m", "r", 30), expiryPlan("m", applyT0, "n1"), expiryPlan("m", applyT0, "n2"),
	})
	wantOK(t, out[0])
	e := wantOK(t, out[1])
	if e.Delta(AccountAvailable) != -70 || e.Delta(AccountBreakage) != 70 || e.AvailableAfter != 40 ||
		e.RequestID != "system#expiry:1.n1" || e.Memo != "1 lot(s) expired" {
		t.Fatalf("expiry %+v, want the 70 left of lot 1 to breakage", e)
	}
	wantLot(t, due, 0)
	wantLot(t, later, 40)
	if o := out[2]; o.err != nil || !o.skipped {
		t.Fatalf("a second expiry: %+v, want skipped", o)
	}
	if len(st.out.entries) != 2 {
		t.Fatalf("%d entries written, want the redemption and one expiry", len(st.out.entries))
	}
}
