package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/ledger"
)

// 50 racing redeems of 10 against 100 points: exactly 10 succeed, the rest are
// refused with INSUFFICIENT_POINTS, and the books balance.
func TestRacingRedeemsNeverOverdraw(t *testing.T) {
	svc, _ := newLedger(t, "m")
	mustEarn(t, svc, "m", "seed", 100)
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.Redeem(context.Background(), actor, ledger.Redeem{MemberID: "m", RequestID: fmt.Sprintf("r%d", i), Points: 10})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ledger.ErrInsufficientPoints):
				refused.Add(1)
			default:
				t.Errorf("redeem: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 10 || refused.Load() != 40 {
		t.Fatalf("%d redeems succeeded and %d were refused; want 10 and 40", ok.Load(), refused.Load())
	}
	if b := balanceOf(t, svc, "m"); b.Available != 0 {
		t.Fatalf("available %d, want 0", b.Available)
	}
	mustVerify(t, svc)
}

// Racing duplicates of one request make exactly one entry, and every caller gets it.
func TestRacingDuplicateRequestsMakeOneEntry(t *testing.T) {
	svc, _ := newLedger(t, "m")
	mustEarn(t, svc, "m", "seed", 1000)
	ops := map[string]func() (int64, error){
		"earn": func() (int64, error) {
			r, err := svc.Earn(context.Background(), actor, ledger.Earn{MemberID: "m", RequestID: "dup-earn", Points: 7})
			return r.Entry.ID, err
		},
		"redeem": func() (int64, error) {
			e, err := svc.Redeem(context.Background(), actor, ledger.Redeem{MemberID: "m", RequestID: "dup-redeem", Points: 900})
			return e.ID, err
		},
		"hold": func() (int64, error) {
			r, err := svc.CreateHold(context.Background(), actor, ledger.CreateHold{MemberID: "m", RequestID: "dup-hold", Points: 100})
			return r.Entry.ID, err
		},
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			ids := make([]int64, 32)
			var wg sync.WaitGroup
			for i := range ids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id, err := op()
					if err != nil {
						t.Errorf("duplicate %d: %v", i, err)
					}
					ids[i] = id
				}()
			}
			wg.Wait()
			for i, id := range ids {
				if id != ids[0] || id == 0 {
					t.Fatalf("caller %d got entry %d, caller 0 got %d", i, id, ids[0])
				}
			}
		})
	}
	b := balanceOf(t, svc, "m")
	// 1000 + 7 - 900 - 100 held: each request applied once.
	if b.Available != 7 || b.Held != 100 {
		t.Fatalf("balance %+v, want available 7 and held 100", b)
	}
	mustVerify(t, svc)
}

// The same requestId with a different body is refused and changes nothing.
func TestReusedRequestIDWithAnotherBodyIsAConflict(t *testing.T) {
	svc, _ := newLedger(t, "m")
	first := mustEarn(t, svc, "m", "r1", 10)
	_, err := svc.Earn(context.Background(), actor, ledger.Earn{MemberID: "m", RequestID: "r1", Points: 11})
	if !errors.Is(err, ledger.ErrIdempotencyConflict) {
		t.Fatalf("got %v, want an idempotency conflict", err)
	}
	_, err = svc.Redeem(context.Background(), actor, ledger.Redeem{MemberID: "m", RequestID: "r1", Points: 10})
	if !errors.Is(err, ledger.ErrIdempotencyConflict) {
		t.Fatalf("same id on another operation: got %v, want an idempotency conflict", err)
	}
	again := mustEarn(t, svc, "m", "r1", 10)
	if again.ID != first.ID {
		t.Fatalf("repeat answered entry %d, first was %d", again.ID, first.ID)
	}
	if b := balanceOf(t, svc, "m"); b.Available != 10 {
		t.Fatalf("available %d, want 10", b.Available)
	}
}

// The attack: 64 goroutines run a random mix of earn, redeem, hold, capture, void
// and reverse against a handful of members for a few seconds; then the books must
// verify, no available balance may be negative, and each member's balance must equal
// what the successful operations add up to.
func TestConcurrencyAttackKeepsTheBooks(t *testing.T) {
	members := []string{"a", "b", "c", "d", "e"}
	svc, _ := newLedger(t, members...)
	ctx := context.Background()
	deadline := time.Now().Add(3 * time.Second)
	if testing.Short() {
		deadline = time.Now().Add(time.Second)
	}

	var (
		mu      sync.Mutex
		holds   []int64 // active hold ids, maybe stale
		entries []int64 // earn and redeem entry ids to reverse
		ops     atomic.Int64
		seq     atomic.Int64
	)
	pick := func(list *[]int64, r *rand.Rand) (int64, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(*list) == 0 {
			return 0, false
		}
		i := r.IntN(len(*list))
		id := (*list)[i]
		(*list)[i] = (*list)[len(*list)-1]
		*list = (*list)[:len(*list)-1]
		return id, true
	}
	push := func(list *[]int64, id int64) {
		mu.Lock()
		*list = append(*list, id)
		mu.Unlock()
	}
	expected := func(err error) bool {
		return err == nil || errors.Is(err, ledger.ErrInsufficientPoints) || errors.Is(err, ledger.ErrHoldNotActive) ||
			errors.Is(err, ledger.ErrAlreadyReversed) || errors.Is(err, ledger.ErrOverCapture)
	}

	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for time.Now().Before(deadline) {
				m := members[r.IntN(len(members))]
				id := fmt.Sprintf("w%d-%d", w, seq.Add(1))
				var err error
				switch op := r.IntN(10); {
				case op < 3:
					var res ledger.EarnResult
					res, err = svc.Earn(ctx, actor, ledger.Earn{MemberID: m, RequestID: id, Points: 1 + r.Int64N(100)})
					if err == nil {
						push(&entries, res.Entry.ID)
					}
				case op < 5:
					var e ledger.Entry
					e, err = svc.Redeem(ctx, actor, ledger.Redeem{MemberID: m, RequestID: id, Points: 1 + r.Int64N(120)})
					if err == nil {
						push(&entries, e.ID)
					}
				case op < 7:
					var res ledger.HoldResult
					res, err = svc.CreateHold(ctx, actor, ledger.CreateHold{MemberID: m, RequestID: id, Points: 1 + r.Int64N(80)})
					if err == nil {
						push(&holds, res.Hold.ID)
					}
				case op < 8:
					if h, ok := pick(&holds, r); ok {
						_, err = svc.CaptureHold(ctx, actor, ledger.CaptureHold{HoldID: h, RequestID: id, Points: r.Int64N(40)})
					}
				case op < 9:
					if h, ok := pick(&holds, r); ok {
						_, err = svc.VoidHold(ctx, actor, ledger.VoidHold{HoldID: h, RequestID: id})
					}
				default:
					if e, ok := pick(&entries, r); ok {
						_, err = svc.Reverse(ctx, actor, ledger.Reverse{EntryID: e, RequestID: id, Reason: "attack"})
					}
				}
				if !expected(err) {
					t.Errorf("unexpected error: %v", err)
					return
				}
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	if ops.Load() < 100 {
		t.Fatalf("only %d operations ran", ops.Load())
	}
	v := mustVerify(t, svc)
	for _, m := range members {
		b := balanceOf(t, svc, m)
		if b.Available < 0 || b.Held < 0 {
			t.Errorf("member %s: balance %+v below zero", m, b)
		}
	}
	t.Logf("%d operations, %d entries, books verify", ops.Load(), v.EntriesChecked)
}

// Hold roll-ups from several replicas at once, while entries are being written, never
// count a system posting twice or lose one.
func TestConcurrentRollUpsAreExact(t *testing.T) {
	svc, _ := newLedger(t, "a", "b")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := svc.RollUpSystemBalances(ctx); err != nil && ctx.Err() == nil {
					t.Errorf("roll up: %v", err)
				}
			}
		}()
	}
	var earners sync.WaitGroup
	for i := 0; i < 16; i++ {
		earners.Add(1)
		go func() {
			defer earners.Done()
			for j := 0; j < 25; j++ {
				mustEarn(t, svc, []string{"a", "b"}[j%2], fmt.Sprintf("e%d-%d", i, j), 3)
			}
		}()
	}
	earners.Wait()
	cancel()
	wg.Wait()
	mustVerify(t, svc)
	balances, err := svc.SystemBalances(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(balances) != 1 || balances[0].Account != ledger.AccountIssued || balances[0].Balance != -16*25*3 {
		t.Fatalf("system balances %+v, want issued %d", balances, -16*25*3)
	}
}

// The lifecycle attack: order earnings (pending), plain earnings, goodwill within and
// beyond an agent's limits, redemptions, holds and voids, and partial refunds of
// earlier orders race against two runners of the jobs that release pending points,
// expire holds and expire lots, while business time runs fast (lots last 3 days);
// then the books must verify (pending, held, lots and debts included).
func TestLifecycleAttackKeepsTheBooks(t *testing.T) {
	members := []string{"p", "q", "r"}
	svc, clock := newLedger(t, members...)
	ctx := context.Background()
	setProgram(t, svc, func(p *ledger.Program) { p.ExpiryKind, p.ExpiryDays = ledger.ExpiryRollingDays, 3 })
	deadline := time.Now().Add(2 * time.Second)
	hardDeadline := time.Now().Add(30 * time.Second)
	limited := ledger.Actor{KeyID: "key_agent", GoodwillLimited: true}

	done := make(chan struct{})
	var jobs sync.WaitGroup
	for runner := 0; runner < 2; runner++ {
		jobs.Add(1)
		go func() {
			defer jobs.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if runner == 0 {
					clock.Advance(12 * time.Hour)
				}
				if _, err := svc.ReleasePending(ctx, 50); err != nil {
					t.Errorf("release: %v", err)
					return
				}
				if _, err := svc.ExpireHolds(ctx, 50); err != nil {
					t.Errorf("expire holds: %v", err)
					return
				}
				if _, err := svc.ExpireLots(ctx, 50); err != nil {
					t.Errorf("expire lots: %v", err)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	var ordersMu sync.Mutex
	var orders [][2]string // member, order

	var seq atomic.Int64
	var ops atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 11))
			// At least 2 s, and on a loaded machine until 100 operations ran (at
			// most 30 s), so that the jobs always race a real load.
			for time.Now().Before(deadline) || (ops.Load() < 100 && time.Now().Before(hardDeadline)) {
				m := members[r.IntN(len(members))]
				n := seq.Add(1)
				id := fmt.Sprintf("l%d", n)
				var err error
				switch r.IntN(7) {
				case 0:
					_, err = svc.Earn(ctx, actor, ledger.Earn{MemberID: m, RequestID: id, OrderID: "order-" + id, SpendMinor: 100 * (1 + r.Int64N(50)), Currency: "CNY"})
					if err == nil {
						ordersMu.Lock()
						orders = append(orders, [2]string{m, "order-" + id})
						ordersMu.Unlock()
					}
				case 6:
					ordersMu.Lock()
					var o [2]string
					if len(orders) > 0 {
						o = orders[r.IntN(len(orders))]
					}
					ordersMu.Unlock()
					if o[0] != "" {
						_, err = svc.RefundOrder(ctx, actor, ledger.Refund{MemberID: o[0], OrderID: o[1], RequestID: id, AmountMinor: 100 * r.Int64N(20)})
					}
				case 1:
					_, err = svc.Earn(ctx, actor, ledger.Earn{MemberID: m, RequestID: id, Points: 1 + r.Int64N(40)})
				case 2:
					_, err = svc.GrantGoodwill(ctx, limited, ledger.GrantGoodwill{MemberID: m, RequestID: id, Points: 1 + r.Int64N(700), ReasonCode: "OTHER", TicketID: id})
				case 3:
					_, err = svc.Redeem(ctx, actor, ledger.Redeem{MemberID: m, RequestID: id, Points: 1 + r.Int64N(60)})
				case 4:
					var res ledger.HoldResult
					res, err = svc.CreateHold(ctx, actor, ledger.CreateHold{MemberID: m, RequestID: id, Points: 1 + r.Int64N(30), TTL: time.Duration(1+r.IntN(48)) * time.Hour})
					if err == nil && r.IntN(2) == 0 {
						_, err = svc.VoidHold(ctx, actor, ledger.VoidHold{HoldID: res.Hold.ID, RequestID: id + "v"})
					}
				default:
					_, err = svc.Balance(ctx, m)
				}
				if err != nil && !errors.Is(err, ledger.ErrInsufficientPoints) && !errors.Is(err, ledger.ErrHoldNotActive) &&
					!errors.Is(err, ledger.ErrHoldExpired) && !errors.Is(err, ledger.ErrOverRefund) {
					t.Errorf("unexpected error: %v", err)
					return
				}
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	close(done)
	jobs.Wait()
	t.Logf("%d operations in the race", ops.Load())
	if ops.Load() < 100 {
		t.Fatalf("only %d operations ran", ops.Load())
	}
	mustVerify(t, svc)
	// On a slow machine the clock may not have reached an expiry during the race:
	// end the story, then check again.
	clock.Advance(5 * 24 * time.Hour)
	for _, sweep := range []func(context.Context, int32) (int, error){svc.ReleasePending, svc.ExpireLots} {
		for {
			n, err := sweep(ctx, 100)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
	}
	v := mustVerify(t, svc)
	var expiries, refunds int
	for _, m := range members {
		a, err := svc.ListActivity(ctx, ledger.ListActivity{MemberID: m, PageSize: 200, Kinds: []string{"EXPIRY", "REFUND"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range a.Entries {
			if e.Kind == ledger.KindExpiry {
				expiries++
			} else {
				refunds++
			}
		}
	}
	if expiries == 0 || refunds == 0 {
		t.Errorf("%d expiry and %d refund entries: the attack did not exercise them", expiries, refunds)
	}
	t.Logf("%d operations, %d entries (%d expiries, %d refunds), books verify", ops.Load(), v.EntriesChecked, expiries, refunds)
}
