package campaigns_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/ledger"
)

func lateDelivery(budget campaigns.Budget, perMember campaigns.Cap) campaigns.Definition {
	return campaigns.Definition{
		DisplayName: "Late delivery apology", Type: campaigns.TypeCompensation,
		Compensation: campaigns.Compensation{EventTypes: []string{"LATE_DELIVERY"}, MinDelayHours: 48, Points: 100},
		Coupon:       campaigns.CouponTemplate{Kind: campaigns.CouponFreeShipping, ValidDays: 30},
		Budget:       budget, PerMemberCap: perMember,
	}
}

// Compensations racing on one small budget: the points and coupons granted add up
// to what the campaign spent, which is all of its budget and never more, no member
// gets past the cap, and reversals racing on the same budget give back exactly what
// they reverse, to the budget and to the member's cap.
func TestRacingCompensationsNeverExceedTheBudgetOrTheCaps(t *testing.T) {
	const members, orders = 10, 4
	var ids []string
	for i := range members {
		ids = append(ids, fmt.Sprintf("m%d", i))
	}
	e := newEngine(t, ids...)
	// 40 events ask 4,000 points and 40 coupons; the caps leave 2,500 points.
	c := e.launch(t, lateDelivery(campaigns.Budget{Points: 1000, Coupons: 7}, campaigns.Cap{Points: 250}))
	results := make([]campaigns.CompensationResult, members*orders)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.campaigns.Compensate(ctx, actor, campaigns.AfterSalesEvent{RequestID: fmt.Sprintf("ev-%d", i),
				MemberID: ids[i%members], OrderID: fmt.Sprintf("o-%d", i/members), Type: "LATE_DELIVERY", DelayHours: 72})
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	byMember := map[string]int64{}
	entries := map[string][]int64{}
	var points, coupons, grants int64
	for _, r := range results {
		switch {
		case len(r.Grants) == 1 && len(r.Refusals) == 0:
			g := r.Grants[0]
			points += g.Points
			byMember[r.MemberID] += g.Points
			grants++
			if g.CouponCode != "" {
				coupons++
			}
			if g.EntryID != 0 {
				entries[r.MemberID] = append(entries[r.MemberID], g.EntryID)
			}
		case len(r.Grants) == 0 && len(r.Refusals) == 1 &&
			(r.Refusals[0].Reason == campaigns.RefusedBudgetExhausted || r.Refusals[0].Reason == campaigns.RefusedMemberCap):
		default:
			t.Fatalf("event answered %+v, want one grant or one budget or cap refusal", r)
		}
	}
	got, _ := e.campaigns.Get(ctx, c.ID)
	if points != 1000 || got.SpentPoints != 1000 || e.campaignAccount(t, c.ID) != -1000 {
		t.Fatalf("granted %d points, campaign spent %d, account %d; want the budget of 1000 each", points, got.SpentPoints, e.campaignAccount(t, c.ID))
	}
	if coupons != 7 || got.IssuedCoupons != 7 || got.Grants != grants {
		t.Fatalf("granted %d coupons in %d grants, campaign counts %d coupons in %d grants; want 7 coupons", coupons, grants, got.IssuedCoupons, got.Grants)
	}
	var most string
	for _, m := range ids {
		b, err := e.ledger.Balance(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if byMember[m] > 250 || b.Available != byMember[m] {
			t.Fatalf("member %s got %d points (balance %d), want at most the cap of 250, all on the balance", m, byMember[m], b.Available)
		}
		if byMember[m] > byMember[most] {
			most = m
		}
	}
	e.mustVerify(t)

	// The member who got most reverses every compensation at once: the budget and
	// that member's cap get it all back, and the next event is granted again.
	for i, id := range entries[most] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.ledger.Reverse(ctx, actor, ledger.Reverse{EntryID: id, RequestID: fmt.Sprintf("rev-%d", i), Reason: "goodwill undone"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, _ = e.campaigns.Get(ctx, c.ID)
	if got.SpentPoints != 1000-byMember[most] || e.campaignAccount(t, c.ID) != got.SpentPoints*-1 {
		t.Fatalf("after reversing %d points of %s: spent %d, account %d; want %d", byMember[most], most, got.SpentPoints,
			e.campaignAccount(t, c.ID), 1000-byMember[most])
	}
	again, err := e.campaigns.Compensate(ctx, actor, campaigns.AfterSalesEvent{RequestID: "ev-again", MemberID: most, OrderID: "o-9",
		Type: "LATE_DELIVERY", DelayHours: 72})
	if err != nil || len(again.Grants) != 1 || again.Grants[0].Points != 100 {
		t.Fatalf("after the reversals %s got %+v (%v), want 100 points again", most, again, err)
	}
	e.mustVerify(t)
}

// Coupon requests racing on one campaign, several per member: the budget is issued
// to the coupon and no member gets more than the cap.
func TestRacingCouponDropsKeepTheCapAndTheBudget(t *testing.T) {
	const members, asks = 10, 3
	var ids []string
	for i := range members {
		ids = append(ids, fmt.Sprintf("m%d", i))
	}
	e := newEngine(t, ids...)
	c := e.launch(t, campaigns.Definition{
		DisplayName: "drop", Type: campaigns.TypeCouponDrop,
		Coupon: campaigns.CouponTemplate{Kind: campaigns.CouponFreeShipping, ValidDays: 3},
		Budget: campaigns.Budget{Coupons: 15}, PerMemberCap: campaigns.Cap{Coupons: 2},
	})
	var mu sync.Mutex
	issued := map[string]int{}
	var wg sync.WaitGroup
	for i := range members * asks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := ids[i%members]
			_, err := e.campaigns.IssueCoupon(ctx, campaigns.IssueCoupon{MemberID: m, RequestID: fmt.Sprintf("drop-%d", i), CampaignID: c.ID})
			switch {
			case errors.Is(err, campaigns.ErrBudgetExhausted), errors.Is(err, campaigns.ErrMemberCapReached):
			case err != nil:
				t.Error(err)
			default:
				mu.Lock()
				issued[m]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, m := range ids {
		list, _, err := e.campaigns.Coupons(ctx, campaigns.CouponQuery{MemberID: m})
		if err != nil || issued[m] > 2 || len(list) != issued[m] {
			t.Fatalf("member %s was issued %d coupons and holds %d (%v), want at most the cap of 2, all held", m, issued[m], len(list), err)
		}
		total += issued[m]
	}
	if got, _ := e.campaigns.Get(ctx, c.ID); total != 15 || got.IssuedCoupons != 15 || got.Grants != 15 {
		t.Fatalf("issued %d coupons, campaign counts %d in %d grants; want the budget of 15", total, got.IssuedCoupons, got.Grants)
	}
}

// A dry run answers what the real grant gives, from the same rule: once the
// coupons of a compensation are spent, it grants the points alone, without a
// refusal, and the simulation says so.
func TestSimulateAnswersWhatTheCompensationGrants(t *testing.T) {
	e := newEngine(t, "a", "b")
	c := e.launch(t, lateDelivery(campaigns.Budget{Coupons: 1}, campaigns.Cap{}))
	first, err := e.campaigns.Compensate(ctx, actor, campaigns.AfterSalesEvent{RequestID: "e1", MemberID: "a", OrderID: "o1", Type: "LATE_DELIVERY", DelayHours: 72})
	if err != nil || len(first.Grants) != 1 || first.Grants[0].CouponCode == "" {
		t.Fatalf("first compensation %+v %v, want points and the one coupon", first, err)
	}
	sim, err := e.campaigns.Simulate(ctx, campaigns.Simulate{CampaignID: c.ID, MemberID: "b", EventType: "LATE_DELIVERY", DelayHours: 72})
	if err != nil || sim.Points != 100 || sim.Coupons != 0 || sim.Reason != "" || sim.BudgetCouponsLeft != 0 {
		t.Fatalf("simulation %+v %v, want 100 points, no coupon, no refusal", sim, err)
	}
	real, err := e.campaigns.Compensate(ctx, actor, campaigns.AfterSalesEvent{RequestID: "e2", MemberID: "b", OrderID: "o1", Type: "LATE_DELIVERY", DelayHours: 72})
	if err != nil || len(real.Grants) != 1 || real.Grants[0].Points != sim.Points || real.Grants[0].CouponCode != "" || len(real.Refusals) != 0 {
		t.Fatalf("compensation %+v %v, want what the simulation answered", real, err)
	}
}
