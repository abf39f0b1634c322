package campaigns_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/tiers"
)

// allowanceDrop launches a coupon drop to be the allowance's template and
// configures it.
func (e engine) allowanceDrop(t *testing.T) campaigns.Campaign {
	t.Helper()
	drop := e.launch(t, campaigns.Definition{DisplayName: "Monthly coupon", Type: campaigns.TypeCouponDrop,
		Coupon: campaigns.CouponTemplate{Kind: campaigns.CouponFreeShipping, ValidDays: 90}})
	if _, err := e.campaigns.SetCouponAllowance(ctx, "key_admin", campaigns.SetCouponAllowance{CampaignID: drop.ID}); err != nil {
		t.Fatal(err)
	}
	return drop
}

// paidTier gives a member a tier for a year (a paid membership is the shortest
// way to a tier without earning its threshold).
func (e engine) paidTier(t *testing.T, member, tier string) {
	t.Helper()
	if _, err := e.tiers.BuyMembership(ctx, "key_app", tiers.BuyMembership{MemberID: member, RequestID: "buy-" + member + "-" + tier,
		TierID: tier, EndTime: e.clock.Now().AddDate(1, 0, 0)}); err != nil {
		t.Fatal(err)
	}
}

func (e engine) issueAllowances(t *testing.T) campaigns.AllowanceRun {
	t.Helper()
	run, err := e.campaigns.IssueAllowances(ctx, 7) // a small page: several pages per run
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// couponsOf counts a member's coupons of a campaign by status now.
func (e engine) couponsOf(t *testing.T, member, campaignID string) map[string]int {
	t.Helper()
	list, _, err := e.campaigns.Coupons(ctx, campaigns.CouponQuery{MemberID: member, PageSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, c := range list {
		if c.CampaignID == campaignID {
			out[c.Status]++
		}
	}
	return out
}

func (e engine) allowanceEntitlement(t *testing.T, member string) tiers.Entitlement {
	t.Helper()
	en, err := e.tiers.CheckEntitlement(ctx, member, tiers.PerkMonthlyCouponAllowance)
	if err != nil {
		t.Fatal(err)
	}
	return en
}

// metric is the value of one of the campaigns' metrics (a gauge or a counter).
func (e engine) metric(t *testing.T, name string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.campaigns.Collectors()...)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			m := f.GetMetric()[0]
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func fieldOf(err error) string {
	var p *problem.Error
	if !errors.As(err, &p) || p.Kind != problem.Invalid || len(p.Fields) == 0 {
		return fmt.Sprintf("not a field error: %v", err)
	}
	return p.Fields[0].Field
}

// The allowance's campaign must exist, carry a coupon and be active: anything else
// is a 400 on campaignId that changes nothing. Not configured, the job issues
// nothing and says why.
func TestCouponAllowanceConfigurationIsChecked(t *testing.T) {
	e := newEngine(t, "gold-member")
	e.paidTier(t, "gold-member", "gold")
	run := e.issueAllowances(t)
	if !run.Off || run.Reason == "" || run.Members != 0 || run.Coupons != 0 {
		t.Fatalf("unconfigured run %+v, want off with a reason", run)
	}
	if on := e.metric(t, "loyalty_coupon_allowance_on"); on != 0 {
		t.Fatalf("loyalty_coupon_allowance_on %v while unconfigured", on)
	}
	points := e.launch(t, campaigns.Definition{DisplayName: "Bonus", Type: campaigns.TypeBonus, BonusPoints: 10})
	draft, err := e.campaigns.Create(ctx, "key_marketer", campaigns.Create{Definition: campaigns.Definition{DisplayName: "Draft drop",
		Type: campaigns.TypeCouponDrop, Coupon: campaigns.CouponTemplate{Kind: campaigns.CouponFreeShipping, ValidDays: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"cmp_nope", points.ID, draft.ID, strings.Repeat("x", 70)} {
		if _, err := e.campaigns.SetCouponAllowance(ctx, "key_admin", campaigns.SetCouponAllowance{CampaignID: id}); fieldOf(err) != "campaignId" {
			t.Errorf("campaign %.20q: %v, want a 400 on campaignId", id, err)
		}
	}
	if cfg, err := e.campaigns.CouponAllowance(ctx); err != nil || cfg.CampaignID != "" {
		t.Fatalf("after refusals: %+v %v, want nothing configured", cfg, err)
	}
	if run := e.issueAllowances(t); !run.Off || run.Coupons != 0 {
		t.Fatalf("run %+v, want off", run)
	}
	if n := e.couponsOf(t, "gold-member", draft.ID); len(n) != 0 {
		t.Fatalf("coupons %v issued while off", n)
	}

	drop := e.allowanceDrop(t)
	cfg, err := e.campaigns.CouponAllowance(ctx)
	if err != nil || cfg.CampaignID != drop.ID || cfg.ActorKeyID != "key_admin" || cfg.UpdateTime.IsZero() {
		t.Fatalf("configured %+v %v, want %s", cfg, err, drop.ID)
	}
	// A campaign that stops being active turns the allowance off until it is again.
	if _, err := e.campaigns.Pause(ctx, drop.ID); err != nil {
		t.Fatal(err)
	}
	if run := e.issueAllowances(t); !run.Off || run.Coupons != 0 {
		t.Fatalf("run on a paused campaign %+v, want off", run)
	}
	if _, err := e.campaigns.Activate(ctx, drop.ID); err != nil {
		t.Fatal(err)
	}
	if run := e.issueAllowances(t); run.Off || run.Coupons != 2 {
		t.Fatalf("run %+v, want gold's 2 coupons", run)
	}
	if on, n := e.metric(t, "loyalty_coupon_allowance_on"), e.metric(t, "loyalty_coupon_allowance_coupons_total"); on != 1 || n != 2 {
		t.Fatalf("metrics on %v, coupons %v; want 1 and 2", on, n)
	}
	if _, err := e.campaigns.SetCouponAllowance(ctx, "key_admin", campaigns.SetCouponAllowance{}); err != nil {
		t.Fatal(err)
	}
	if run := e.issueAllowances(t); !run.Off {
		t.Fatalf("run after turning it off %+v", run)
	}
	if on := e.metric(t, "loyalty_coupon_allowance_on"); on != 0 {
		t.Fatalf("loyalty_coupon_allowance_on %v after turning it off", on)
	}
}

// Each member gets their tier's allowance once per cycle: a second run, and a
// second process (new services on the same database, as after a restart), issue
// nothing more. The coupons are the cycle's uses of the perk: the check shows
// them used, a consume by hand is refused, and what was consumed by hand before
// the job came is not issued again. Each coupon is told by coupon.issued.
func TestCouponAllowanceOncePerCycleAcrossARestart(t *testing.T) {
	e := newEngine(t, "basic", "silver-m", "gold-m", "plat-m", "gold-used")
	for m, tier := range map[string]string{"silver-m": "silver", "gold-m": "gold", "plat-m": "platinum", "gold-used": "gold"} {
		e.paidTier(t, m, tier)
	}
	if _, err := e.tiers.ConsumeEntitlement(ctx, "key_app", tiers.ConsumeEntitlement{MemberID: "gold-used",
		Perk: tiers.PerkMonthlyCouponAllowance, RequestID: "by-hand"}); err != nil {
		t.Fatal(err)
	}
	drop := e.allowanceDrop(t)
	want := map[string]int{"basic": 0, "silver-m": 1, "gold-m": 2, "plat-m": 4, "gold-used": 1}
	if run := e.issueAllowances(t); run.Members != 5 || run.Coupons != 8 {
		t.Fatalf("first run %+v, want 5 members and 8 coupons", run)
	}
	check := func(when string) {
		t.Helper()
		for m, n := range want {
			if got := e.couponsOf(t, m, drop.ID)[campaigns.CouponIssued]; got != n {
				t.Errorf("%s: %s has %d coupons, want %d", when, m, got, n)
			}
		}
	}
	check("after the first run")
	if run := e.issueAllowances(t); run.Members != 0 || run.Coupons != 0 {
		t.Fatalf("second run %+v, want nothing", run)
	}
	restarted := wire(e.pool, e.clock)
	e.clock.Advance(time.Hour)
	if run, err := restarted.campaigns.IssueAllowances(ctx, 100); err != nil || run.Members != 0 || run.Coupons != 0 {
		t.Fatalf("run after a restart %+v %v, want nothing", run, err)
	}
	check("after a restart")
	var named, uses int
	if err := e.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM coupons WHERE campaign_id = $1 AND request_id LIKE 'system#allowance:%'),
	        (SELECT count(*) FROM entitlement_uses WHERE actor_key_id = $2 AND request_id LIKE 'system#allowance:%')`,
		drop.ID, campaigns.AllowanceActor).Scan(&named, &uses); err != nil || named != 8 || uses != 8 {
		t.Fatalf("%d coupons and %d uses under the allowance's request ids (%v), want 8 and 8", named, uses, err)
	}

	for m, quota := range map[string]int32{"silver-m": 1, "gold-m": 2, "plat-m": 4, "gold-used": 2} {
		en := e.allowanceEntitlement(t, m)
		if en.Quota != quota || en.Used != quota || en.Remaining != 0 || en.Allowed {
			t.Errorf("%s: entitlement %+v, want all %d used", m, en, quota)
		}
	}
	_, err := e.tiers.ConsumeEntitlement(ctx, "key_app", tiers.ConsumeEntitlement{MemberID: "gold-m",
		Perk: tiers.PerkMonthlyCouponAllowance, RequestID: "late"})
	if !errors.Is(err, tiers.ErrQuotaExhausted) {
		t.Fatalf("consume after the allowance: %v, want QUOTA_EXHAUSTED", err)
	}
	feed, err := events.NewStore(e.pool).List(ctx, events.Filter{Types: []events.Type{events.CouponIssued}, Limit: events.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	told := map[string]int{}
	for _, ev := range feed {
		told[ev.MemberID]++
	}
	for m, n := range want {
		if told[m] != n {
			t.Errorf("%s: %d coupon.issued events, want %d", m, told[m], n)
		}
	}
	e.mustVerify(t)
}

// Runners racing over the same members (replicas' jobs) issue each member's
// allowance once: the coupons add up to the tiers' quotas exactly.
func TestRacingAllowanceRunnersIssueOnce(t *testing.T) {
	var members []string
	for i := range 24 {
		members = append(members, fmt.Sprintf("m%02d", i))
	}
	e := newEngine(t, members...)
	tierOf := []string{"member", "silver", "gold", "platinum"}
	quota := map[string]int{"member": 0, "silver": 1, "gold": 2, "platinum": 4}
	total := 0
	for i, m := range members {
		if tier := tierOf[i%4]; tier != "member" {
			e.paidTier(t, m, tier)
		}
		total += quota[tierOf[i%4]]
	}
	drop := e.allowanceDrop(t)
	runners := []engine{e, wire(e.pool, e.clock), wire(e.pool, e.clock), wire(e.pool, e.clock)}
	var wg sync.WaitGroup
	runs := make([]campaigns.AllowanceRun, len(runners))
	errs := make([]error, len(runners))
	for i, r := range runners {
		wg.Go(func() { runs[i], errs[i] = r.campaigns.IssueAllowances(ctx, 5) })
	}
	wg.Wait()
	members2, coupons := 0, 0
	for i := range runs {
		if errs[i] != nil {
			t.Fatalf("runner %d: %v", i, errs[i])
		}
		members2 += runs[i].Members
		coupons += runs[i].Coupons
	}
	if members2 != len(members) || coupons != total {
		t.Fatalf("runners dealt with %d members and issued %d coupons, want %d and %d", members2, coupons, len(members), total)
	}
	var inDB int
	if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM coupons WHERE campaign_id = $1", drop.ID).Scan(&inDB); err != nil || inDB != total {
		t.Fatalf("%d coupons in the database (%v), want %d", inDB, err, total)
	}
	for i, m := range members {
		if got := e.couponsOf(t, m, drop.ID)[campaigns.CouponIssued]; got != quota[tierOf[i%4]] {
			t.Errorf("%s (%s) has %d coupons", m, tierOf[i%4], got)
		}
	}
	e.mustVerify(t)
}

// A member whose tier changes keeps this cycle's allowance and gets the new tier's
// at the next cycle; the coupons expire with their cycle (and are told expired).
func TestAllowanceFollowsTheTierAndExpiresWithTheCycle(t *testing.T) {
	e := newEngine(t, "climber")
	e.paidTier(t, "climber", "silver")
	drop := e.allowanceDrop(t)
	if run := e.issueAllowances(t); run.Coupons != 1 {
		t.Fatalf("first cycle %+v, want silver's 1", run)
	}
	first := e.allowanceEntitlement(t, "climber")
	list, _, err := e.campaigns.Coupons(ctx, campaigns.CouponQuery{MemberID: "climber"})
	if err != nil || len(list) != 1 {
		t.Fatalf("coupons %+v %v", list, err)
	}
	if !list[0].ValidUntil.Equal(first.CycleEnd) {
		t.Fatalf("coupon valid until %s, want the cycle's end %s (not the template's 90 days)", list[0].ValidUntil, first.CycleEnd)
	}
	e.clock.Advance(24 * time.Hour)
	e.paidTier(t, "climber", "platinum")
	if run := e.issueAllowances(t); run.Coupons != 0 {
		t.Fatalf("upgrade mid-cycle issued %+v, want nothing until the next cycle", run)
	}
	// One nanosecond before the cycle ends: still valid, nothing new.
	e.clock.Set(first.CycleEnd.Add(-time.Nanosecond))
	if n := e.couponsOf(t, "climber", drop.ID); n[campaigns.CouponIssued] != 1 {
		t.Fatalf("before the end: %v", n)
	}
	if run := e.issueAllowances(t); run.Coupons != 0 {
		t.Fatalf("before the end issued %+v", run)
	}
	e.clock.Set(first.CycleEnd)
	if n := e.couponsOf(t, "climber", drop.ID); n[campaigns.CouponExpired] != 1 || n[campaigns.CouponIssued] != 0 {
		t.Fatalf("at the cycle's end: %v, want the coupon expired", n)
	}
	_, err = e.campaigns.RedeemCoupon(ctx, campaigns.RedeemCoupon{Code: list[0].Code, RequestID: "late", MemberID: "climber", OrderID: "o1"})
	if !errors.Is(err, campaigns.ErrCouponExpired) {
		t.Fatalf("redeem after the cycle: %v, want COUPON_EXPIRED", err)
	}
	if n, err := e.campaigns.TellExpiredCoupons(ctx, 100); err != nil || n != 1 {
		t.Fatalf("told %d expired (%v), want 1", n, err)
	}
	if run := e.issueAllowances(t); run.Members != 1 || run.Coupons != 4 {
		t.Fatalf("next cycle %+v, want platinum's 4", run)
	}
	second := e.allowanceEntitlement(t, "climber")
	if !second.CycleStart.Equal(first.CycleEnd) || second.Used != 4 || second.TierID != "platinum" {
		t.Fatalf("second cycle %+v", second)
	}
	if n := e.couponsOf(t, "climber", drop.ID); n[campaigns.CouponIssued] != 4 || n[campaigns.CouponExpired] != 1 {
		t.Fatalf("second cycle coupons %v", n)
	}
	e.mustVerify(t)
}

// Runners racing with consumes by hand over the same members never give more
// than the quota: for every member the allowance coupons and the uses consumed by
// hand add up to the tier's quota exactly, and the entitlement shows it all used.
func TestAllowanceRacingConsumesByHandNeverExceedTheQuota(t *testing.T) {
	var members []string
	for i := range 12 {
		members = append(members, fmt.Sprintf("p%02d", i))
	}
	e := newEngine(t, members...)
	for _, m := range members {
		e.paidTier(t, m, "platinum") // 4 a cycle
	}
	drop := e.allowanceDrop(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	byHand := map[string]int{}
	for r := range 3 {
		runner := wire(e.pool, e.clock)
		wg.Go(func() {
			if _, err := runner.campaigns.IssueAllowances(ctx, 4); err != nil {
				t.Errorf("runner %d: %v", r, err)
			}
		})
	}
	for _, m := range members {
		for i := range 3 {
			wg.Go(func() {
				_, err := e.tiers.ConsumeEntitlement(ctx, "key_app", tiers.ConsumeEntitlement{MemberID: m,
					Perk: tiers.PerkMonthlyCouponAllowance, RequestID: fmt.Sprintf("hand-%d", i)})
				switch {
				case err == nil:
					mu.Lock()
					byHand[m]++
					mu.Unlock()
				case !errors.Is(err, tiers.ErrQuotaExhausted):
					t.Errorf("consume by hand of %s: %v", m, err)
				}
			})
		}
	}
	wg.Wait()
	for _, m := range members {
		coupons := e.couponsOf(t, m, drop.ID)[campaigns.CouponIssued]
		if coupons+byHand[m] != 4 {
			t.Errorf("%s: %d coupons and %d uses by hand, want 4 in all", m, coupons, byHand[m])
		}
		if en := e.allowanceEntitlement(t, m); en.Used != 4 || en.Remaining != 0 {
			t.Errorf("%s: entitlement %+v, want all 4 used", m, en)
		}
	}
	e.mustVerify(t)
}
