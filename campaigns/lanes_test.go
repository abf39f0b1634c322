package campaigns_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/fakeclock"
	"github.com/loyalty-engine/loyalty/ledger"
)

// The group committer's flushers lock a lane of budget slices each: two lanes of one
// campaign never wait for each other, every slice waits for both, and a lane that
// cannot answer a grant says so (ErrBudgetsIncomplete) instead of refusing or
// granting less than the budget holds.
func TestBudgetLanesLockDisjointSlicesAndAnswerOnlyWhatTheyHold(t *testing.T) {
	pool := dbtest.NewPool(t)
	e := wire(pool, fakeclock.At(time.Now()))
	for _, m := range []string{"a", "b", "c"} {
		if _, _, err := e.ledger.Enroll(ctx, ledger.EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
	}
	// 1,600 points over 16 slices: 100 in each, 800 in each of two lanes.
	c := e.launch(t, campaigns.Definition{DisplayName: "lanes", Type: campaigns.TypeBonus, BonusPoints: 900, Budget: campaigns.Budget{Points: 1600}})

	// As an earning does: the running campaigns from the cache first.
	if ids, err := e.campaigns.PointsCampaignsAt(ctx, e.clock.Now()); err != nil || len(ids) != 1 {
		t.Fatalf("running points campaigns %v %v, want the one launched", ids, err)
	}
	// Each lock is for a member of its own, as batches lock their members first:
	// what they wait for here is the slices.
	lock := func(tx pgx.Tx, memberID string, lane ledger.BudgetLane) (ledger.Budgets, error) {
		var pipe database.Pipeline
		read := e.campaigns.QueueBudgets(ctx, &pipe, []string{c.ID}, []string{memberID}, lane, ledger.Claims{})
		pipe.Send(ctx, tx)
		b, err := read()
		if cerr := pipe.Close(); err == nil {
			err = cerr
		}
		return b, err
	}
	begin := func(lockTimeout string) pgx.Tx {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tx.Rollback(context.WithoutCancel(ctx)) })
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '"+lockTimeout+"'"); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	earning := ledger.PromotedEarning{MemberID: "a", OrderID: "o1", SpendMinor: 10_000, Currency: "CNY", BasePoints: 100, Now: e.clock.Now()}

	lane0 := begin("5s")
	b0, err := lock(lane0, "a", ledger.BudgetLane{Lane: 0, Lanes: 2})
	if err != nil {
		t.Fatal(err)
	}
	// The other lane locks while lane 0 holds its slices.
	lane1 := begin("2s")
	if _, err := lock(lane1, "b", ledger.BudgetLane{Lane: 1, Lanes: 2}); err != nil {
		t.Fatalf("lane 1 waited for lane 0's slices: %v", err)
	}
	if err := lane1.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// Every slice waits for lane 0.
	all := begin("200ms")
	_, err = lock(all, "c", ledger.AllSlices)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
		t.Fatalf("locking every slice while lane 0 holds half: %v, want a lock timeout", err)
	}
	// 900 points are in the budget but not in lane 0's 800: the lane cannot answer.
	if bonuses, refusals, err := b0.Grant(ctx, earning); !errors.Is(err, ledger.ErrBudgetsIncomplete) {
		t.Fatalf("lane 0 granting 900 of its 800: %+v %+v %v, want ErrBudgetsIncomplete", bonuses, refusals, err)
	}
	if err := lane0.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// Every slice answers it in full.
	whole := begin("5s")
	b, err := lock(whole, "a", ledger.AllSlices)
	if err != nil {
		t.Fatal(err)
	}
	bonuses, refusals, err := b.Grant(ctx, earning)
	if err != nil || len(refusals) != 0 || len(bonuses) != 1 || bonuses[0].Points != 900 {
		t.Fatalf("every slice granting 900 of 1,600: %+v %+v %v", bonuses, refusals, err)
	}
}

// Racing orders of a few members under a per-member cap: the batches read what each
// member got without a lock (under the member's row lock) and write it back, so each
// member ends at the cap exactly, however the orders fall into batches and lanes.
func TestRacingOrdersStopAtTheMembersCapExactly(t *testing.T) {
	members := []string{"a", "b", "c", "d", "e"}
	e := newEngine(t, members...)
	c := e.launch(t, campaigns.Definition{DisplayName: "capped", Type: campaigns.TypeBonus, BonusPoints: 70,
		Budget: campaigns.Budget{Points: 1_000_000}, PerMemberCap: campaigns.Cap{Points: 300}})
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]int64{}
	for i := range 80 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := members[i%len(members)]
			res, err := e.ledger.Earn(ctx, actor, ledger.Earn{MemberID: m, RequestID: fmt.Sprintf("o%d", i), OrderID: fmt.Sprintf("o%d", i), SpendMinor: 1000, Currency: "CNY"})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got[m] += campaignPoints(res, c.ID)
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, m := range members {
		if got[m] != 300 {
			t.Errorf("member %s got %d points from the campaign, want the cap, 300", m, got[m])
		}
	}
	if spent, _ := e.campaigns.Get(ctx, c.ID); spent.SpentPoints != 1500 || e.campaignAccount(t, c.ID) != -1500 {
		t.Fatalf("spent %d, account %d; want 1500 each", spent.SpentPoints, e.campaignAccount(t, c.ID))
	}
	e.mustVerify(t)
}

// A coupon drop locks only its member's slice first: a member whose slice is dry
// still gets a coupon while any slice has one (the drop runs again with every
// slice), and the budget is exhausted only when every slice is.
func TestCouponDropsFromADrySliceTakeFromTheOthers(t *testing.T) {
	members := make([]string, 17)
	for i := range members {
		members[i] = fmt.Sprintf("m%d", i)
	}
	e := newEngine(t, members...)
	// 16 coupons: one in each of the 16 slices; 17 members share them.
	c := e.launch(t, campaigns.Definition{
		DisplayName: "one per slice", Type: campaigns.TypeCouponDrop,
		Coupon: campaigns.CouponTemplate{Kind: campaigns.CouponFreeShipping, ValidDays: 30},
		Budget: campaigns.Budget{Coupons: 16},
	})
	for i, m := range members {
		_, err := e.campaigns.IssueCoupon(ctx, campaigns.IssueCoupon{MemberID: m, RequestID: "drop", CampaignID: c.ID})
		switch {
		case i < 16 && err != nil:
			t.Fatalf("coupon %d of 16 (member %s): %v", i+1, m, err)
		case i == 16 && !errors.Is(err, campaigns.ErrBudgetExhausted):
			t.Fatalf("a 17th coupon of 16: %v, want BUDGET_EXHAUSTED", err)
		}
	}
	if got, _ := e.campaigns.Get(ctx, c.ID); got.IssuedCoupons != 16 {
		t.Fatalf("issued %d coupons, want 16", got.IssuedCoupons)
	}
}
