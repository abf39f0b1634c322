package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger"
)

func earnOrder(t testing.TB, svc *ledger.Service, member, order string, spendMinor int64) ledger.Entry {
	t.Helper()
	res, err := svc.Earn(context.Background(), actor, ledger.Earn{MemberID: member, RequestID: "earn-" + order, OrderID: order, SpendMinor: spendMinor, Currency: "CNY"})
	if err != nil {
		t.Fatalf("earn on %s: %v", order, err)
	}
	return res.Entry
}

func refund(t testing.TB, svc *ledger.Service, member, order, requestID string, amountMinor int64) ledger.RefundResult {
	t.Helper()
	res, err := svc.RefundOrder(context.Background(), actor, ledger.Refund{MemberID: member, OrderID: order, RequestID: requestID, AmountMinor: amountMinor})
	if err != nil {
		t.Fatalf("refund %d of %s: %v", amountMinor, order, err)
	}
	return res
}

// Inside the return window a refund voids pending points pro rata; partial refunds
// add up, rounding down each time, and the refund completing the order takes
// exactly what is left. Nothing is left to release afterwards.
func TestRefundsInsideTheWindowVoidPendingPoints(t *testing.T) {
	svc, clock := newLedger(t, "m")
	earnOrder(t, svc, "m", "o1", 9999) // 99 points, pending
	steps := []struct {
		amount, wantVoided, wantPending int64
	}{
		{3000, 29, 70}, // floor(99 × 3000 / 9999) = floor(29.7)
		{3000, 30, 40}, // floor(99 × 6000 / 9999) = 59, 29 taken already
		{0, 40, 0},     // the rest, in full
	}
	for i, s := range steps {
		res := refund(t, svc, "m", "o1", fmt.Sprintf("refund-%d", i), s.amount)
		if res.PointsVoided != s.wantVoided || res.PointsClawedBack != 0 || len(res.Entries) != 1 || res.Entries[0].Kind != ledger.KindRefund {
			t.Fatalf("refund %d: %+v, want %d voided in one REFUND entry", i, res, s.wantVoided)
		}
		if b := balanceOf(t, svc, "m"); b.Pending != s.wantPending || b.Available != 0 {
			t.Fatalf("after refund %d: balance %+v, want %d pending", i, b, s.wantPending)
		}
		mustVerify(t, svc)
	}
	o, err := svc.GetOrder(context.Background(), "m", "o1")
	if err != nil || !o.FullyRefunded || o.RefundedMinor != 9999 || o.PointsTakenBack != 99 {
		t.Fatalf("order %+v (%v), want fully refunded", o, err)
	}
	clock.Advance(8 * 24 * time.Hour)
	if n, err := svc.ReleasePending(context.Background(), 100); err != nil || n != 0 {
		t.Fatalf("released %d (%v) of a fully refunded order", n, err)
	}
	if _, err := svc.RefundOrder(context.Background(), actor, ledger.Refund{MemberID: "m", OrderID: "o1", RequestID: "again"}); !errors.Is(err, ledger.ErrOverRefund) {
		t.Fatalf("refunding a fully refunded order: %v, want REFUND_EXCEEDS_ORDER", err)
	}
	mustVerify(t, svc)
}

// After the window a refund claws the points back from available; points the
// member redeemed on the order come back, to the lots they were taken from. A
// partial refund released at the same share leaves the rest earning its place.
func TestRefundsAfterTheWindowClawBackAndGiveBackRedemptions(t *testing.T) {
	svc, clock := newLedger(t, "m")
	ctx := context.Background()
	welcome := mustEarn(t, svc, "m", "welcome", 500)
	// Checkout: 200 points redeemed on the order, part by hold and capture.
	if _, err := svc.Redeem(ctx, actor, ledger.Redeem{MemberID: "m", RequestID: "r", Points: 120, OrderID: "o1"}); err != nil {
		t.Fatal(err)
	}
	hold, err := svc.CreateHold(ctx, actor, ledger.CreateHold{MemberID: "m", RequestID: "h", Points: 100, OrderID: "o1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CaptureHold(ctx, actor, ledger.CaptureHold{HoldID: hold.Hold.ID, RequestID: "c", Points: 80}); err != nil {
		t.Fatal(err)
	}
	earnOrder(t, svc, "m", "o1", 40000) // 400 pending
	clock.Advance(7 * 24 * time.Hour)
	if n, err := svc.ReleasePending(ctx, 100); err != nil || n != 1 {
		t.Fatalf("released %d (%v)", n, err)
	}
	if b := balanceOf(t, svc, "m"); b.Available != 700 {
		t.Fatalf("balance %+v, want 300 left of the welcome points + 400 released", b)
	}

	res := refund(t, svc, "m", "o1", "refund-1", 10000) // a quarter
	if res.PointsClawedBack != 100 || res.PointsReturned != 50 || len(res.Entries) != 2 ||
		res.Entries[0].Kind != ledger.KindRefund || res.Entries[1].Kind != ledger.KindRefundReturn {
		t.Fatalf("quarter refund: %+v, want 100 clawed back and 50 of the 200 redeemed returned", res)
	}
	if b := balanceOf(t, svc, "m"); b.Available != 650 {
		t.Fatalf("balance %+v after the quarter refund, want 700 - 100 + 50", b)
	}
	// The redeemed points returned to the welcome lot they came from.
	if got := remaining(t, svc, "m")[welcome.ID]; got != 350 {
		t.Fatalf("welcome lot holds %d, want 300 + 50 returned", got)
	}
	mustVerify(t, svc)

	res = refund(t, svc, "m", "o1", "refund-2", 0) // the rest
	if res.PointsClawedBack != 300 || res.PointsReturned != 150 || res.AmountMinor != 30000 {
		t.Fatalf("final refund: %+v, want 300 clawed back, 150 returned, 30000 refunded", res)
	}
	if b := balanceOf(t, svc, "m"); b.Available != 500 {
		t.Fatalf("balance %+v after refunding everything, want the 500 welcome points back whole", b)
	}
	if got := remaining(t, svc, "m")[welcome.ID]; got != 500 {
		t.Fatalf("welcome lot holds %d, want all 500 back", got)
	}
	// An earning refunded cannot be reversed as well.
	o, _ := svc.GetOrder(ctx, "m", "o1")
	if _, err := svc.Reverse(ctx, actor, ledger.Reverse{EntryID: o.EarnEntryID, RequestID: "rev", Reason: "x"}); !errors.Is(err, ledger.ErrNotReversible) {
		t.Fatalf("reversing a refunded earning: %v, want NOT_REVERSIBLE", err)
	}
	mustVerify(t, svc)
}

// Over-refunds, unknown orders, partial refunds of an order without a spend, and a
// reused request id with another body are refused and change nothing; a repeat
// answers the first result.
func TestBadRefundsAreRefusedAndRepeatsAnswerTheFirstResult(t *testing.T) {
	svc, _ := newLedger(t, "m")
	ctx := context.Background()
	earnOrder(t, svc, "m", "o1", 10000)
	if _, err := svc.Earn(ctx, actor, ledger.Earn{MemberID: "m", RequestID: "explicit", OrderID: "o2", Points: 70}); err != nil {
		t.Fatal(err)
	}
	first := refund(t, svc, "m", "o1", "refund-1", 4000)
	before := balanceOf(t, svc, "m")

	repeat := refund(t, svc, "m", "o1", "refund-1", 4000)
	if repeat.PointsVoided != first.PointsVoided || len(repeat.Entries) != 1 || repeat.Entries[0].ID != first.Entries[0].ID {
		t.Fatalf("repeat %+v, want the first result %+v", repeat, first)
	}
	refusals := []struct {
		name string
		cmd  ledger.Refund
		want error
	}{
		{"more than is left", ledger.Refund{MemberID: "m", OrderID: "o1", RequestID: "too-much", AmountMinor: 6001}, ledger.ErrOverRefund},
		{"same id, other amount", ledger.Refund{MemberID: "m", OrderID: "o1", RequestID: "refund-1", AmountMinor: 1000}, ledger.ErrIdempotencyConflict},
		{"unknown order", ledger.Refund{MemberID: "m", OrderID: "nope", RequestID: "x"}, ledger.ErrOrderNotFound},
		{"unknown member", ledger.Refund{MemberID: "ghost", OrderID: "o1", RequestID: "x"}, ledger.ErrMemberNotFound},
		{"partial refund of explicit points", ledger.Refund{MemberID: "m", OrderID: "o2", RequestID: "x", AmountMinor: 10}, nil},
		{"no request id", ledger.Refund{MemberID: "m", OrderID: "o1"}, nil},
	}
	for _, r := range refusals {
		_, err := svc.RefundOrder(ctx, actor, r.cmd)
		if r.want != nil && !errors.Is(err, r.want) {
			t.Errorf("%s: %v, want %v", r.name, err, r.want)
		}
		if r.want == nil {
			if pe, ok := problem.As(err); !ok || pe.Kind != problem.Invalid || len(pe.Fields) == 0 {
				t.Errorf("%s: %v, want a field violation", r.name, err)
			}
		}
	}
	if b := balanceOf(t, svc, "m"); b.Pending != before.Pending || b.Available != before.Available {
		t.Fatalf("refused refunds changed the balance: %+v, was %+v", b, before)
	}
	// The order without a spend refunds in full.
	if res := refund(t, svc, "m", "o2", "full-o2", 0); res.PointsVoided != 70 {
		t.Fatalf("full refund of explicit points: %+v", res)
	}
	mustVerify(t, svc)
}

// Racing refunds of one order, with duplicates, never add up to more than the
// order: exactly as many succeed as the order has room for, each once.
func TestRacingRefundsNeverExceedTheOrder(t *testing.T) {
	svc, clock := newLedger(t, "m")
	ctx := context.Background()
	setProgram(t, svc, func(p *ledger.Program) { p.ReturnWindowDays = 3 })
	earnOrder(t, svc, "m", "o1", 10000) // 100 points
	earnOrder(t, svc, "m", "o2", 10000)
	clock.Advance(4 * 24 * time.Hour)
	if _, err := svc.ReleasePending(ctx, 100); err != nil { // o1 and o2 available
		t.Fatal(err)
	}
	earnOrder(t, svc, "m", "o3", 10000) // pending

	var (
		mu        sync.Mutex
		succeeded = map[string]int{}
		over      int
	)
	var wg sync.WaitGroup
	for _, order := range []string{"o1", "o3"} {
		for i := 0; i < 16; i++ { // 16 distinct refunds of 1,000 each, each sent twice
			for dup := 0; dup < 2; dup++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id := fmt.Sprintf("%s-refund-%d", order, i)
					_, err := svc.RefundOrder(ctx, actor, ledger.Refund{MemberID: "m", OrderID: order, RequestID: id, AmountMinor: 1000})
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						succeeded[id]++
					case errors.Is(err, ledger.ErrOverRefund):
						over++
					default:
						t.Errorf("refund %s: %v", id, err)
					}
				}()
			}
		}
		// Spending races the refunds too.
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = svc.Redeem(ctx, actor, ledger.Redeem{MemberID: "m", RequestID: "spend-" + order, Points: 60})
		}()
	}
	wg.Wait()
	for _, order := range []string{"o1", "o3"} {
		o, err := svc.GetOrder(ctx, "m", order)
		if err != nil {
			t.Fatal(err)
		}
		if o.RefundedMinor != 10000 || !o.FullyRefunded || o.PointsTakenBack != 100 {
			t.Errorf("order %s: %+v, want exactly 10,000 refunded and 100 points taken back", order, o)
		}
	}
	if len(succeeded) != 20 {
		t.Errorf("%d distinct refunds succeeded, want 10 per order", len(succeeded))
	}
	mustVerify(t, svc)
}

// A redemption whose points a refund gave back cannot be reversed as well (that
// would give them back twice); one reversed first is left out of the refund.
func TestRefundAndReversalNeverBothUndoARedemption(t *testing.T) {
	svc, _ := newLedger(t, "m")
	ctx := context.Background()
	mustEarn(t, svc, "m", "welcome", 500)
	r1, err := svc.Redeem(ctx, actor, ledger.Redeem{MemberID: "m", RequestID: "r1", Points: 200, OrderID: "o1"})
	if err != nil {
		t.Fatal(err)
	}
	refund(t, svc, "m", "o1", "refund-o1", 0)
	if _, err := svc.Reverse(ctx, actor, ledger.Reverse{EntryID: r1.ID, RequestID: "rev1", Reason: "x"}); !errors.Is(err, ledger.ErrNotReversible) {
		t.Fatalf("reversing a redemption its refund gave back: %v, want NOT_REVERSIBLE", err)
	}
	r2, err := svc.Redeem(ctx, actor, ledger.Redeem{MemberID: "m", RequestID: "r2", Points: 100, OrderID: "o2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Reverse(ctx, actor, ledger.Reverse{EntryID: r2.ID, RequestID: "rev2", Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	if res := refund(t, svc, "m", "o2", "refund-o2", 0); res.PointsReturned != 0 {
		t.Fatalf("refund after the reversal gave back %d points again", res.PointsReturned)
	}
	if b := balanceOf(t, svc, "m"); b.Available != 500 {
		t.Fatalf("balance %d, want the 500 earned", b.Available)
	}
	mustVerify(t, svc)
}

// A repeated refund answers the order as that refund left it, not as later ones did.
func TestRepeatedRefundAnswersTheOrderAsItLeftIt(t *testing.T) {
	svc, _ := newLedger(t, "m")
	earnOrder(t, svc, "m", "o1", 10000)
	first := refund(t, svc, "m", "o1", "a", 3000)
	refund(t, svc, "m", "o1", "b", 3000)
	again := refund(t, svc, "m", "o1", "a", 3000)
	if !reflect.DeepEqual(again.Order, first.Order) || first.Order.RefundedMinor != 3000 {
		t.Fatalf("repeat answered order %+v, first answer was %+v", again.Order, first.Order)
	}
}
