package tiers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/events"
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
	day   = 24 * time.Hour
)

// newEngine is a ledger with its tiers on a fresh database, members enrolled, and a
// program without return window (order points are available at once).
func newEngine(t testing.TB, members ...string) (*ledger.Service, *tiers.Service, *fakeclock.Clock) {
	t.Helper()
	svc, ts, clock, _ := newEngineOnPool(t, members...)
	return svc, ts, clock
}

// newEngineOnPool is newEngine, with its pool.
func newEngineOnPool(t testing.TB, members ...string) (*ledger.Service, *tiers.Service, *fakeclock.Clock, *pgxpool.Pool) {
	t.Helper()
	clock := fakeclock.At(time.Now())
	pool := dbtest.NewPool(t)
	ts := tiers.NewService(pool, tiers.WithClock(clock))
	svc := ledger.NewService(pool, ts, ledger.WithClock(clock))
	prog, err := svc.Program(ctx)
	if err != nil {
		t.Fatal(err)
	}
	prog.ReturnWindowDays = 0
	if _, err := svc.UpdateProgram(ctx, actor, prog); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if _, _, err := svc.Enroll(ctx, ledger.EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
	}
	return svc, ts, clock, pool
}

func order(t testing.TB, svc *ledger.Service, member, orderID string, spendMinor int64) ledger.EarnResult {
	t.Helper()
	res, err := svc.Earn(ctx, actor, ledger.Earn{MemberID: member, RequestID: "earn-" + orderID, OrderID: orderID, SpendMinor: spendMinor, Currency: "CNY"})
	if err != nil {
		t.Fatalf("earn on %s: %v", orderID, err)
	}
	return res
}

func perks(t testing.TB, ts *tiers.Service, member string) tiers.MemberPerks {
	t.Helper()
	p, err := ts.Perks(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func history(t testing.TB, ts *tiers.Service, member string) []tiers.HistoryEntry {
	t.Helper()
	h, err := ts.History(ctx, tiers.HistoryQuery{MemberID: member, PageSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	return h.Changes
}

func mustVerify(t testing.TB, svc *ledger.Service) {
	t.Helper()
	v, err := svc.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK {
		t.Fatalf("books do not verify: %+v", v.Discrepancies)
	}
}

func line(res ledger.EarnResult, source string) int64 {
	for _, l := range res.Breakdown {
		if l.Source == source {
			return l.Points
		}
	}
	return -1
}

// Orders climb a member from member to gold: each upgrade comes at once with the
// order that crosses the threshold, later orders earn the tier's multiplier as a
// TIER line, and each order records the tier it was placed at.
func TestOrdersClimbTiersWithTheMultiplier(t *testing.T) {
	svc, ts, _ := newEngine(t, "m")
	first := order(t, svc, "m", "o1", 100_000) // 1,000 points: silver
	if first.Points != 1000 || line(first, "TIER") != -1 {
		t.Fatalf("first order earned %+v, want 1000 base points and no tier line", first)
	}
	if got := perks(t, ts, "m").Tier.ID; got != "silver" {
		t.Fatalf("after 1,000 points the tier is %s, want silver", got)
	}
	second := order(t, svc, "m", "o2", 100_000) // silver: 1,000 + 250
	if line(second, "BASE") != 1000 || line(second, "TIER") != 250 || second.Points != 1250 {
		t.Fatalf("silver order breakdown %+v, want BASE 1000 + TIER 250", second.Breakdown)
	}
	// A repeat of the request answers the first result, tier part included.
	if again := order(t, svc, "m", "o2", 100_000); again.Points != 1250 || line(again, "TIER") != 250 || again.Entry.ID != second.Entry.ID {
		t.Fatalf("repeated silver order answered %+v, want the first answer (1000 + 250)", again)
	}
	third := order(t, svc, "m", "o3", 220_000) // 2,200 + 550: metric 5,000, gold
	if third.Points != 2750 {
		t.Fatalf("third order earned %d, want 2750", third.Points)
	}
	p := perks(t, ts, "m")
	if p.Tier.ID != "gold" || p.Paid || p.Progress.Value != 5000 || p.Tier.Perks.EarnMultiplierPercent != 150 ||
		p.Tier.Perks.RefundMode != tiers.RefundFast || p.Tier.Perks.FreeReturnPickups != 2 {
		t.Fatalf("perks %+v, want gold from a metric of 5000", p)
	}
	// All of it was earned today, which has left the window when gold's period
	// ends: keeping gold takes 5,000 more by then.
	if p.Progress.NextTierID != "platinum" || p.Progress.NeededForNext != 15000 || p.Progress.KeepNeeded != 5000 ||
		p.Progress.HeldUntil.IsZero() {
		t.Fatalf("progress %+v, want 15000 to platinum and gold kept", p.Progress)
	}
	h := history(t, ts, "m")
	if len(h) != 2 || h[1].From != "member" || h[1].To != "silver" || h[0].From != "silver" || h[0].To != "gold" ||
		h[0].Reason != tiers.ReasonUpgrade || h[0].Metric != 5000 {
		t.Fatalf("history %+v, want member→silver then silver→gold upgrades", h)
	}
	o2, err := svc.GetOrder(ctx, "m", "o2")
	if err != nil {
		t.Fatal(err)
	}
	if o2.TierID != "silver" || o2.Perks == nil || o2.Perks.EarnMultiplierPercent != 125 {
		t.Fatalf("order o2 recorded tier %q perks %+v, want silver's", o2.TierID, o2.Perks)
	}
	mustVerify(t, svc)
}

// A refund lowers the metric on the day the order earned; the tier holds until the
// end of its period, and progress says what it takes to keep it. At the period's
// end the job starts grace, then drops one tier, then another: each step in the
// history.
func TestRefundLowersTheMetricAndTheJobDowngradesAtThePeriodEnd(t *testing.T) {
	svc, ts, clock, pool := newEngineOnPool(t, "m")
	order(t, svc, "m", "big", 500_000) // 5,000 points: gold at once
	if _, err := svc.RefundOrder(ctx, actor, ledger.Refund{MemberID: "m", OrderID: "big", RequestID: "r1", AmountMinor: 250_000}); err != nil {
		t.Fatal(err)
	}
	p := perks(t, ts, "m")
	if p.Tier.ID != "gold" || p.Progress.Value != 2500 || p.Progress.KeepNeeded != 5000 || p.Progress.NeededForNext != 17500 {
		t.Fatalf("after refunding half: %+v %+v, want gold held with metric 2500, 5000 to keep", p.Tier.ID, p.Progress)
	}
	mustVerify(t, svc)
	// Earned tomorrow, points still count at the period's end.
	clock.Advance(day)
	order(t, svc, "m", "small", 100_000) // 1,000 + 500 (gold)
	if p := perks(t, ts, "m"); p.Progress.Value != 4000 || p.Progress.KeepNeeded != 3500 {
		t.Fatalf("after a gold order the next day: %+v, want metric 4000 and 3500 to keep", p.Progress)
	}
	if _, err := svc.RefundOrder(ctx, actor, ledger.Refund{MemberID: "m", OrderID: "small", RequestID: "r2"}); err != nil {
		t.Fatal(err)
	}

	evaluate := func() {
		t.Helper()
		if _, err := ts.EvaluateDue(ctx, 100); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(363 * day)
	evaluate()
	if h := history(t, ts, "m"); len(h) != 1 {
		t.Fatalf("before the period ends the job changed %+v", h)
	}
	clock.Advance(day) // period over; the order's day left the window: metric 0
	evaluate()
	h := history(t, ts, "m")
	if len(h) != 2 || h[0].Reason != tiers.ReasonGraceStarted || h[0].To != "gold" || h[0].GraceEnd.IsZero() {
		t.Fatalf("at the period's end: %+v, want grace started", h)
	}
	if p := perks(t, ts, "m"); p.Tier.ID != "gold" || !p.Progress.InGrace {
		t.Fatalf("in grace: %+v", p.Progress)
	}
	clock.Advance(30 * day)
	evaluate()
	evaluate() // a second run finds nothing due
	h = history(t, ts, "m")
	if len(h) != 3 || h[0].Reason != tiers.ReasonDowngrade || h[0].From != "gold" || h[0].To != "silver" {
		t.Fatalf("after grace: %+v, want one tier down to silver", h)
	}
	clock.Advance(395 * day)
	evaluate()
	if p := perks(t, ts, "m"); p.Tier.ID != "member" || !p.Progress.HeldUntil.IsZero() {
		t.Fatalf("a year later: %+v, want the bottom tier, which never ends", p)
	}
	if h := history(t, ts, "m"); h[0].Reason != tiers.ReasonDowngrade || h[0].To != "member" {
		t.Fatalf("history %+v, want the last step down to member", h)
	}
	mustVerify(t, svc)

	// Each step was told as it happened.
	feed, err := events.NewStore(pool).List(ctx, events.Filter{MemberID: "m", Limit: events.MaxPageSize,
		Types: []events.Type{events.TierChanged, events.TierGraceStarted}})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, ev := range feed {
		var d events.TierData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, fmt.Sprintf("%s %s>%s", d.Change, d.FromTierID, d.ToTierID))
	}
	if want := []string{"UPGRADE member>gold", "GRACE gold>gold", "DOWNGRADE gold>silver", "DOWNGRADE silver>member"}; !slices.Equal(steps, want) {
		t.Errorf("tier events %v, want %v", steps, want)
	}
}

// Earnings, refunds and reversals racing over many members and connections: every
// member ends at exactly the tier its metric reaches, with one upgrade per step
// and the metric equal to its moves (verify).
func TestRacingEarningsUpgradeOnceEach(t *testing.T) {
	members := []string{"a", "b", "c", "d"}
	svc, ts, _ := newEngine(t, members...)
	const orders = 40
	var wg sync.WaitGroup
	errs := make(chan error, len(members)*orders)
	for _, m := range members {
		for i := range orders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("%s-%d", m, i)
				_, err := svc.Earn(ctx, actor, ledger.Earn{MemberID: m, RequestID: id, OrderID: id, SpendMinor: 20_000, Currency: "CNY"})
				if err == nil && i%10 == 0 {
					_, err = svc.RefundOrder(ctx, actor, ledger.Refund{MemberID: m, OrderID: id, RequestID: "r" + id})
				}
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	policy, _ := ts.Policy(ctx)
	for _, m := range members {
		p := perks(t, ts, m)
		want := policy.Tiers[policy.QualifiedIndex(p.Progress.Value)].ID
		if p.Tier.ID != want || p.Progress.Value < 36*200 {
			t.Errorf("member %s: tier %s with metric %d, want %s", m, p.Tier.ID, p.Progress.Value, want)
		}
		seen := map[string]bool{}
		for _, c := range history(t, ts, m) {
			if c.Reason != tiers.ReasonUpgrade || seen[c.To] || policy.Index(c.To) <= policy.Index(c.From) {
				t.Errorf("member %s: history row %+v repeats or goes down", m, c)
			}
			seen[c.To] = true
		}
	}
	mustVerify(t, svc)
}

// Reversing a qualifying earning takes its metric back; explicit points do not
// qualify under the default policy.
func TestReversalTakesTheMetricBackAndExplicitPointsDoNotQualify(t *testing.T) {
	svc, ts, _ := newEngine(t, "m")
	res := order(t, svc, "m", "o1", 50_000)
	if _, err := svc.Earn(ctx, actor, ledger.Earn{MemberID: "m", RequestID: "x", Points: 5000}); err != nil {
		t.Fatal(err)
	}
	if p := perks(t, ts, "m"); p.Progress.Value != 500 || p.Tier.ID != "member" {
		t.Fatalf("metric %d tier %s, want 500 from the order only", p.Progress.Value, p.Tier.ID)
	}
	if _, err := svc.Reverse(ctx, actor, ledger.Reverse{EntryID: res.Entry.ID, RequestID: "rev", Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	if p := perks(t, ts, "m"); p.Progress.Value != 0 {
		t.Fatalf("metric %d after reversing the only qualifying order, want 0", p.Progress.Value)
	}
	mustVerify(t, svc)
}

// A policy on qualifying spend upgrades on spend, and goodwill counts when the
// policy lists it.
func TestPolicyOnSpendAndGoodwill(t *testing.T) {
	svc, ts, _ := newEngine(t, "m")
	p := tiers.DefaultPolicy()
	p.Metric = tiers.MetricQualifyingSpend
	p.QualifyingSources = append(p.QualifyingSources, tiers.SourceGoodwill)
	p.Tiers[1].Threshold, p.Tiers[2].Threshold, p.Tiers[3].Threshold = 50_000, 200_000, 1_000_000
	if _, err := ts.UpdatePolicy(ctx, "key_admin", p); err != nil {
		t.Fatal(err)
	}
	order(t, svc, "m", "o1", 60_000)
	if got := perks(t, ts, "m"); got.Tier.ID != "silver" || got.Progress.Value != 60_000 {
		t.Fatalf("on spend: %s with %d, want silver with 60000", got.Tier.ID, got.Progress.Value)
	}
	if _, err := svc.GrantGoodwill(ctx, actor, ledger.GrantGoodwill{MemberID: "m", RequestID: "g", Points: 100, ReasonCode: "LATE_DELIVERY", TicketID: "T1"}); err != nil {
		t.Fatal(err)
	}
	if got := perks(t, ts, "m"); got.Progress.Value != 60_000 {
		t.Fatalf("goodwill moved the spend metric to %d", got.Progress.Value)
	}
	p.Metric = tiers.MetricQualifyingPoints
	p.Tiers[1].Threshold, p.Tiers[2].Threshold, p.Tiers[3].Threshold = 1000, 5000, 20000
	if _, err := ts.UpdatePolicy(ctx, "key_admin", p); err != nil {
		t.Fatal(err)
	}
	if got := perks(t, ts, "m"); got.Progress.Value != 700 {
		t.Fatalf("points metric %d, want 600 from the order + 100 goodwill", got.Progress.Value)
	}
	mustVerify(t, svc)
}

func TestPolicyValidationNamesTheField(t *testing.T) {
	_, ts, _ := newEngine(t)
	before, err := ts.Policy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before.Version != 0 || len(before.Tiers) != 4 || before.Tiers[3].ID != "platinum" || before.Tiers[3].Perks.FreeReturnPickups != 5 {
		t.Fatalf("fresh install policy %+v, want the default", before)
	}
	bad := tiers.DefaultPolicy()
	bad.Tiers[2].Threshold = 500
	bad.Tiers[1].Perks.RefundMode = "WHENEVER"
	_, err = ts.UpdatePolicy(ctx, "k", bad)
	pe, ok := problem.As(err)
	if !ok || pe.Kind != problem.Invalid || !hasField(pe, "tiers[2].threshold") || !hasField(pe, "tiers[1].perks.refundMode") {
		t.Fatalf("bad policy answered %v, want fields tiers[2].threshold and tiers[1].perks.refundMode", err)
	}
	if after, _ := ts.Policy(ctx); after.Version != 0 {
		t.Fatalf("a refused policy changed the version to %d", after.Version)
	}
}

func hasField(pe *problem.Error, field string) bool {
	for _, f := range pe.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// The effective tier is the better of qualified and paid; cancelling or the end of
// a membership gives the qualified tier back, each recorded.
func TestPaidMembershipVersusQualified(t *testing.T) {
	svc, ts, clock := newEngine(t, "m")
	order(t, svc, "m", "o1", 500_000) // gold qualified
	buy := func(req, tier string, end time.Time) tiers.Membership {
		t.Helper()
		m, err := ts.BuyMembership(ctx, "key_app", tiers.BuyMembership{MemberID: "m", RequestID: req, TierID: tier, EndTime: end})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	buy("silver", "silver", clock.Now().Add(10*day))
	if p := perks(t, ts, "m"); p.Tier.ID != "gold" || p.Paid {
		t.Fatalf("paid silver over qualified gold gave %s (paid %v), want gold", p.Tier.ID, p.Paid)
	}
	platEnd := clock.Now().Add(30 * day)
	plat := buy("plat", "platinum", platEnd)
	if again := buy("plat", "platinum", platEnd); again.ID != plat.ID {
		t.Fatalf("a repeated purchase made membership %d, want %d", again.ID, plat.ID)
	}
	_, err := ts.BuyMembership(ctx, "key_app", tiers.BuyMembership{MemberID: "m", RequestID: "plat", TierID: "gold", EndTime: plat.EndTime})
	if !errors.Is(err, tiers.ErrIdempotencyConflict) {
		t.Fatalf("same requestId, other body: %v, want IDEMPOTENCY_CONFLICT", err)
	}
	p := perks(t, ts, "m")
	if p.Tier.ID != "platinum" || !p.Paid || p.Membership == nil || p.Membership.ID != plat.ID || p.Progress.QualifiedTierID != "gold" {
		t.Fatalf("with paid platinum: %+v", p)
	}
	// A spend earns platinum's multiplier, and the order records platinum.
	if res := order(t, svc, "m", "o2", 10_000); line(res, "TIER") != 100 {
		t.Fatalf("platinum order breakdown %+v, want TIER 100", res.Breakdown)
	}
	if _, err := ts.CancelMembership(ctx, "m", plat.ID); err != nil {
		t.Fatal(err)
	}
	if p := perks(t, ts, "m"); p.Tier.ID != "gold" || p.Paid {
		t.Fatalf("after cancelling: %s, want gold", p.Tier.ID)
	}
	clock.Advance(11 * day)
	if n, err := ts.EndMemberships(ctx, 100); err != nil || n != 1 {
		t.Fatalf("ended %d memberships (%v), want the silver one", n, err)
	}
	var reasons []string
	for _, c := range history(t, ts, "m") {
		reasons = append(reasons, c.Reason)
	}
	want := []string{tiers.ReasonMembershipEnded, tiers.ReasonMembershipCancelled, tiers.ReasonMembershipPurchased, tiers.ReasonMembershipPurchased, tiers.ReasonUpgrade}
	if fmt.Sprint(reasons) != fmt.Sprint(want) {
		t.Fatalf("history reasons %v, want %v", reasons, want)
	}
	for _, bad := range []tiers.BuyMembership{
		{MemberID: "m", RequestID: "x1", TierID: "diamond", EndTime: clock.Now().Add(day)},
		{MemberID: "m", RequestID: "x2", TierID: "gold"},
		{MemberID: "m", RequestID: "x3", TierID: "gold", StartTime: clock.Now().Add(2 * day), EndTime: clock.Now().Add(day)},
	} {
		_, err := ts.BuyMembership(ctx, "key_app", bad)
		if pe, ok := problem.As(err); !ok || pe.Kind != problem.Invalid || len(pe.Fields) == 0 {
			t.Errorf("membership %+v answered %v, want invalid naming a field", bad, err)
		}
	}
}

// 40 racing consumes of a quota of 5, with duplicates: exactly 5 uses, each
// request answered once and the same way when repeated.
func TestRacingConsumesNeverExceedTheQuota(t *testing.T) {
	svc, ts, clock := newEngine(t, "m", "poor")
	if _, err := ts.BuyMembership(ctx, "k", tiers.BuyMembership{MemberID: "m", RequestID: "p", TierID: "platinum", EndTime: clock.Now().Add(400 * day)}); err != nil {
		t.Fatal(err)
	}
	_ = svc
	const racers = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	used := map[string]int32{}
	exhausted := 0
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := fmt.Sprintf("use-%d", i%20) // each request id twice
			c, err := ts.ConsumeEntitlement(ctx, "k", tiers.ConsumeEntitlement{MemberID: "m", Perk: "freeReturnPickups", RequestID: req})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, tiers.ErrQuotaExhausted):
				exhausted++
			case err != nil:
				t.Error(err)
			default:
				if prev, ok := used[req]; ok && prev != c.Used {
					t.Errorf("request %s answered used %d then %d", req, prev, c.Used)
				}
				used[req] = c.Used
			}
		}()
	}
	wg.Wait()
	if len(used) != 5 {
		t.Fatalf("%d requests consumed, want 5 (quota)", len(used))
	}
	e, err := ts.CheckEntitlement(ctx, "m", "freeReturnPickups")
	if err != nil {
		t.Fatal(err)
	}
	if e.Used != 5 || e.Remaining != 0 || e.Allowed || e.Quota != 5 {
		t.Fatalf("check after the race: %+v", e)
	}
	// The next cycle starts on the monthly anniversary of the join.
	clock.Advance(e.CycleEnd.Sub(clock.Now()))
	if e2, _ := ts.CheckEntitlement(ctx, "m", "freeReturnPickups"); e2.Remaining != 5 || !e2.CycleStart.Equal(e.CycleEnd) {
		t.Fatalf("next cycle: %+v", e2)
	}
	if _, err := ts.ConsumeEntitlement(ctx, "k", tiers.ConsumeEntitlement{MemberID: "poor", Perk: "freeReturnPickups", RequestID: "x"}); !errors.Is(err, tiers.ErrNotEntitled) {
		t.Fatalf("bottom tier consume: %v, want PERK_NOT_IN_TIER", err)
	}
	if _, err := ts.CheckEntitlement(ctx, "m", "freeLunch"); err == nil {
		t.Fatal("unknown perk accepted")
	}
}

func TestCycleFollowsTheJoinAnniversary(t *testing.T) {
	join := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		at         time.Time
		start, end time.Time
	}{
		{join, join, time.Date(2026, 2, 28, 10, 0, 0, 0, time.UTC)},
		{time.Date(2026, 2, 28, 9, 59, 0, 0, time.UTC), join, time.Date(2026, 2, 28, 10, 0, 0, 0, time.UTC)},
		{time.Date(2026, 2, 28, 10, 0, 0, 0, time.UTC), time.Date(2026, 2, 28, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC)},
		{time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC), time.Date(2026, 4, 30, 10, 0, 0, 0, time.UTC)},
		{time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC), time.Date(2028, 2, 29, 10, 0, 0, 0, time.UTC), time.Date(2028, 3, 31, 10, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		start, end := tiers.Cycle(join, c.at)
		if !start.Equal(c.start) || !end.Equal(c.end) {
			t.Errorf("at %s: cycle %s–%s, want %s–%s", c.at, start, end, c.start, c.end)
		}
	}
}
