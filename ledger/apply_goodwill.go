package ledger

import (
	"bytes"
	"fmt"
	"math"
	"time"

	"github.com/loyalty-engine/loyalty/internal/idempotency"
)

// Goodwill in the apply step: a grant is posted, or, above a limited key's limits,
// answered with an approval to write instead of an entry; an admin's decision
// approves (posts the grant) or rejects a waiting approval. The read step locked
// the members, then the keys' usage rows of the day and the approvals decided.

// goodwillGrant is a goodwill grant, decided in the batch against its key's limits.
type goodwillGrant struct {
	points int64
	// limited: an agent key, held to perGrant and perDay (read before the batch,
	// like the program's settings); its usage of the day is the row (keyID, day).
	limited          bool
	keyID            string
	day              time.Time
	perGrant, perDay int64
}

// approvalDecision is an admin's decision on a waiting grant. The plan carries the
// grant as its approval describes it (read before the batch: an approval's member,
// request and points never change); the batch decides it under the approval's lock.
type approvalDecision struct {
	approvalID int64
	approve    bool
	decidedBy  string
}

// goodwillState is what the batch knows of goodwill: the keys' usage of the day,
// and approvals by request (the grants' repeats) and by id (those decided).
type goodwillState struct {
	usage     map[usageKey]*goodwillUsage
	byRequest map[requestKey]*approvalState
	byID      map[int64]*approvalState
	// approvalIDs: ids drawn for the approvals the batch may record.
	approvalIDs []int64
}

type usageKey struct{ keyID, day string }

func usageKeyOf(keyID string, day time.Time) usageKey {
	// A day read back from a date column is another time.Time value for the same
	// day (its location differs): keyed by its text.
	return usageKey{keyID, day.UTC().Format(time.DateOnly)}
}

// goodwillUsage is what a key granted on a day, as locked and as the batch moves it.
type goodwillUsage struct {
	keyID   string
	day     time.Time
	granted int64
	changed bool
}

type approvalState struct {
	approval    Approval
	requestID   string
	fingerprint []byte
}

// goodwillWrites are the goodwill rows a batch writes, with or without entries.
type goodwillWrites struct {
	newApprovals []*approvalState
	decided      []Approval
	usage        []*goodwillUsage
}

func (g *goodwillState) add(a *approvalState) *approvalState {
	if g.byID == nil {
		g.byID, g.byRequest = map[int64]*approvalState{}, map[requestKey]*approvalState{}
	}
	if known, ok := g.byID[a.approval.ID]; ok {
		return known
	}
	g.byID[a.approval.ID] = a
	g.byRequest[requestKey{a.approval.MemberID, a.requestID}] = a
	return a
}

// goodwillNeedsApproval is the rule of a limited key's grant: points above the
// per-grant limit, or taking what the key granted today above the daily limit, wait
// for an admin; the rest are granted at once.
func goodwillNeedsApproval(points, grantedToday, perGrant, perDay int64) bool {
	return points > perGrant || grantedToday > math.MaxInt64-points || grantedToday+points > perDay
}

// approvalStatusAfter is the rule of an admin's decision: only a waiting approval
// is decided, once, to APPROVED or REJECTED.
func approvalStatusAfter(a Approval, approve bool) (string, error) {
	if a.Status != ApprovalPending {
		return "", ErrApprovalNotPending.With("approval %d is already %s", a.ID, a.Status)
	}
	if approve {
		return ApprovalApproved, nil
	}
	return ApprovalRejected, nil
}

// grantOrAsk decides a goodwill grant that is not a repeat of an entry: a repeat of
// a grant that became an approval answers that approval; a limited key's grant
// above its limits becomes a new approval. done is false when the grant is to be
// posted. Like the one-by-one grant before the batch, an approval is recorded
// whether or not the member exists (its approval would then fail).
func (st *batchState) grantOrAsk(p plan) (outcome, bool) {
	g := &st.goodwill
	if a, ok := g.byRequest[requestKey{p.memberID, p.requestID}]; ok {
		if err := idempotency.Check(a.fingerprint, p.fingerprint, p.requestID); err != nil {
			return outcome{err: err}, true
		}
		answer := a.approval
		return outcome{approval: &answer, replayed: true, skipped: true}, true
	}
	gw := p.goodwill
	if !gw.limited {
		return outcome{}, false
	}
	u := g.usage[usageKeyOf(gw.keyID, gw.day)]
	if u == nil {
		return outcome{err: fmt.Errorf("goodwill usage of %s on %s was not read", gw.keyID, gw.day.Format(time.DateOnly))}, true
	}
	if !goodwillNeedsApproval(gw.points, u.granted, gw.perGrant, gw.perDay) {
		return outcome{}, false
	}
	if len(g.approvalIDs) == 0 {
		return outcome{err: fmt.Errorf("an approval for %s, and the batch drew no approval id for it", p.memberID)}, true
	}
	id := g.approvalIDs[0]
	g.approvalIDs = g.approvalIDs[1:]
	a := g.add(&approvalState{requestID: p.requestID, fingerprint: p.fingerprint, approval: Approval{
		ID: id, MemberID: p.memberID, Points: gw.points, ReasonCode: p.reasonCode, TicketID: p.ticketID, Note: p.memo,
		RequestedBy: p.actorKeyID, Status: ApprovalPending, CreateTime: st.sentAt,
	}})
	st.out.goodwill.newApprovals = append(st.out.goodwill.newApprovals, a)
	st.out.events = append(st.out.events, approvalEvent(a.approval, true))
	answer := a.approval
	return outcome{approval: &answer, skipped: true}, true
}

// openDecision decides an approval: one not found or not pending is refused, a
// rejection is answered here (no entry); an approval goes on to post its grant
// (done false) and is closed by goodwillPosted.
func (st *batchState) openDecision(p plan) (outcome, bool) {
	d := p.decide
	a := st.goodwill.byID[d.approvalID]
	if a == nil {
		return outcome{err: ErrApprovalNotFound.With("approval %d not found", d.approvalID)}, true
	}
	status, err := approvalStatusAfter(a.approval, d.approve)
	if err != nil {
		return outcome{err: err}, true
	}
	if status == ApprovalRejected {
		st.closeApproval(a, status, d.decidedBy, 0)
		answer := a.approval
		return outcome{approval: &answer, skipped: true}, true
	}
	// The grant's entry carries its request id. A waiting approval's request has
	// no entry of this grant: what is stored under it is another command's, and
	// the write path's idempotency check refuses it, unless it has the very same
	// fingerprint, which only this grant's entry can have.
	if s, ok := st.stored[requestKey{p.memberID, p.requestID}]; ok && bytes.Equal(s.fingerprint, p.fingerprint) {
		return outcome{err: fmt.Errorf("approval %d is pending, and its grant is posted already (entry %d)", d.approvalID, s.entry.ID)}, true
	}
	return outcome{}, false
}

// goodwillPosted follows a posted goodwill entry: a limited key's grant counts
// towards its day (a later grant of the key in the batch sees it), an approved
// one closes its approval (approved grants do not count towards the agent's day).
func (st *batchState) goodwillPosted(p plan, e Entry, res *outcome) {
	if gw := p.goodwill; gw != nil && gw.limited {
		if u := st.goodwill.usage[usageKeyOf(gw.keyID, gw.day)]; u != nil {
			u.granted += gw.points
			if !u.changed {
				u.changed = true
				st.out.goodwill.usage = append(st.out.goodwill.usage, u)
			}
		}
	}
	if d := p.decide; d != nil {
		a := st.goodwill.byID[d.approvalID]
		st.closeApproval(a, ApprovalApproved, d.decidedBy, e.ID)
		answer := a.approval
		res.approval = &answer
	}
}

func (st *batchState) closeApproval(a *approvalState, status, decidedBy string, entryID int64) {
	a.approval.Status, a.approval.DecidedBy, a.approval.DecideTime, a.approval.EntryID = status, decidedBy, st.sentAt, entryID
	st.out.goodwill.decided = append(st.out.goodwill.decided, a.approval)
	st.out.events = append(st.out.events, approvalEvent(a.approval, false))
}
