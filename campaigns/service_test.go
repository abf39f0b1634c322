package campaigns_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/fakeclock"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

var (
	ctx   = context.Background()
	actor = ledger.Actor{KeyID: "key_test"}
)

type engine struct {
	pool      *pgxpool.Pool
	ledger    *ledger.Service
	tiers     *tiers.Service
	campaigns *campaigns.Service
	clock     *fakeclock.Clock
}

// newEngine is the ledger, tiers and campaigns on a fresh database, with members
// enrolled and a program without return window.
func newEngine(t testing.TB, members ...string) engine {
	t.Helper()
	clock := fakeclock.At(time.Now())
	pool := dbtest.NewPool(t)
	e := wire(pool, clock)
	l := e.ledger
	prog, err := l.Program(ctx)
	if err != nil {
		t.Fatal(err)
	}
	prog.ReturnWindowDays = 0
	if _, err := l.UpdateProgram(ctx, actor, prog); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if _, _, err := l.Enroll(ctx, ledger.EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// wire builds the tiers, the ledger and the campaigns as internal/app does: the
// ledger applies the campaigns to earnings.
func wire(pool *pgxpool.Pool, clock *fakeclock.Clock, opts ...campaigns.Option) engine {
	t := tiers.NewService(pool, tiers.WithClock(clock))
	l := ledger.NewService(pool, t, ledger.WithClock(clock))
	c := campaigns.NewService(pool, l, t, clock, opts...)
	l.SetPromotions(c)
	return engine{pool: pool, ledger: l, tiers: t, campaigns: c, clock: clock}
}

// launch creates and activates a campaign.
func (e engine) launch(t testing.TB, d campaigns.Definition) campaigns.Campaign {
	t.Helper()
	c, err := e.campaigns.Create(ctx, "key_marketer", campaigns.Create{Definition: d})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = e.campaigns.Activate(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	return c
}

func (e engine) order(t testing.TB, member, orderID string, spendMinor int64) ledger.EarnResult {
	t.Helper()
	res, err := e.ledger.Earn(ctx, actor, ledger.Earn{MemberID: member, RequestID: "earn-" + orderID, OrderID: orderID, SpendMinor: spendMinor, Currency: "CNY"})
	if err != nil {
		t.Fatalf("earn on %s: %v", orderID, err)
	}
	return res
}

func campaignPoints(res ledger.EarnResult, id string) int64 {
	var n int64
	for _, l := range res.Breakdown {
		if l.Source == "CAMPAIGN" && l.CampaignID == id {
			n += l.Points
		}
	}
	return n
}

func (e engine) mustVerify(t testing.TB) {
	t.Helper()
	v, err := e.ledger.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK {
		t.Fatalf("books do not verify: %+v", v.Discrepancies)
	}
}

func (e engine) campaignAccount(t testing.TB, id string) int64 {
	t.Helper()
	balances, err := e.ledger.SystemBalances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range balances {
		if b.Account == campaigns.Account(id) {
			return b.Balance
		}
	}
	return 0
}

func double11() campaigns.Definition {
	return campaigns.Definition{
		DisplayName: "Double 11 double points", Type: campaigns.TypeMultiplier, MultiplierPercent: 200,
		Schedule: campaigns.Schedule{StartTime: "2026-11-11T00:00:00", EndTime: "2026-11-12T00:00:00", TimeZone: "Asia/Shanghai"},
	}
}

// A campaign starting 2026-11-11 00:00 Asia/Shanghai is active from 2026-11-10T16:00Z,
// not a second before, and ends at 2026-11-11T16:00Z.
func TestScheduleFollowsTheTimeZoneToTheSecond(t *testing.T) {
	e := newEngine(t, "m")
	c := e.launch(t, double11())
	start := time.Date(2026, 11, 10, 16, 0, 0, 0, time.UTC)
	if !c.Start.Equal(start) || !c.End.Equal(start.Add(24*time.Hour)) {
		t.Fatalf("schedule %s – %s, want %s – a day later", c.Start, c.End, start)
	}
	steps := []struct {
		at     time.Time
		status string
		bonus  int64
	}{
		{start.Add(-time.Second), campaigns.StatusScheduled, 0},
		{start, campaigns.StatusActive, 100},
		{start.Add(24*time.Hour - time.Second), campaigns.StatusActive, 100},
		{start.Add(24 * time.Hour), campaigns.StatusEnded, 0},
	}
	for i, s := range steps {
		e.clock.Set(s.at)
		if got := c.EffectiveStatus(s.at); got != s.status {
			t.Errorf("at %s: status %s, want %s", s.at, got, s.status)
		}
		res := e.order(t, "m", fmt.Sprintf("o%d", i), 10_000) // 100 base points
		if got := campaignPoints(res, c.ID); got != s.bonus {
			t.Errorf("at %s: campaign gave %d, want %d (breakdown %+v)", s.at, got, s.bonus, res.Breakdown)
		}
	}
	e.clock.Set(start.Add(25 * time.Hour))
	if _, err := e.campaigns.AdvanceSchedules(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.campaigns.Get(ctx, c.ID); got.Status != campaigns.StatusEnded {
		t.Fatalf("after the end the job left status %s", got.Status)
	}
	ended, _, err := e.campaigns.List(ctx, campaigns.ListQuery{Status: campaigns.StatusEnded})
	if err != nil || len(ended) != 1 {
		t.Fatalf("list ENDED: %d campaigns, %v", len(ended), err)
	}
	e.mustVerify(t)
}

// Bad definitions are refused naming the field, the rule's message saying where.
func TestDefinitionsAreCheckedWhenSaved(t *testing.T) {
	e := newEngine(t)
	cases := []struct {
		name  string
		edit  func(*campaigns.Definition)
		field string
		says  string
	}{
		{"syntax", func(d *campaigns.Definition) { d.Eligibility.Rule = "order.spendMinor >= " }, "eligibility.rule", "1:"},
		{"unknown field", func(d *campaigns.Definition) { d.Eligibility.Rule = "order.spendMinr >= 10000" }, "eligibility.rule", "spendMinr"},
		{"wrong type", func(d *campaigns.Definition) { d.Eligibility.Rule = "order.spendMinor >= 'a lot'" }, "eligibility.rule", "no matching overload"},
		{"not a boolean", func(d *campaigns.Definition) { d.Eligibility.Rule = "order.spendMinor + 1" }, "eligibility.rule", "boolean"},
		{"unknown time zone", func(d *campaigns.Definition) { d.Schedule.TimeZone = "Mars/Olympus" }, "schedule.timeZone", "IANA"},
		{"end before start", func(d *campaigns.Definition) { d.Schedule.EndTime = "2026-11-10T00:00:00" }, "schedule.endTime", "after"},
		{"unknown tier", func(d *campaigns.Definition) { d.Eligibility.Tiers = []string{"diamond"} }, "eligibility.tiers[0]", "tier"},
		{"multiplier too low", func(d *campaigns.Definition) { d.MultiplierPercent = 100 }, "multiplierPercent", "above 100"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := double11()
			c.edit(&d)
			_, err := e.campaigns.Create(ctx, "k", campaigns.Create{Definition: d})
			pe, ok := problem.As(err)
			if !ok || pe.Kind != problem.Invalid {
				t.Fatalf("answered %v, want invalid", err)
			}
			for _, f := range pe.Fields {
				if f.Field == c.field && strings.Contains(f.Description, c.says) {
					return
				}
			}
			t.Fatalf("fields %+v, want %s saying %q", pe.Fields, c.field, c.says)
		})
	}
	if list, _, _ := e.campaigns.List(ctx, campaigns.ListQuery{}); len(list) != 0 {
		t.Fatalf("refused definitions saved %d campaigns", len(list))
	}
	good := double11()
	good.Eligibility.Rule = "order.spendMinor >= 10000 && member.tierId != 'member' && event.type == ''"
	if _, err := e.campaigns.Create(ctx, "k", campaigns.Create{Definition: good}); err != nil {
		t.Fatalf("a good rule refused: %v", err)
	}
}

// 200 racing issues against a budget of 50 coupons give exactly 50; racing
// redemptions of one code give one; another member's coupon is refused.
func TestCouponBudgetAndRedemptionUnderRaces(t *testing.T) {
	members := make([]string, 200)
	for i := range members {
		members[i] = fmt.Sprintf("m%d", i)
	}
	e := newEngine(t, members...)
	c := e.launch(t, campaigns.Definition{
		DisplayName: "Singles' Day coupon drop", Type: campaigns.TypeCouponDrop,
		Coupon: campaigns.CouponTemplate{Kind: campaigns.CouponAmountOff, AmountOffMinor: 1000, MinSpendMinor: 9900, ValidDays: 30},
		Budget: campaigns.Budget{Coupons: 50}, PerMemberCap: campaigns.Cap{Coupons: 1},
	})
	var issued, exhausted atomic.Int64
	codes := make([]string, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cp, err := e.campaigns.IssueCoupon(ctx, campaigns.IssueCoupon{MemberID: m, RequestID: "drop", CampaignID: c.ID})
			switch {
			case errors.Is(err, campaigns.ErrBudgetExhausted):
				exhausted.Add(1)
			case err != nil:
				t.Error(err)
			default:
				issued.Add(1)
				codes[i] = cp.Code
			}
		}()
	}
	wg.Wait()
	got, _ := e.campaigns.Get(ctx, c.ID)
	if issued.Load() != 50 || exhausted.Load() != 150 || got.IssuedCoupons != 50 {
		t.Fatalf("issued %d, exhausted %d, campaign counts %d; want 50, 150, 50", issued.Load(), exhausted.Load(), got.IssuedCoupons)
	}
	owner, code := "", ""
	for i, cd := range codes {
		if cd != "" {
			owner, code = members[i], cd
			break
		}
	}
	if len(code) != 19 || strings.ContainsAny(code, "ILOU") {
		t.Fatalf("code %q is not 4×4 characters of the readable alphabet", code)
	}
	// The owner asks again with the same request: the same coupon, no second one.
	again, err := e.campaigns.IssueCoupon(ctx, campaigns.IssueCoupon{MemberID: owner, RequestID: "drop", CampaignID: c.ID})
	if err != nil || again.Code != code {
		t.Fatalf("repeat issue answered %q, %v; want %q", again.Code, err, code)
	}
	if _, err := e.campaigns.IssueCoupon(ctx, campaigns.IssueCoupon{MemberID: owner, RequestID: "drop-2", CampaignID: c.ID}); err == nil {
		t.Fatal("a second coupon beyond the budget and the member's cap was issued")
	}

	if _, err := e.campaigns.RedeemCoupon(ctx, campaigns.RedeemCoupon{Code: code, RequestID: "r", MemberID: "someone-else", OrderID: "o"}); !errors.Is(err, campaigns.ErrCouponNotOwned) {
		t.Fatalf("another member's redemption: %v, want COUPON_NOT_OWNED", err)
	}
	if _, err := e.campaigns.RedeemCoupon(ctx, campaigns.RedeemCoupon{Code: code, RequestID: "r", MemberID: owner, OrderID: "o", SpendMinor: 5000}); !errors.Is(err, campaigns.ErrCouponMinSpend) {
		t.Fatalf("below the minimum spend: %v, want COUPON_MIN_SPEND_NOT_MET", err)
	}
	var redeemed, refused atomic.Int64
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Typed the way people type: lower case, no dashes.
			typed := strings.ToLower(strings.ReplaceAll(code, "-", ""))
			_, err := e.campaigns.RedeemCoupon(ctx, campaigns.RedeemCoupon{Code: typed, RequestID: fmt.Sprintf("checkout-%d", i), MemberID: owner, OrderID: fmt.Sprintf("o%d", i)})
			switch {
			case errors.Is(err, campaigns.ErrCouponRedeemed):
				refused.Add(1)
			case err != nil:
				t.Error(err)
			default:
				redeemed.Add(1)
			}
		}()
	}
	wg.Wait()
	if redeemed.Load() != 1 || refused.Load() != 19 {
		t.Fatalf("%d redemptions succeeded and %d were refused, want 1 and 19", redeemed.Load(), refused.Load())
	}
	list, _, err := e.campaigns.Coupons(ctx, campaigns.CouponQuery{MemberID: owner})
	if err != nil || len(list) != 1 || list[0].Status != campaigns.CouponRedeemed {
		t.Fatalf("owner's coupons %+v (%v), want one REDEEMED", list, err)
	}
	e.clock.Set(e.clock.Now().AddDate(0, 0, 31))
	for i, cd := range codes {
		if cd != "" && cd != code {
			l, _, _ := e.campaigns.Coupons(ctx, campaigns.CouponQuery{MemberID: members[i]})
			if l[0].Status != campaigns.CouponExpired {
				t.Fatalf("a coupon after its 30 days is %s, want EXPIRED", l[0].Status)
			}
			if _, err := e.campaigns.RedeemCoupon(ctx, campaigns.RedeemCoupon{Code: cd, RequestID: "late", MemberID: members[i], OrderID: "x"}); !errors.Is(err, campaigns.ErrCouponExpired) {
				t.Fatalf("redeeming an expired coupon: %v", err)
			}
			break
		}
	}
}

// A multiplier with a points budget and a per-member cap: bonuses stop at the cap
// and at the budget, with the reason; racing orders never exceed the budget; a
// refund gives its share back; the campaign's ledger account matches what it spent.
func TestPointsBudgetCapsAndRefunds(t *testing.T) {
	e := newEngine(t, "a", "b")
	c := e.launch(t, campaigns.Definition{
		DisplayName: "double points", Type: campaigns.TypeMultiplier, MultiplierPercent: 200,
		Budget: campaigns.Budget{Points: 1000}, PerMemberCap: campaigns.Cap{Points: 600},
	})
	if got := campaignPoints(e.order(t, "a", "a1", 50_000), c.ID); got != 500 {
		t.Fatalf("first order bonus %d, want 500", got)
	}
	if got := campaignPoints(e.order(t, "a", "a2", 50_000), c.ID); got != 100 {
		t.Fatalf("second order bonus %d, want 100 (the cap of 600)", got)
	}
	third := e.order(t, "a", "a3", 50_000)
	if campaignPoints(third, c.ID) != 0 || len(third.CampaignRefusals) != 1 || third.CampaignRefusals[0].Reason != campaigns.RefusedMemberCap {
		t.Fatalf("third order: %+v, want refused MEMBER_CAP_REACHED", third)
	}
	if got := campaignPoints(e.order(t, "b", "b1", 50_000), c.ID); got != 400 {
		t.Fatalf("b's bonus %d, want the 400 left in the budget", got)
	}
	if r := e.order(t, "b", "b2", 1_000); len(r.CampaignRefusals) != 1 || r.CampaignRefusals[0].Reason != campaigns.RefusedBudgetExhausted {
		t.Fatalf("after the budget: %+v, want BUDGET_EXHAUSTED", r.CampaignRefusals)
	}
	if got := e.campaignAccount(t, c.ID); got != -1000 {
		t.Fatalf("campaign account %d, want -1000", got)
	}
	// Refund half of a1 (1,000 points: 500 base + 500 campaign): 250 go back to the
	// budget and a's cap.
	if _, err := e.ledger.RefundOrder(ctx, actor, ledger.Refund{MemberID: "a", OrderID: "a1", RequestID: "r1", AmountMinor: 25_000}); err != nil {
		t.Fatal(err)
	}
	got, _ := e.campaigns.Get(ctx, c.ID)
	if got.SpentPoints != 750 || e.campaignAccount(t, c.ID) != -750 {
		t.Fatalf("after refunding half of a1: spent %d, account %d; want 750, -750", got.SpentPoints, e.campaignAccount(t, c.ID))
	}
	if again := campaignPoints(e.order(t, "a", "a4", 50_000), c.ID); again != 250 {
		t.Fatalf("after the refund a got %d, want the 250 given back to the cap and budget", again)
	}
	e.mustVerify(t)
}

func TestRacingOrdersNeverExceedThePointsBudget(t *testing.T) {
	members := []string{"a", "b", "c", "d", "e"}
	e := newEngine(t, members...)
	c := e.launch(t, campaigns.Definition{DisplayName: "bonus", Type: campaigns.TypeBonus, BonusPoints: 70, Budget: campaigns.Budget{Points: 1000}})
	var wg sync.WaitGroup
	var granted atomic.Int64
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := members[i%len(members)]
			res, err := e.ledger.Earn(ctx, actor, ledger.Earn{MemberID: m, RequestID: fmt.Sprintf("o%d", i), OrderID: fmt.Sprintf("o%d", i), SpendMinor: 1000, Currency: "CNY"})
			if err != nil {
				t.Error(err)
				return
			}
			granted.Add(campaignPoints(res, c.ID))
		}()
	}
	wg.Wait()
	got, _ := e.campaigns.Get(ctx, c.ID)
	if granted.Load() != 1000 || got.SpentPoints != 1000 || e.campaignAccount(t, c.ID) != -1000 {
		t.Fatalf("granted %d, spent %d, account %d; want 1000 each", granted.Load(), got.SpentPoints, e.campaignAccount(t, c.ID))
	}
	e.mustVerify(t)
}

// A late delivery is compensated once per order, scaled by tier, with points and a
// coupon; new request ids for the same order and type answer the first outcome.
func TestCompensationOncePerOrderAndEventType(t *testing.T) {
	e := newEngine(t, "m", "g")
	if _, err := e.tiers.BuyMembership(ctx, "k", tiers.BuyMembership{MemberID: "g", RequestID: "gold", TierID: "gold", EndTime: e.clock.Now().Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	c := e.launch(t, campaigns.Definition{
		DisplayName: "Late delivery apology", Type: campaigns.TypeCompensation,
		Compensation: campaigns.Compensation{EventTypes: []string{"LATE_DELIVERY"}, MinDelayHours: 48, Points: 100,
			TierPercent: map[string]int32{"gold": 150, "platinum": 200}},
		Coupon: campaigns.CouponTemplate{Kind: campaigns.CouponFreeShipping, ValidDays: 60},
	})
	short, err := e.campaigns.Compensate(ctx, actor, campaigns.AfterSalesEvent{RequestID: "e0", MemberID: "m", OrderID: "o1", Type: "LATE_DELIVERY", DelayHours: 24})
	if err != nil || len(short.Grants) != 0 || short.Reason != campaigns.NoMatchingCampaign {
		t.Fatalf("a 24 h delay: %+v %v, want nothing (no matching campaign)", short, err)
	}
	// The same order reported again later, when the delay reached 72 hours, is
	// compensated: an event that got nothing is not recorded.
	var wg sync.WaitGroup
	results := make([]campaigns.CompensationResult, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.campaigns.Compensate(ctx, actor, campaigns.AfterSalesEvent{RequestID: fmt.Sprintf("e%d", i+1), MemberID: "m", OrderID: "o1", Type: "LATE_DELIVERY", DelayHours: 72})
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	first := results[0]
	for _, r := range results {
		if len(r.Grants) != 1 || r.Grants[0].Points != 100 || r.Grants[0].CouponCode == "" || r.RequestID != first.RequestID {
			t.Fatalf("racing events answered %+v, want one compensation of 100 points and a coupon, the same for all", r)
		}
	}
	b, _ := e.ledger.Balance(ctx, "m")
	if b.Available != 100 {
		t.Fatalf("member has %d points after 10 events on one order, want 100", b.Available)
	}
	if coupons, _, _ := e.campaigns.Coupons(ctx, campaigns.CouponQuery{MemberID: "m"}); len(coupons) != 1 || coupons[0].Kind != campaigns.CouponFreeShipping {
		t.Fatalf("member's coupons %+v, want one free shipping", coupons)
	}
	gold, err := e.campaigns.Compensate(ctx, actor, campaigns.AfterSalesEvent{RequestID: "g1", MemberID: "g", OrderID: "o1", Type: "LATE_DELIVERY", DelayHours: 50})
	if err != nil || len(gold.Grants) != 1 || gold.Grants[0].Points != 150 {
		t.Fatalf("gold member: %+v %v, want 150 points", gold, err)
	}
	other, err := e.campaigns.Compensate(ctx, actor, campaigns.AfterSalesEvent{RequestID: "e99", MemberID: "m", OrderID: "o1", Type: "DAMAGED_ITEM"})
	if err != nil || len(other.Grants) != 0 {
		t.Fatalf("another event type: %+v %v, want nothing from a late-delivery campaign", other, err)
	}
	if got, _ := e.campaigns.Get(ctx, c.ID); got.SpentPoints != 250 || got.IssuedCoupons != 2 {
		t.Fatalf("campaign spent %d points and %d coupons, want 250 and 2", got.SpentPoints, got.IssuedCoupons)
	}
	e.mustVerify(t)
}

// A dry run answers what a member and an order would get, and changes nothing.
func TestSimulateChangesNothing(t *testing.T) {
	e := newEngine(t, "m")
	d := double11()
	d.Schedule = campaigns.Schedule{}
	d.Eligibility.Rule = "order.spendMinor >= 10000"
	d.PerMemberCap = campaigns.Cap{Points: 150}
	c, err := e.campaigns.Create(ctx, "k", campaigns.Create{Definition: d})
	if err != nil {
		t.Fatal(err)
	}
	sim, err := e.campaigns.Simulate(ctx, campaigns.Simulate{CampaignID: c.ID, MemberID: "m", SpendMinor: 20_000})
	if err != nil || sim.ActiveNow || !sim.Eligible || sim.BasePoints != 200 || sim.Points != 150 || sim.Reason != "" {
		t.Fatalf("simulation %+v %v, want eligible, 150 points (capped), not active yet", sim, err)
	}
	small, _ := e.campaigns.Simulate(ctx, campaigns.Simulate{CampaignID: c.ID, MemberID: "m", SpendMinor: 5_000})
	if small.Eligible || small.Points != 0 || small.Reason != "NOT_ELIGIBLE" {
		t.Fatalf("below the rule's spend: %+v", small)
	}
	if got, _ := e.campaigns.Get(ctx, c.ID); got.SpentPoints != 0 || got.Grants != 0 {
		t.Fatalf("a dry run changed the campaign: %+v", got)
	}
}

// Refunds of a campaign order go through the group commit and race campaign
// earnings of other members on a small budget: every point refunded goes back to the
// budget exactly once, so what the budget spent is what the orders kept.
func TestRacingRefundsGiveBackToTheBudgetExactly(t *testing.T) {
	members := []string{"a", "b", "c", "d"}
	e := newEngine(t, members...)
	c := e.launch(t, campaigns.Definition{DisplayName: "double points", Type: campaigns.TypeMultiplier, MultiplierPercent: 200,
		Budget: campaigns.Budget{Points: 2000}})
	if got := campaignPoints(e.order(t, "a", "a1", 100_000), c.ID); got != 1000 {
		t.Fatalf("a1's bonus %d, want 1000", got)
	}
	var wg sync.WaitGroup
	var granted atomic.Int64
	for i := range 10 { // a1 refunded in ten parts, each sent twice
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.ledger.RefundOrder(ctx, actor, ledger.Refund{MemberID: "a", OrderID: "a1", RequestID: fmt.Sprintf("r%d", i), AmountMinor: 10_000})
				if err != nil {
					t.Error(err)
				}
			}()
		}
	}
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := members[1+i%3]
			res, err := e.ledger.Earn(ctx, actor, ledger.Earn{MemberID: m, RequestID: fmt.Sprintf("o%d", i), OrderID: fmt.Sprintf("o%d", i), SpendMinor: 10_000, Currency: "CNY"})
			if err != nil {
				t.Error(err)
				return
			}
			granted.Add(campaignPoints(res, c.ID))
		}()
	}
	wg.Wait()
	o, err := e.ledger.GetOrder(ctx, "a", "a1")
	if err != nil || !o.FullyRefunded || o.PointsTakenBack != 2000 {
		t.Fatalf("a1 after its refunds: %+v %v, want fully refunded, 2000 points taken back", o, err)
	}
	got, _ := e.campaigns.Get(ctx, c.ID)
	if got.SpentPoints != granted.Load() || e.campaignAccount(t, c.ID) != -granted.Load() {
		t.Fatalf("spent %d, account %d; want what the other orders kept, %d", got.SpentPoints, e.campaignAccount(t, c.ID), granted.Load())
	}
	e.mustVerify(t)
}
