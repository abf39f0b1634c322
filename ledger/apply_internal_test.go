package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/tiers"
)

// The apply step (apply.go) on a state built by hand, as the read step would leave
// it, and plans built as Earn, Redeem, Reverse and Goodwill build theirs. No
// database: what is checked is each command's answer and the write set.

var applyT0 = time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC)

const (
	firstEntryID = 1001
	firstLotID   = 501
)

// newApplyState is a batch's state with the given members and ids drawn for 64
// entries and lots.
func newApplyState(members ...*memberState) *batchState {
	st := &batchState{
		sentAt: applyT0, members: map[string]*memberState{}, stored: map[requestKey]storedEntry{},
		earned: map[orderKey]bool{}, reversed: map[int64]bool{}, restorable: map[int64][]*restorable{},
		metrics: map[metricKey]metricSum{}, moves: map[string][]metricMove{},
	}
	for i := range int64(64) {
		st.entryIDs = append(st.entryIDs, firstEntryID+i)
		st.lotIDs = append(st.lotIDs, firstLotID+i)
	}
	for _, m := range members {
		st.members[m.id] = m
	}
	return st
}

// stateMember is a member with an available balance held in the given lots.
func stateMember(id string, available int64, lots ...*lotState) *memberState {
	return &memberState{id: id, available: available, lots: lots, joinTime: applyT0.AddDate(-1, 0, 0)}
}

// openLot is a lot read from the database: remaining points, expiring in days.
func openLot(id, origin, remaining int64, expireDays int) *lotState {
	return &lotState{id: id, origin: origin, remaining: remaining, expire: applyT0.AddDate(0, 0, expireDays)}
}

// explicitEarn is Earn's plan for explicit points: no tier part, no order.
func explicitEarn(memberID, requestID string, points int64, expireDays int) plan {
	policy := tiers.DefaultPolicy()
	cmd := Earn{MemberID: memberID, RequestID: requestID, Points: points}
	ep := &earnPlan{policy: policy, credit: AccountAvailable, points: points,
		lines: []BreakdownLine{{Source: tiers.SourceExplicit, Points: points, Description: "explicit points"}}}
	return plan{memberID: memberID, kind: KindEarn, requestID: requestID, fingerprint: fingerprint("earn", cmd),
		lotExpire: applyT0.AddDate(0, 0, expireDays), at: applyT0, earn: ep}
}

// orderEarn is Earn's plan for an order's spend at one point per minor unit: BASE
// points, the member's tier part, the order recorded.
func orderEarn(policy tiers.Policy, memberID, requestID, orderID string, spend int64, at time.Time) plan {
	cmd := Earn{MemberID: memberID, RequestID: requestID, SpendMinor: spend, Currency: "CNY", OrderID: orderID}
	ep := &earnPlan{policy: policy, credit: AccountAvailable, points: spend, base: spend, spend: spend, applyTier: true,
		lines: []BreakdownLine{{Source: tiers.SourceBase, Points: spend, Description: "base"}}}
	if policy.Counts(tiers.SourceBase) {
		ep.qualifyingPoints = spend
	}
	return plan{memberID: memberID, kind: KindEarn, requestID: requestID, fingerprint: fingerprint("earn", cmd),
		orderID: orderID, lotExpire: at.AddDate(1, 0, 0), at: at, earn: ep,
		recordOrder: true, orderSpendMinor: spend, orderCurrency: "CNY"}
}

func redeemPlan(memberID, requestID string, points int64) plan {
	cmd := Redeem{MemberID: memberID, RequestID: requestID, Points: points}
	return plan{memberID: memberID, kind: KindRedeem, requestID: requestID, fingerprint: fingerprint("redeem", cmd),
		postings: redeemPostings(points)}
}

// reversalPlan is Reverse's plan for an entry with the given postings: a give-back
// restores what the original consumed, a take-away prefers the original's lot.
func reversalPlan(memberID, requestID string, original int64, postings []Posting) plan {
	p := plan{memberID: memberID, kind: KindReversal, requestID: requestID,
		fingerprint: fingerprint("reverse", Reverse{EntryID: original, RequestID: requestID, Reason: "test"}),
		postings:    reversalPostings(postings), reverses: original}
	if d, _, _ := split(p.postings); d.available > 0 {
		p.restoreFrom, p.lotExpire = []int64{original}, applyT0.AddDate(1, 0, 0)
	} else {
		p.preferLotOrigin = original
	}
	return p
}

func goodwillPlan(memberID, requestID string, points int64) plan {
	return plan{memberID: memberID, kind: KindGoodwill, requestID: requestID,
		fingerprint: fingerprint("goodwill", Earn{MemberID: memberID, RequestID: requestID, Points: points}),
		postings:    goodwillPostings(points, "SERVICE"), reasonCode: "SERVICE", lotExpire: applyT0.AddDate(0, 0, 90)}
}

// wantReason fails unless err is the declared error with that reason.
func wantReason(t *testing.T, err error, reason string) *problem.Error {
	t.Helper()
	p, ok := problem.As(err)
	if !ok || p.Reason != reason {
		t.Fatalf("err = %v, want %s", err, reason)
	}
	return p
}

func wantOK(t *testing.T, o outcome) Entry {
	t.Helper()
	if o.err != nil || o.replayed || o.skipped {
		t.Fatalf("outcome %+v, want a new entry", o)
	}
	return o.entry
}

func wantLot(t *testing.T, l *lotState, remaining int64) {
	t.Helper()
	if l.remaining != remaining {
		t.Fatalf("lot %d has %d remaining, want %d", l.id, l.remaining, remaining)
	}
}

func wantMoves(t *testing.T, got []lotMove, want ...lotMove) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lot moves\n got %v\nwant %v", got, want)
	}
}

func wantNothingWritten(t *testing.T, st *batchState) {
	t.Helper()
	w := st.out
	if len(w.entries)+len(w.newLots)+len(w.lotMoves)+len(w.movedLots)+len(w.orders)+len(w.metricMoves)+len(w.upgrades)+len(w.systemAccounts) > 0 {
		t.Fatalf("the write set is not empty: %+v", w)
	}
}

func TestApplyRefusals(t *testing.T) {
	ctx := context.Background()
	stored := Entry{ID: 77, MemberID: "m", Kind: KindRedeem, RequestID: "r-old", AvailableAfter: 5,
		Postings: redeemPostings(5)}
	cases := []struct {
		name   string
		setup  func(st *batchState)
		plan   plan
		reason string // "" : answered with the stored entry, replayed
		check  func(t *testing.T, o outcome)
	}{
		{name: "an overdraft is refused with what is available and what was asked",
			plan: redeemPlan("m", "r1", 31), reason: "INSUFFICIENT_POINTS",
			check: func(t *testing.T, o outcome) {
				p := wantReason(t, o.err, "INSUFFICIENT_POINTS")
				if p.Metadata["available"] != "30" || p.Metadata["requested"] != "31" {
					t.Fatalf("metadata %v, want available 30 and requested 31", p.Metadata)
				}
			}},
		{name: "a repeat answers the stored entry",
			setup: func(st *batchState) {
				st.stored[requestKey{"m", "r-old"}] = storedEntry{entry: stored, fingerprint: redeemPlan("m", "r-old", 5).fingerprint}
			},
			plan: redeemPlan("m", "r-old", 5),
			check: func(t *testing.T, o outcome) {
				if !o.replayed || o.err != nil || o.entry.ID != 77 {
					t.Fatalf("outcome %+v, want entry 77 replayed", o)
				}
			}},
		{name: "a request id reused with another body conflicts",
			setup: func(st *batchState) {
				st.stored[requestKey{"m", "r-old"}] = storedEntry{entry: stored, fingerprint: redeemPlan("m", "r-old", 5).fingerprint}
			},
			plan: redeemPlan("m", "r-old", 6), reason: "IDEMPOTENCY_CONFLICT"},
		{name: "an unknown member is not found", plan: redeemPlan("nobody", "r1", 1), reason: "MEMBER_NOT_FOUND"},
		{name: "an order that earned already is refused",
			setup: func(st *batchState) { st.earned[orderKey{"m", "o1"}] = true },
			plan:  orderEarn(tiers.DefaultPolicy(), "m", "e1", "o1", 100, applyT0), reason: "ORDER_ALREADY_EARNED"},
		{name: "the same order for another member is not",
			setup: func(st *batchState) { st.earned[orderKey{"other", "o1"}] = true },
			plan:  orderEarn(tiers.DefaultPolicy(), "m", "e1", "o1", 100, applyT0),
			check: func(t *testing.T, o outcome) { wantOK(t, o) }},
		{name: "an entry reversed already is refused",
			setup: func(st *batchState) { st.reversed[900] = true },
			plan:  reversalPlan("m", "v1", 900, redeemPostings(10)), reason: "ALREADY_REVERSED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := openLot(1, 100, 30, 30)
			st := newApplyState(stateMember("m", 30, l))
			if c.setup != nil {
				c.setup(st)
			}
			o := st.apply(ctx, []plan{c.plan})[0]
			if c.check != nil {
				c.check(t, o)
			}
			if c.reason != "" || o.replayed {
				if c.reason != "" {
					wantReason(t, o.err, c.reason)
				}
				wantNothingWritten(t, st)
				if m := st.members["m"]; m.available != 30 || m.touched {
					t.Fatalf("member moved to %d (touched %v) by a refused command", m.available, m.touched)
				}
				wantLot(t, l, 30)
			}
		})
	}
}

// Within a batch, a refusal takes no id, and a command sees the entries of the
// commands before it: a repeat of one answers it, a reused id with another body
// conflicts, a second earning of one order and a second reversal are refused.
func TestApplyCommandsOfOneBatchSeeEachOther(t *testing.T) {
	ctx := context.Background()
	st := newApplyState(stateMember("m", 30, openLot(1, 100, 30, 30)))
	policy := tiers.DefaultPolicy()
	out := st.apply(ctx, []plan{
		redeemPlan("m", "r1", 40),
		redeemPlan("m", "r2", 10),
		redeemPlan("m", "r2", 10),
		redeemPlan("m", "r2", 11),
		orderEarn(policy, "m", "e1", "o1", 100, applyT0),
		orderEarn(policy, "m", "e2", "o1", 100, applyT0),
		reversalPlan("m", "v1", 1001, redeemPostings(10)),
		reversalPlan("m", "v2", 1001, redeemPostings(10)),
		reversalPlan("m", "v1", 1001, redeemPostings(10)),
		explicitEarn("nobody", "x1", 5, 10),
		redeemPlan("m", "r3", 130),
	})
	wants := []struct {
		id       int64
		reason   string
		replayed bool
		after    int64
	}{
		{0, "INSUFFICIENT_POINTS", false, 0},
		{1001, "", false, 20},
		{1001, "", true, 20},
		{0, "IDEMPOTENCY_CONFLICT", false, 0},
		{1002, "", false, 120},
		{0, "ORDER_ALREADY_EARNED", false, 0},
		{1003, "", false, 130},
		{0, "ALREADY_REVERSED", false, 0},
		{1003, "", true, 130},
		{0, "MEMBER_NOT_FOUND", false, 0},
		{1004, "", false, 0},
	}
	for i, w := range wants {
		o := out[i]
		if w.reason != "" {
			wantReason(t, o.err, w.reason)
			continue
		}
		if o.err != nil || o.replayed != w.replayed || o.entry.ID != w.id || o.entry.AvailableAfter != w.after {
			t.Fatalf("command %d: %+v, want entry %d (replayed %v) leaving %d", i, o, w.id, w.replayed, w.after)
		}
	}
	if n := len(st.out.entries); n != 4 {
		t.Fatalf("%d entries written, want 4", n)
	}
	if m := st.members["m"]; m.available != 0 || !m.touched {
		t.Fatalf("member left at %d (touched %v), want 0", m.available, m.touched)
	}
}

// An earning and a redemption of one member in one batch: the redemption sees the
// earning's new lot and consumes it first, as it expires first.
func TestApplyRedeemConsumesALotOpenedEarlierInTheBatch(t *testing.T) {
	old := openLot(1, 100, 30, 60)
	st := newApplyState(stateMember("m", 30, old))
	out := st.apply(context.Background(), []plan{
		explicitEarn("m", "e1", 50, 10),
		redeemPlan("m", "r1", 60),
	})
	earn, redeem := wantOK(t, out[0]), wantOK(t, out[1])
	if earn.AvailableAfter != 80 || redeem.AvailableAfter != 20 {
		t.Fatalf("available after %d then %d, want 80 then 20", earn.AvailableAfter, redeem.AvailableAfter)
	}
	if len(st.out.newLots) != 1 {
		t.Fatalf("%d lots opened, want 1", len(st.out.newLots))
	}
	fresh := st.out.newLots[0].lot
	if fresh.id != firstLotID || fresh.origin != earn.ID || fresh.points != 50 || !fresh.expire.Equal(applyT0.AddDate(0, 0, 10)) {
		t.Fatalf("new lot %+v, want lot %d of entry %d, 50 points, expiring in 10 days", fresh, firstLotID, earn.ID)
	}
	wantLot(t, fresh, 0) // inserted with what is left of it
	wantLot(t, old, 20)
	wantMoves(t, st.out.lotMoves,
		lotMove{memberID: "m", lotID: firstLotID, entryID: redeem.ID, source: redeem.ID, points: -50},
		lotMove{memberID: "m", lotID: 1, entryID: redeem.ID, source: redeem.ID, points: -10})
	if len(st.out.movedLots) != 1 || st.out.movedLots[0] != old {
		t.Fatalf("moved lots %v, want only the old lot (the new one is inserted as it ends)", st.out.movedLots)
	}
	if fmt.Sprint(st.out.systemAccounts, st.out.systemAmounts) != fmt.Sprint([]string{AccountIssued, AccountRedeemed}, []int64{-50, 60}) {
		t.Fatalf("system deltas %v %v", st.out.systemAccounts, st.out.systemAmounts)
	}
}

// A reversal of a redemption in the same batch gives the points back to the lots
// the redemption consumed, latest expiry first, and opens no lot.
func TestApplyGiveBackOfWhatTheBatchConsumed(t *testing.T) {
	soon, late := openLot(1, 100, 30, 10), openLot(2, 200, 30, 20)
	st := newApplyState(stateMember("m", 60, soon, late))
	out := st.apply(context.Background(), []plan{
		redeemPlan("m", "r1", 40),
		reversalPlan("m", "v1", firstEntryID, redeemPostings(40)),
	})
	redeem, back := wantOK(t, out[0]), wantOK(t, out[1])
	if back.AvailableAfter != 60 || back.ReversesEntryID != redeem.ID {
		t.Fatalf("reversal %+v, want 60 available, reversing %d", back, redeem.ID)
	}
	wantLot(t, soon, 30)
	wantLot(t, late, 30)
	wantMoves(t, st.out.lotMoves,
		lotMove{memberID: "m", lotID: 1, entryID: redeem.ID, source: redeem.ID, points: -30},
		lotMove{memberID: "m", lotID: 2, entryID: redeem.ID, source: redeem.ID, points: -10},
		lotMove{memberID: "m", lotID: 2, entryID: back.ID, source: redeem.ID, points: 10},
		lotMove{memberID: "m", lotID: 1, entryID: back.ID, source: redeem.ID, points: 30})
	if len(st.out.newLots) != 0 || len(st.out.movedLots) != 2 {
		t.Fatalf("%d lots opened, %d moved; want 0 and 2 (each once)", len(st.out.newLots), len(st.out.movedLots))
	}
	if !st.reversed[redeem.ID] {
		t.Fatal("the redemption is not marked reversed")
	}
}

// A give-back of a redemption stored before the batch: what the read step found
// restorable returns to its lot; a credit beyond it opens a lot.
func TestApplyGiveBackOfAStoredConsumption(t *testing.T) {
	spent := openLot(1, 100, 0, 10)
	st := newApplyState(stateMember("m", 0, spent))
	st.restorable[900] = []*restorable{{lot: spent, points: 25}}
	p := reversalPlan("m", "v1", 900, redeemPostings(25))
	p.postings = []Posting{{AccountAvailable, 40}, {AccountRedeemed, -40}} // more than was consumed
	e := wantOK(t, st.apply(context.Background(), []plan{p})[0])
	wantLot(t, spent, 25)
	if len(st.out.newLots) != 1 || st.out.newLots[0].lot.points != 15 || st.out.newLots[0].lot.origin != e.ID {
		t.Fatalf("new lots %+v, want one of 15 points from entry %d", st.out.newLots, e.ID)
	}
	if st.restorable[900][0].points != 0 {
		t.Fatalf("%d points still restorable, want 0", st.restorable[900][0].points)
	}
}

// A member in debt: a credit repays the debt first and opens a lot only for what
// is above zero; one that leaves the member in debt opens none and takes no lot id.
func TestApplyCreditRepaysDebtFirst(t *testing.T) {
	st := newApplyState(stateMember("m", -30, nil...))
	out := st.apply(context.Background(), []plan{
		goodwillPlan("m", "g1", 10),
		goodwillPlan("m", "g2", 50),
	})
	first, second := wantOK(t, out[0]), wantOK(t, out[1])
	if first.AvailableAfter != -20 || second.AvailableAfter != 30 {
		t.Fatalf("available after %d then %d, want -20 then 30", first.AvailableAfter, second.AvailableAfter)
	}
	if len(st.out.newLots) != 1 {
		t.Fatalf("%d lots opened, want 1", len(st.out.newLots))
	}
	l := st.out.newLots[0].lot
	if l.id != firstLotID || l.points != 30 || l.remaining != 30 || l.entryID != second.ID {
		t.Fatalf("lot %+v, want lot %d of 30 points from entry %d", l, firstLotID, second.ID)
	}
	if len(st.out.lotMoves) != 0 {
		t.Fatalf("lot moves %v, want none", st.out.lotMoves)
	}
}

// earnLines is the breakdown's sources and points.
func earnLines(lines []BreakdownLine) string {
	s := ""
	for _, l := range lines {
		s += fmt.Sprintf("%s:%d ", l.Source, l.Points)
	}
	return s
}

func TestApplyEarningWithTheMembersTier(t *testing.T) {
	policy := tiers.DefaultPolicy() // silver 125%, gold 150%, platinum 200%
	silver := tiers.State{TierID: "silver", PeriodEnd: applyT0.AddDate(1, 0, 0)}
	cases := []struct {
		name        string
		tier        tierState
		wantTier    string
		wantPercent int32
		wantPart    int64
	}{
		{"the bottom tier adds nothing", tierState{}, "member", 100, 0},
		{"a 150% tier adds half the base", tierState{state: tiers.State{TierID: "gold", PeriodEnd: applyT0.AddDate(1, 0, 0)}}, "gold", 150, 50},
		{"a paid membership active at the instant beats the qualified tier",
			tierState{state: silver, memberships: []tiers.Membership{{TierID: "platinum", StartTime: applyT0.Add(-time.Hour), EndTime: applyT0.AddDate(0, 1, 0)}}},
			"platinum", 200, 100},
		{"a membership ended before the instant does not",
			tierState{state: silver, memberships: []tiers.Membership{{TierID: "platinum", StartTime: applyT0.AddDate(0, -1, 0), EndTime: applyT0}}},
			"silver", 125, 25},
		{"a membership cancelled before the instant does not",
			tierState{state: silver, memberships: []tiers.Membership{{TierID: "platinum", StartTime: applyT0.AddDate(0, -1, 0), EndTime: applyT0.AddDate(0, 1, 0), CancelTime: applyT0.Add(-time.Minute)}}},
			"silver", 125, 25},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := stateMember("m", 0)
			m.tier = &c.tier
			st := newApplyState(m)
			o := st.apply(context.Background(), []plan{orderEarn(policy, "m", "e1", "o1", 100, applyT0)})[0]
			e := wantOK(t, o)
			total := 100 + c.wantPart
			wantLines := "BASE:100 "
			if c.wantPart > 0 {
				wantLines += fmt.Sprintf("TIER:%d ", c.wantPart)
			}
			if o.points != total || earnLines(o.breakdown) != wantLines {
				t.Fatalf("earned %d as %q, want %d as %q", o.points, earnLines(o.breakdown), total, wantLines)
			}
			if fmt.Sprint(e.Postings) != fmt.Sprint([]Posting{{AccountAvailable, total}, {AccountIssued, -total}}) || e.AvailableAfter != total {
				t.Fatalf("entry %+v, want %d credited from issued", e, total)
			}
			if len(st.out.orders) != 1 {
				t.Fatalf("%d orders recorded, want 1", len(st.out.orders))
			}
			ord := st.out.orders[0]
			var perks tiers.Perks
			if err := json.Unmarshal([]byte(ord.perks), &perks); err != nil {
				t.Fatal(err)
			}
			if ord.tierID != c.wantTier || perks.EarnMultiplierPercent != c.wantPercent || ord.earnedPoints != total ||
				ord.spendMinor != 100 || !ord.qualifies || ord.metricPoints != total {
				t.Fatalf("order %+v (perks %+v), want tier %s at %d%%, %d points qualifying", ord, perks, c.wantTier, c.wantPercent, total)
			}
			if len(st.out.metricMoves) != 1 || st.out.metricMoves[0].points != total || !st.out.metricMoves[0].day.Equal(tiers.Day(applyT0)) {
				t.Fatalf("metric moves %+v, want %d points today", st.out.metricMoves, total)
			}
		})
	}
}

// An earning that reaches a threshold upgrades the member at once; the next
// earning of the batch earns at the new tier and does not upgrade again.
func TestApplyUpgradesOnceWhenAThresholdIsReached(t *testing.T) {
	policy := tiers.DefaultPolicy() // silver from 1,000 qualifying points
	m := stateMember("m", 0)
	m.tier = &tierState{}
	st := newApplyState(m)
	st.metrics[metricKey{"m", policy.WindowStart(applyT0)}] = metricSum{points: 900}
	out := st.apply(context.Background(), []plan{
		orderEarn(policy, "m", "e1", "o1", 200, applyT0),
		orderEarn(policy, "m", "e2", "o2", 200, applyT0.Add(time.Minute)),
	})
	first, second := out[0], out[1]
	wantOK(t, first)
	wantOK(t, second)
	if first.points != 200 || second.points != 250 {
		t.Fatalf("earned %d then %d, want 200 (member) then 250 (silver, 125%%)", first.points, second.points)
	}
	if len(st.out.upgrades) != 1 {
		t.Fatalf("%d upgrades, want 1: %+v", len(st.out.upgrades), st.out.upgrades)
	}
	u := st.out.upgrades[0]
	if u.memberID != "m" || u.from != "member" || u.to != "silver" || u.metric != 1100 ||
		!u.periodEnd.Equal(applyT0.AddDate(0, 0, 365)) || !u.at.Equal(applyT0) {
		t.Fatalf("upgrade %+v, want member to silver at 1,100, for 365 days from the earning", u)
	}
	if m.tier.state.TierID != "silver" || !m.tier.upgraded {
		t.Fatalf("tier state %+v, want silver, upgraded", m.tier)
	}
	if st.out.orders[1].tierID != "silver" {
		t.Fatalf("second order recorded tier %q, want silver", st.out.orders[1].tierID)
	}
}

// An earning of zero points (nothing known, no campaign gave) posts nothing.
func TestApplyEarningOfNothingIsSkipped(t *testing.T) {
	st := newApplyState(stateMember("m", 0))
	p := explicitEarn("m", "e1", 0, 10)
	p.earn.lines = nil
	o := st.apply(context.Background(), []plan{p})[0]
	if !o.skipped || o.err != nil {
		t.Fatalf("outcome %+v, want skipped", o)
	}
	wantNothingWritten(t, st)
}
