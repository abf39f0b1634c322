package ledger

import (
	"context"
	"errors"
	"math"
	"testing"
)

// The goodwill rules (apply_goodwill.go) as tables, and grants and decisions applied
// to a state built by hand, as the read step would leave it. No database.

func TestGoodwillNeedsApproval(t *testing.T) {
	cases := []struct {
		name             string
		points, granted  int64
		perGrant, perDay int64
		wantApproval     bool
	}{
		{"within both limits: granted", 300, 0, 500, 2000, false},
		{"exactly the per-grant limit: granted", 500, 0, 500, 2000, false},
		{"one above the per-grant limit: approval", 501, 0, 500, 2000, true},
		{"filling the day exactly: granted", 400, 1600, 500, 2000, false},
		{"one past the day: approval", 401, 1600, 500, 2000, true},
		{"the day already full: approval", 1, 2000, 500, 2000, true},
		{"zero limits: every grant waits", 1, 0, 0, 0, true},
		{"a day's total that would overflow: approval, not a wrap-around", math.MaxInt64, 1, math.MaxInt64, math.MaxInt64, true},
		{"the largest total that does not overflow: granted", math.MaxInt64 - 1, 1, math.MaxInt64, math.MaxInt64, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := goodwillNeedsApproval(c.points, c.granted, c.perGrant, c.perDay); got != c.wantApproval {
				t.Fatalf("goodwillNeedsApproval(%d, %d, %d, %d) = %v, want %v", c.points, c.granted, c.perGrant, c.perDay, got, c.wantApproval)
			}
		})
	}
}

func TestApprovalStatusAfter(t *testing.T) {
	cases := []struct {
		name       string
		status     string
		approve    bool
		wantStatus string
		wantErr    bool
	}{
		{"a waiting grant approved", ApprovalPending, true, ApprovalApproved, false},
		{"a waiting grant rejected", ApprovalPending, false, ApprovalRejected, false},
		{"approved, approved again: refused", ApprovalApproved, true, "", true},
		{"approved, then rejected: refused", ApprovalApproved, false, "", true},
		{"rejected, then approved: refused", ApprovalRejected, true, "", true},
		{"rejected again: refused", ApprovalRejected, false, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := approvalStatusAfter(Approval{ID: 7, Status: c.status}, c.approve)
			if c.wantErr {
				if p := wantReason(t, err, "APPROVAL_NOT_PENDING"); p.Message != "approval 7 is already "+c.status {
					t.Fatalf("message %q", p.Message)
				}
				return
			}
			if err != nil || got != c.wantStatus {
				t.Fatalf("approvalStatusAfter(%s, %v) = %q, %v; want %q", c.status, c.approve, got, err, c.wantStatus)
			}
		})
	}
}

const agentKey = "key_agent"

// limitedGrant is GrantGoodwill's plan for an agent key with limits of 500 per
// grant and 1,000 per day.
func limitedGrant(memberID, requestID string, points int64) plan {
	p := goodwillPlan(memberID, requestID, points)
	p.actorKeyID, p.ticketID, p.memo = agentKey, "T-"+requestID, "sorry"
	p.goodwill = &goodwillGrant{points: points, limited: true, keyID: agentKey, day: applyT0, perGrant: 500, perDay: 1000}
	return p
}

// decisionPlan is DecideApproval's plan for a waiting approval of a.
func decisionPlan(a *approvalState, approve bool) plan {
	p := plan{memberID: a.approval.MemberID, kind: KindGoodwill, requestID: a.requestID, fingerprint: a.fingerprint,
		actorKeyID: a.approval.RequestedBy, decide: &approvalDecision{approvalID: a.approval.ID, approve: approve, decidedBy: "key_admin"}}
	if approve {
		p.postings, p.reasonCode, p.lotExpire = goodwillPostings(a.approval.Points, "SERVICE"), "SERVICE", applyT0.AddDate(0, 0, 90)
	}
	return p
}

// withGoodwill gives the state the key's usage row as locked and approval ids.
func withGoodwill(st *batchState, granted int64, approvals ...*approvalState) *batchState {
	st.goodwill.usage = map[usageKey]*goodwillUsage{
		usageKeyOf(agentKey, applyT0): {keyID: agentKey, day: applyT0, granted: granted},
	}
	st.goodwill.approvalIDs = []int64{71, 72, 73, 74}
	for _, a := range approvals {
		st.goodwill.add(a)
	}
	return st
}

func waiting(id int64, memberID, requestID string, points int64) *approvalState {
	p := limitedGrant(memberID, requestID, points)
	return &approvalState{requestID: requestID, fingerprint: p.fingerprint, approval: Approval{
		ID: id, MemberID: memberID, Points: points, ReasonCode: "SERVICE", RequestedBy: agentKey, Status: ApprovalPending,
		CreateTime: applyT0.AddDate(0, 0, -1)}}
}

// A batch's grants of one key are decided one after the other: each sees what the
// earlier ones granted today, those past a limit become approvals (with ids drawn
// in the read step), and only the granted ones count.
func TestApplyGrantsOfOneKeyShareTheDay(t *testing.T) {
	st := withGoodwill(newApplyState(stateMember("m", 0), stateMember("n", 0)), 200)
	out := st.apply(context.Background(), []plan{
		limitedGrant("m", "g1", 500), // 700 today
		limitedGrant("n", "g2", 600), // above the per-grant limit
		limitedGrant("n", "g3", 400), // 1,100: past the day
		limitedGrant("m", "g4", 300), // 1,000: exactly the day
		limitedGrant("m", "g1", 500), // a repeat of g1: its entry
		limitedGrant("n", "g3", 400), // a repeat of g3: its approval
	})
	first, fourth := wantOK(t, out[0]), wantOK(t, out[3])
	if first.AvailableAfter != 500 || fourth.AvailableAfter != 800 {
		t.Fatalf("available after %d then %d", first.AvailableAfter, fourth.AvailableAfter)
	}
	for i, id := range map[int]int64{1: 71, 2: 72} {
		o := out[i]
		if o.err != nil || o.approval == nil || o.approval.ID != id || o.approval.Status != ApprovalPending || o.entry.ID != 0 || !o.skipped {
			t.Fatalf("grant %d: %+v, want approval %d and no entry", i, o, id)
		}
	}
	if o := out[4]; !o.replayed || o.entry.ID != first.ID {
		t.Fatalf("repeat of g1: %+v", o)
	}
	if o := out[5]; !o.replayed || o.approval == nil || o.approval.ID != 72 {
		t.Fatalf("repeat of g3: %+v", o)
	}
	w := st.out.goodwill
	if len(w.newApprovals) != 2 || w.newApprovals[1].approval.Points != 400 || w.newApprovals[1].requestID != "g3" ||
		w.newApprovals[1].approval.TicketID != "T-g3" || w.newApprovals[1].approval.CreateTime != applyT0 {
		t.Fatalf("approvals to write %+v", w.newApprovals)
	}
	if len(w.usage) != 1 || w.usage[0].granted != 1000 {
		t.Fatalf("usage to write %+v, want the day at 1000", w.usage)
	}
	if len(st.out.entries) != 2 {
		t.Fatalf("%d entries, want 2", len(st.out.entries))
	}
}

// An unlimited key's grant is posted whatever its size, and counts towards no day.
func TestApplyUnlimitedGrantIsPosted(t *testing.T) {
	st := withGoodwill(newApplyState(stateMember("m", 0)), 0)
	p := goodwillPlan("m", "admin", 50000)
	p.goodwill = &goodwillGrant{points: 50000}
	if e := wantOK(t, st.apply(context.Background(), []plan{p})[0]); e.AvailableAfter != 50000 {
		t.Fatalf("entry %+v", e)
	}
	if len(st.out.goodwill.usage)+len(st.out.goodwill.newApprovals) != 0 {
		t.Fatalf("goodwill rows %+v", st.out.goodwill)
	}
}

// A repeat of a waiting grant answers its approval; another body under its request
// id is a conflict.
func TestApplyRepeatOfAWaitingGrant(t *testing.T) {
	a := waiting(9, "m", "big", 900)
	st := withGoodwill(newApplyState(stateMember("m", 0)), 0, a)
	out := st.apply(context.Background(), []plan{limitedGrant("m", "big", 900), limitedGrant("m", "big", 901)})
	if o := out[0]; o.err != nil || o.approval == nil || o.approval.ID != 9 || !o.replayed {
		t.Fatalf("repeat: %+v", o)
	}
	if !errors.Is(out[1].err, ErrIdempotencyConflict) {
		t.Fatalf("another body: %v", out[1].err)
	}
	if len(st.out.goodwill.newApprovals)+len(st.out.entries) != 0 {
		t.Fatalf("rows written for repeats: %+v", st.out)
	}
}

// Decisions: an approval posts the grant under its request id and closes the
// approval with the entry; a second decision of it in the batch is refused; the
// agent's retry after it answers the entry; a rejection posts nothing; an unknown
// approval is not found. Approved grants do not count towards the agent's day.
func TestApplyDecisions(t *testing.T) {
	big, other := waiting(9, "m", "big", 900), waiting(10, "m", "other", 700)
	st := withGoodwill(newApplyState(stateMember("m", 0)), 0, big, other)
	out := st.apply(context.Background(), []plan{
		limitedGrant("m", "big", 900), // before the approval: the waiting approval
		decisionPlan(big, true),
		decisionPlan(big, false),
		limitedGrant("m", "big", 900), // after it: the entry
		decisionPlan(other, false),
		decisionPlan(other, true),
		{memberID: "m", requestID: "x", decide: &approvalDecision{approvalID: 404, approve: true}},
	})
	if o := out[0]; o.approval == nil || o.approval.Status != ApprovalPending {
		t.Fatalf("grant before the approval: %+v", o)
	}
	e := wantOK(t, out[1])
	if a := out[1].approval; a == nil || a.Status != ApprovalApproved || a.EntryID != e.ID || a.DecidedBy != "key_admin" ||
		a.DecideTime != applyT0 || e.RequestID != "big" || e.AvailableAfter != 900 {
		t.Fatalf("approval: %+v %+v", out[1].approval, e)
	}
	wantReason(t, out[2].err, "APPROVAL_NOT_PENDING")
	if o := out[3]; !o.replayed || o.entry.ID != e.ID {
		t.Fatalf("retry after the approval: %+v", o)
	}
	if o := out[4]; o.err != nil || o.approval == nil || o.approval.Status != ApprovalRejected || o.approval.EntryID != 0 || o.entry.ID != 0 {
		t.Fatalf("rejection: %+v", o)
	}
	wantReason(t, out[5].err, "APPROVAL_NOT_PENDING")
	wantReason(t, out[6].err, "APPROVAL_NOT_FOUND")
	w := st.out.goodwill
	if len(w.decided) != 2 || w.decided[0].ID != 9 || w.decided[0].Status != ApprovalApproved || w.decided[1].Status != ApprovalRejected {
		t.Fatalf("decided %+v", w.decided)
	}
	if len(w.usage) != 0 || len(st.out.entries) != 1 {
		t.Fatalf("usage %+v, %d entries", w.usage, len(st.out.entries))
	}
}

// An approval of a grant whose member is gone posts nothing and leaves the
// approval waiting, as a decision in a transaction of its own did.
func TestApplyApprovalOfAnUnknownMember(t *testing.T) {
	a := waiting(9, "ghost", "g", 100)
	st := withGoodwill(newApplyState(), 0, a)
	out := st.apply(context.Background(), []plan{decisionPlan(a, true)})
	wantReason(t, out[0].err, "MEMBER_NOT_FOUND")
	if a.approval.Status != ApprovalPending || len(st.out.goodwill.decided) != 0 {
		t.Fatalf("approval %+v, decided %+v", a.approval, st.out.goodwill.decided)
	}
}

func TestGoodwillNeedsOfSortsAndCounts(t *testing.T) {
	late := limitedGrant("m", "a", 1)
	late.goodwill.keyID = "key_z"
	early := limitedGrant("n", "b", 1)
	early.goodwill.keyID = "key_a"
	admin := goodwillPlan("m", "c", 1)
	admin.goodwill = &goodwillGrant{points: 1}
	a := waiting(12, "m", "d", 1)
	n := goodwillNeedsOf([]plan{late, early, limitedGrant("m", "e", 1), admin, decisionPlan(a, true), decisionPlan(waiting(3, "n", "f", 1), false), decisionPlan(a, false)})
	if len(n.usageKeys) != 3 || n.usageKeys[0] != "key_a" || n.usageKeys[1] != agentKey || n.usageKeys[2] != "key_z" {
		t.Fatalf("usage keys %v", n.usageKeys)
	}
	if n.newApprovals != 3 || len(n.requestIDs) != 4 {
		t.Fatalf("%d new approvals, %d request ids", n.newApprovals, len(n.requestIDs))
	}
	if len(n.decided) != 2 || n.decided[0] != 3 || n.decided[1] != 12 {
		t.Fatalf("decided %v", n.decided)
	}
}
