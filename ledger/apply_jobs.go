package ledger

import (
	"fmt"
	"time"
)

// The apply step of the ledger's jobs: releasing a pending earning and expiring a
// member's due lots. Each job builds one plan per earning or member and runs them as
// one batch; the rules below decide, under the batch's locks, whether there is
// still something to post (another replica, a refund or a redemption may have been
// first) and what.

// pendingRef is the release of a pending earning, known by the earning's entry id,
// whose return window was over at now.
type pendingRef struct {
	entryID int64
	now     time.Time
}

// lotsDue is the expiry of a member's lots due at now. nonce makes the entry's
// request id new (see expiryRequestID).
type lotsDue struct {
	now   time.Time
	nonce string
}

// pendingState is a pending earning's release row, as locked by the batch and as
// its commands leave it.
type pendingState struct {
	memberID    string
	orderID     string
	points      int64
	releaseTime time.Time
	released    bool
	lotExpire   time.Time
}

// releasable is the release rule: what a pending earning makes available at now.
// Nothing (ok false) once it is released (by another run, or by refunds that voided
// all of it, which mark it released), or before its return window is over; else
// what is left of it as locked, refunds having voided part of it meanwhile.
func releasable(r pendingState, now time.Time) (points int64, ok bool) {
	if r.released || r.points <= 0 || r.releaseTime.After(now) {
		return 0, false
	}
	return r.points, true
}

// dueLots is what expires of a member's lots.
type dueLots struct {
	Points, Lots, FirstLotID int64
}

// lotsDueAt is the expiry rule: the lots past their expiry at now (expire_time <=
// now) with points left, what is left of them, and the first of them by id (which
// names the entry).
func lotsDueAt(lots []*lotState, now time.Time) dueLots {
	var d dueLots
	for _, l := range lots {
		if l.remaining <= 0 || l.expire.After(now) {
			continue
		}
		d.Points += l.remaining
		d.Lots++
		if d.FirstLotID == 0 || l.id < d.FirstLotID {
			d.FirstLotID = l.id
		}
	}
	return d
}

// decideJob sets a job's entry from the state: a release posts what is left of the
// earning as locked, an expiry what is left of the member's due lots. ok is false
// when there is nothing to post any more (the command is answered as skipped); err
// when the plan does not fit the state.
func (st *batchState) decideJob(p plan, m *memberState) (_ plan, ok bool, err error) {
	switch {
	case p.release != nil:
		r := st.releases[p.release.entryID]
		if r == nil {
			// Not found: nothing to release.
			return p, false, nil
		}
		if r.memberID != p.memberID {
			return p, false, fmt.Errorf("pending earning %d is member %s's, not %s's", p.release.entryID, r.memberID, p.memberID)
		}
		points, ok := releasable(*r, p.release.now)
		if !ok {
			return p, false, nil
		}
		p.postings, p.orderID, p.lotExpire, p.lotOrigin = releasePendingPostings(points), r.orderID, r.lotExpire, p.release.entryID
		return p, true, nil
	case p.expireLots != nil:
		due := lotsDueAt(m.lots, p.expireLots.now)
		if due.Points == 0 {
			return p, false, nil // another run, or a redemption, was first
		}
		// Due lots expire before any other, so settleLots, consuming earliest
		// expiry first, takes exactly them.
		p.postings = expiryPostings(due.Points)
		p.requestID = expiryRequestID(due.FirstLotID, p.expireLots.nonce)
		p.fingerprint = fingerprint("expiry", due)
		p.memo = fmt.Sprintf("%d lot(s) expired", due.Lots)
		return p, true, nil
	}
	return p, true, nil
}

// recordRelease marks a pending earning the batch released, for the write step and
// for a later command of the batch.
func (st *batchState) recordRelease(p plan) {
	if p.release == nil {
		return
	}
	st.releases[p.release.entryID].released = true
	st.out.released = append(st.out.released, p.release.entryID)
}
