package ledger

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// Table tests of the refund rules (apply_refund.go), and of a refund applied to a
// state built by hand, without a database.

func ptr[T any](v T) *T { return &v }

// spendOrder is an order that earned points from a spend, with a qualifying metric
// on its day.
func spendOrder(spend, points int64) ledgerdb.Order {
	day := ruleT0.Truncate(24 * time.Hour)
	return ledgerdb.Order{MemberID: "m", OrderID: "o", EarnEntryID: ptr(int64(7)), SpendMinor: ptr(spend), Currency: "CNY",
		EarnedPoints: points, MetricPoints: points, MetricSpend: spend, MetricDay: &day}
}

func TestDecideRefund(t *testing.T) {
	campaign := func(points, returned int64) OrderGrant {
		return OrderGrant{CampaignID: "c", Account: CampaignAccount("c"), Points: points, Returned: returned}
	}
	redeemedOnly := ledgerdb.Order{MemberID: "m", OrderID: "o"}
	half := spendOrder(10000, 100)
	half.RefundedMinor, half.PointsTakenBack, half.MetricPointsTaken, half.MetricSpendTaken = 5000, 50, 50, 5000
	full := spendOrder(10000, 100)
	full.RefundedMinor, full.FullyRefunded = 10000, true
	explicit := spendOrder(0, 40)
	explicit.SpendMinor = nil
	cases := []struct {
		name   string
		order  ledgerdb.Order
		amount int64
		facts  refundFacts
		reason string // a refusal
		// want: amount, take, from pending, give, metric points and spend off,
		// and the order's refunded, taken back and returned after.
		amountMinor, take int64
		fromPending       bool
		give              int64
		metricPoints      int64
		metricSpend       int64
		refunded, taken   int64
		returned          int64
		fully             bool
		sources           []Posting
	}{
		{name: "a full refund takes back all, from available", order: spendOrder(10000, 100),
			amountMinor: 10000, take: 100, metricPoints: 100, metricSpend: 10000, refunded: 10000, taken: 100, fully: true,
			sources: []Posting{{AccountIssued, 100}}},
		{name: "inside the return window: from pending", order: spendOrder(10000, 100), facts: refundFacts{earningPending: true},
			amountMinor: 10000, take: 100, fromPending: true, metricPoints: 100, metricSpend: 10000, refunded: 10000, taken: 100, fully: true,
			sources: []Posting{{AccountIssued, 100}}},
		{name: "a partial refund takes its share, floor", order: spendOrder(10000, 99), amount: 3333,
			amountMinor: 3333, take: 32, metricPoints: 32, metricSpend: 3333, refunded: 3333, taken: 32,
			sources: []Posting{{AccountIssued, 32}}},
		{name: "the refund completing the order takes exactly what is left", order: half,
			amountMinor: 5000, take: 50, metricPoints: 50, metricSpend: 5000, refunded: 10000, taken: 100, fully: true,
			sources: []Posting{{AccountIssued, 50}}},
		{name: "more than is left is refused", order: half, amount: 5001, reason: "REFUND_EXCEEDS_ORDER"},
		{name: "a fully refunded order refuses", order: full, reason: "REFUND_EXCEEDS_ORDER"},
		{name: "an order without a spend refuses an amount", order: explicit, amount: 10, reason: "INVALID_ARGUMENT"},
		{name: "an order without a spend is refunded in full", order: explicit,
			take: 40, metricPoints: 40, metricSpend: 0, taken: 40, fully: true, sources: []Posting{{AccountIssued, 40}}},
		{name: "a reversed earning: nothing taken, the metric left alone", order: spendOrder(10000, 100),
			facts:       refundFacts{earningReversed: true, redeemed: 30},
			amountMinor: 10000, give: 30, refunded: 10000, returned: 30, fully: true},
		{name: "redeemed points come back in the same share", order: spendOrder(10000, 100), amount: 2500,
			facts:       refundFacts{redeemed: 200},
			amountMinor: 2500, take: 25, give: 50, metricPoints: 25, metricSpend: 2500, refunded: 2500, taken: 25, returned: 50,
			sources: []Posting{{AccountIssued, 25}}},
		{name: "an order only redeemed on gives back all", order: redeemedOnly, facts: refundFacts{redeemed: 80},
			give: 80, returned: 80, fully: true},
		{name: "a campaign gets its share back, the rest goes to issued", order: spendOrder(10000, 150), amount: 5000,
			facts:       refundFacts{grants: []OrderGrant{campaign(50, 0)}},
			amountMinor: 5000, take: 75, metricPoints: 75, metricSpend: 5000, refunded: 5000, taken: 75,
			sources: []Posting{{AccountIssued, 50}, {CampaignAccount("c"), 25}}},
		{name: "a campaign's earlier give-back counts", order: spendOrder(10000, 150), amount: 10000,
			facts:       refundFacts{grants: []OrderGrant{campaign(50, 50)}},
			amountMinor: 10000, take: 150, metricPoints: 150, metricSpend: 10000, refunded: 10000, taken: 150, fully: true,
			sources: []Posting{{AccountIssued, 150}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := decideRefund(c.order, c.amount, c.facts)
			if c.reason != "" {
				wantReason(t, err, c.reason)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprint(d.amountMinor, d.take, d.fromPending, d.give, d.metricPoints, d.metricSpend,
				d.order.RefundedMinor, d.order.PointsTakenBack, d.order.PointsReturned, d.order.FullyRefunded)
			want := fmt.Sprint(c.amountMinor, c.take, c.fromPending, c.give, c.metricPoints, c.metricSpend,
				c.refunded, c.taken, c.returned, c.fully)
			if got != want {
				t.Errorf("amount, take, pending, give, metric, order = %s, want %s", got, want)
			}
			if !reflect.DeepEqual(d.sources, c.sources) {
				t.Errorf("sources %v, want %v", d.sources, c.sources)
			}
		})
	}
}

func TestRefundSourcesSplitTheTakeBack(t *testing.T) {
	g := func(id string, points, returned int64) OrderGrant {
		return OrderGrant{CampaignID: id, Account: CampaignAccount(id), Points: points, Returned: returned}
	}
	half := func(v int64) int64 { return v / 2 }
	all := func(v int64) int64 { return v }
	cases := []struct {
		name    string
		points  int64
		grants  []OrderGrant
		share   func(int64) int64
		want    []Posting
		wantBck []int64
	}{
		{"no campaign: all to issued", 40, nil, all, []Posting{{AccountIssued, 40}}, []int64{}},
		{"each campaign its share", 60, []OrderGrant{g("a", 20, 0), g("b", 30, 0)}, half,
			[]Posting{{AccountIssued, 35}, {CampaignAccount("a"), 10}, {CampaignAccount("b"), 15}}, []int64{10, 15}},
		{"never more than is taken", 12, []OrderGrant{g("a", 20, 0), g("b", 30, 0)}, all,
			[]Posting{{CampaignAccount("a"), 12}}, []int64{12, 0}},
		{"what came back before is not given twice", 30, []OrderGrant{g("a", 20, 10)}, all,
			[]Posting{{AccountIssued, 20}, {CampaignAccount("a"), 10}}, []int64{10}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, backs := refundSources(c.points, c.grants, c.share)
			if !reflect.DeepEqual(got, c.want) || !reflect.DeepEqual(backs, c.wantBck) {
				t.Fatalf("refundSources = %v %v, want %v %v", got, backs, c.want, c.wantBck)
			}
		})
	}
}

// refundState is the refunds' state for the order o of member m, as read.
func refundStateOf(o *refundOrder, earnings map[int64]*earningState) *refundState {
	if earnings == nil {
		earnings = map[int64]*earningState{}
	}
	return &refundState{orders: map[orderKey]*refundOrder{{o.row.MemberID, o.row.OrderID}: o},
		stored: map[requestKey]ledgerdb.Refund{}, earnings: earnings}
}

func refundCmd(memberID, orderID, requestID string, amount int64) plan {
	cmd := Refund{MemberID: memberID, OrderID: orderID, RequestID: requestID, AmountMinor: amount}
	return plan{memberID: memberID, kind: KindRefund, requestID: requestID, fingerprint: fingerprint("refund", cmd),
		orderID: orderID, memo: "order refunded", lotExpire: applyT0.AddDate(1, 0, 0), refund: &refundPlan{amountMinor: amount}}
}

// Two refunds of one order in one batch: the second sees the first; a repeat in the
// batch answers the first; the pending release is voided once, summed.
func TestRefundsOfAnOrderInOneBatchSeeEachOther(t *testing.T) {
	ctx := context.Background()
	st := newApplyState(stateMember("m", 0))
	st.members["m"].pending = 100
	o := &refundOrder{row: spendOrder(10000, 100), exists: true}
	st.refunds = refundStateOf(o, map[int64]*earningState{7: {pending: true, pendingPoints: 100}})

	first := st.applyOne(ctx, refundCmd("m", "o", "r1", 6000))
	second := st.applyOne(ctx, refundCmd("m", "o", "r2", 6000))
	third := st.applyOne(ctx, refundCmd("m", "o", "r3", 4000))
	again := st.applyOne(ctx, refundCmd("m", "o", "r1", 6000))
	if first.err != nil || first.refund.PointsVoided != 60 {
		t.Fatalf("first refund: %+v", first)
	}
	wantReason(t, second.err, "REFUND_EXCEEDS_ORDER")
	if third.err != nil || third.refund.PointsVoided != 40 || !third.refund.Order.FullyRefunded {
		t.Fatalf("third refund: %+v %v", third.refund, third.err)
	}
	if !again.replayed || !reflect.DeepEqual(*again.refund, *first.refund) {
		t.Fatalf("repeat answered %+v, want %+v", again.refund, first.refund)
	}
	if m := st.members["m"]; m.pending != 0 {
		t.Fatalf("pending %d after the order was refunded in full", m.pending)
	}
	if len(st.out.refunds.records) != 2 || len(st.out.refunds.voids) != 2 || len(st.refunds.changed) != 1 {
		t.Fatalf("write set: %+v, orders changed %d", st.out.refunds, len(st.refunds.changed))
	}
	if moves := st.out.refunds.metricMoves; len(moves) != 2 || moves[0].points+moves[1].points != -100 {
		t.Fatalf("metric moves %+v, want 100 points off in all", moves)
	}
}

// A refund whose request id another request used is an idempotency conflict, and
// writes nothing; an order never touched is not found.
func TestRefundRefusals(t *testing.T) {
	ctx := context.Background()
	st := newApplyState(stateMember("m", 100, openLot(1, 7, 100, 30)))
	o := &refundOrder{row: spendOrder(10000, 100), exists: true}
	st.refunds = refundStateOf(o, map[int64]*earningState{7: {}})
	st.refunds.orders[orderKey{"m", "none"}] = &refundOrder{row: ledgerdb.Order{MemberID: "m", OrderID: "none"}}
	st.stored[requestKey{"m", "used"}] = storedEntry{entry: Entry{ID: 3, MemberID: "m"}, fingerprint: []byte("another")}

	wantReason(t, st.applyOne(ctx, refundCmd("m", "o", "used", 0)).err, "IDEMPOTENCY_CONFLICT")
	wantReason(t, st.applyOne(ctx, refundCmd("m", "none", "r", 0)).err, "ORDER_NOT_FOUND")
	wantReason(t, st.applyOne(ctx, refundCmd("nobody", "o", "r", 0)).err, "MEMBER_NOT_FOUND")
	if len(st.out.entries) != 0 || len(st.out.refunds.records) != 0 || st.refunds.changed != nil {
		t.Fatalf("refusals wrote %+v", st.out)
	}
	// After the window: clawed back from available, the earning's own lot first.
	res := st.applyOne(ctx, refundCmd("m", "o", "r", 0))
	if res.err != nil || res.refund.PointsClawedBack != 100 || st.members["m"].available != 0 {
		t.Fatalf("claw-back: %+v %v", res.refund, res.err)
	}
}

// A refund of an order a campaign funded gives the campaign's share back only to a
// budget the batch locked: if the campaign was not among those the batch read (the
// order earned from it after the refund listed its campaigns), the refund is refused
// with the campaigns to read, before anything of it is posted.
func TestARefundWithAnUnreadCampaignPostsNothing(t *testing.T) {
	ctx := context.Background()
	st := newApplyState(stateMember("m", 100, openLot(1, 7, 100, 30)))
	o := &refundOrder{row: spendOrder(10000, 100), exists: true,
		grants: []OrderGrant{{MemberID: "m", OrderID: "o", CampaignID: "c1", Account: CampaignAccount("c1"), Points: 40}}}
	st.refunds = refundStateOf(o, map[int64]*earningState{7: {}})

	res := st.applyOne(ctx, refundCmd("m", "o", "r", 0))
	unread, ok := errors.AsType[*errCampaignsUnread](res.err)
	if !ok || len(unread.campaigns) != 1 || unread.campaigns[0] != "c1" {
		t.Fatalf("refund with campaign c1 unread: %v, want errCampaignsUnread naming c1", res.err)
	}
	if len(st.out.entries) != 0 || len(st.out.refunds.records) != 0 || st.refunds.changed != nil || st.members["m"].available != 100 {
		t.Fatalf("the refused refund changed the batch: %+v, available %d", st.out, st.members["m"].available)
	}
}

// A refund whose shares round to no points posts no entry, in a batch that writes no
// other: its order, its record and its move of the qualifying metric are written all
// the same, and a repeat answers it.
func TestARefundWithoutEntriesWritesItsRows(t *testing.T) {
	s := onFreshDB(t)
	ctx := context.Background()
	if _, _, err := s.Enroll(ctx, EnrollMember{MemberID: "m"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Earn(ctx, Actor{KeyID: "k"}, Earn{MemberID: "m", RequestID: "e", OrderID: "o", SpendMinor: 10000, Currency: "CNY"}); err != nil {
		t.Fatal(err)
	}
	spend := func() (n int64) {
		if err := s.pool.QueryRow(ctx, "SELECT coalesce(sum(spend_minor), 0) FROM tier_metric_days WHERE member_id = 'm'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := spend()
	cmd := Refund{MemberID: "m", OrderID: "o", RequestID: "r", AmountMinor: 50}
	res, err := s.RefundOrder(ctx, Actor{KeyID: "k"}, cmd)
	if err != nil || len(res.Entries) != 0 || res.AmountMinor != 50 || res.Order.RefundedMinor != 50 {
		t.Fatalf("refund of 50: %+v %v, want 50 refunded and no entry", res, err)
	}
	if o, err := s.GetOrder(ctx, "m", "o"); err != nil || o.RefundedMinor != 50 {
		t.Fatalf("order after: %+v %v", o, err)
	}
	if after := spend(); after != before-50 {
		t.Fatalf("qualifying spend %d after the refund, want %d", after, before-50)
	}
	again, err := s.RefundOrder(ctx, Actor{KeyID: "k"}, cmd)
	if err != nil || !reflect.DeepEqual(again.Order, res.Order) || again.AmountMinor != 50 {
		t.Fatalf("repeat: %+v %v, want %+v", again, err, res)
	}
}
