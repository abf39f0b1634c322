package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/ledger"
)

// Refunds go through the group commit with the member's other commands: partial
// refunds of one order, sent at once and twice each, race earnings and redemptions
// of the same member. The refunds that succeed add up to no more than the order,
// the order ends exactly as if they had run one after the other (cumulative shares
// of the earned and the redeemed points), a repeat answers its first result, and
// the books verify.
func TestRefundsRaceEarningsAndRedemptionsThroughTheGroupCommit(t *testing.T) {
	svc, clock := newLedger(t, "m")
	ctx := context.Background()
	setProgram(t, svc, func(p *ledger.Program) { p.ReturnWindowDays = 3 })
	mustEarn(t, svc, "m", "welcome", 1000)
	earnOrder(t, svc, "m", "o1", 10000) // 100 points, released below
	clock.Advance(4 * 24 * time.Hour)
	if _, err := svc.ReleasePending(ctx, 100); err != nil {
		t.Fatal(err)
	}
	earnOrder(t, svc, "m", "o2", 7000) // 70 points, pending
	for _, order := range []string{"o1", "o2"} {
		if _, err := svc.Redeem(ctx, actor, ledger.Redeem{MemberID: "m", RequestID: "spend-on-" + order, Points: 90, OrderID: order}); err != nil {
			t.Fatal(err)
		}
	}

	var (
		mu      sync.Mutex
		results = map[string][]ledger.RefundResult{}
		over    int
		wg      sync.WaitGroup
	)
	for _, order := range []string{"o1", "o2"} {
		for i := range 12 { // 12 refunds of 900 each, sent twice: 11 fit o1, 7 fit o2
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id := fmt.Sprintf("%s-refund-%d", order, i)
					res, err := svc.RefundOrder(ctx, actor, ledger.Refund{MemberID: "m", OrderID: order, RequestID: id, AmountMinor: 900})
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						results[id] = append(results[id], res)
					case errors.Is(err, ledger.ErrOverRefund):
						over++
					default:
						t.Errorf("refund %s: %v", id, err)
					}
				}()
			}
		}
	}
	for i := range 16 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := svc.Earn(ctx, actor, ledger.Earn{MemberID: "m", RequestID: fmt.Sprintf("earn-%d", i), Points: 5}); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			_, err := svc.Redeem(ctx, actor, ledger.Redeem{MemberID: "m", RequestID: fmt.Sprintf("redeem-%d", i), Points: 7})
			if err != nil && !errors.Is(err, ledger.ErrInsufficientPoints) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()

	for _, c := range []struct {
		order                string
		spend, earned, fits  int64
		redeemed             int64
		wantTaken, wantGiven int64
	}{
		{"o1", 10000, 100, 11, 90, 99, 89}, // 9,900 refunded: floor(100 × 0.99), floor(90 × 0.99)
		{"o2", 7000, 70, 7, 90, 63, 81},    // 6,300 refunded: floor(70 × 0.9), floor(90 × 0.9)
	} {
		o, err := svc.GetOrder(ctx, "m", c.order)
		if err != nil {
			t.Fatal(err)
		}
		var distinct, taken, given int64
		for id, rs := range results {
			if id[:2] != c.order {
				continue
			}
			distinct++
			for _, r := range rs[1:] {
				if !sameRefund(r, rs[0]) {
					t.Errorf("refund %s answered %+v and %+v", id, rs[0], r)
				}
			}
			taken += rs[0].PointsVoided + rs[0].PointsClawedBack
			given += rs[0].PointsReturned
		}
		if distinct != c.fits || o.RefundedMinor != 900*c.fits || o.FullyRefunded {
			t.Errorf("order %s: %d distinct refunds, %+v; want %d of 900", c.order, distinct, o, c.fits)
		}
		if o.PointsTakenBack != c.wantTaken || taken != c.wantTaken || o.PointsReturned != c.wantGiven || given != c.wantGiven {
			t.Errorf("order %s: taken back %d (answers %d), given back %d (answers %d); want %d and %d",
				c.order, o.PointsTakenBack, taken, o.PointsReturned, given, c.wantTaken, c.wantGiven)
		}
	}
	if over != 2*(12-11)+2*(12-7) {
		t.Errorf("%d refunds refused as over the order, want %d", over, 2*(12-11)+2*(12-7))
	}
	mustVerify(t, svc)
}

// sameRefund tells whether two answers of a refund are the same: amounts, the order
// as it left it, and the entries by id.
func sameRefund(a, b ledger.RefundResult) bool {
	ids := func(r ledger.RefundResult) (out []int64) {
		for _, e := range r.Entries {
			out = append(out, e.ID)
		}
		return out
	}
	return reflect.DeepEqual(a.Order, b.Order) && a.AmountMinor == b.AmountMinor && a.PointsVoided == b.PointsVoided &&
		a.PointsClawedBack == b.PointsClawedBack && a.PointsReturned == b.PointsReturned && reflect.DeepEqual(ids(a), ids(b))
}
