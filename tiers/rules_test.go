package tiers

import (
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

func TestEvaluateQualificationAndDowngrade(t *testing.T) {
	p := DefaultPolicy() // 0 / 1,000 / 5,000 / 20,000; period 365, grace 30, one down
	noGrace := p
	noGrace.GraceDays = 0
	anyDown := p
	anyDown.OneDown = false
	gold := State{TierID: "gold", PeriodEnd: t0.Add(days(365))}
	platinum := State{TierID: "platinum", PeriodEnd: t0.Add(days(365))}
	cases := []struct {
		name       string
		policy     Policy
		state      State
		metric     int64
		now        time.Time
		wantTier   string
		wantReason string // "" : no change
		wantPeriod time.Time
		wantGrace  time.Time
	}{
		{"crossing a threshold upgrades at once", p, State{TierID: "member", PeriodEnd: t0.Add(days(365))}, 1000, t0.Add(days(3)),
			"silver", ReasonUpgrade, t0.Add(days(3 + 365)), time.Time{}},
		{"a jump of two tiers lands on the higher", p, State{TierID: "member", PeriodEnd: t0.Add(days(365))}, 6000, t0,
			"gold", ReasonUpgrade, t0.Add(days(365)), time.Time{}},
		{"one short of the threshold is not enough", p, State{TierID: "member"}, 999, t0,
			"member", "", time.Time{}, time.Time{}},
		{"below the threshold within the period: the tier holds", p, gold, 10, t0.Add(days(364)),
			"gold", "", gold.PeriodEnd, time.Time{}},
		{"period ends with the tier earned: renewed", p, gold, 5000, gold.PeriodEnd,
			"gold", ReasonRenewed, gold.PeriodEnd.Add(days(365)), time.Time{}},
		{"period ends below: grace starts", p, gold, 1200, gold.PeriodEnd,
			"gold", ReasonGraceStarted, gold.PeriodEnd, gold.PeriodEnd.Add(days(30))},
		{"within grace: nothing yet", p, State{TierID: "gold", PeriodEnd: gold.PeriodEnd, GraceEnd: gold.PeriodEnd.Add(days(30))}, 1200, gold.PeriodEnd.Add(days(29)),
			"gold", "", gold.PeriodEnd, gold.PeriodEnd.Add(days(30))},
		{"recovered within grace: renewed", p, State{TierID: "gold", PeriodEnd: gold.PeriodEnd, GraceEnd: gold.PeriodEnd.Add(days(30))}, 5100, gold.PeriodEnd.Add(days(10)),
			"gold", ReasonRenewed, gold.PeriodEnd.Add(days(10 + 365)), time.Time{}},
		{"grace over, still below: one tier down", p, State{TierID: "platinum", PeriodEnd: gold.PeriodEnd, GraceEnd: gold.PeriodEnd.Add(days(30))}, 0, gold.PeriodEnd.Add(days(30)),
			"gold", ReasonDowngrade, gold.PeriodEnd.Add(days(30 + 365)), time.Time{}},
		{"one down even if the metric earns nothing", p, platinum, 0, platinum.PeriodEnd.Add(days(40)),
			"gold", ReasonDowngrade, platinum.PeriodEnd.Add(days(40 + 365)), time.Time{}},
		{"without one-down: straight to what the metric earns", anyDown, State{TierID: "platinum", PeriodEnd: gold.PeriodEnd, GraceEnd: gold.PeriodEnd.Add(days(30))}, 1500, gold.PeriodEnd.Add(days(31)),
			"silver", ReasonDowngrade, gold.PeriodEnd.Add(days(31 + 365)), time.Time{}},
		{"without grace: the downgrade comes at the period's end", noGrace, gold, 1200, gold.PeriodEnd,
			"silver", ReasonDowngrade, gold.PeriodEnd.Add(days(365)), time.Time{}},
		{"the bottom tier never ends: nothing to renew", p, State{TierID: "member", PeriodEnd: t0}, 0, t0,
			"member", "", time.Time{}, time.Time{}},
		{"a drop to the bottom tier has no period", noGrace, State{TierID: "silver", PeriodEnd: t0}, 10, t0,
			"member", ReasonDowngrade, time.Time{}, time.Time{}},
		{"a tier the policy dropped counts as the bottom", p, State{TierID: "diamond", PeriodEnd: t0.Add(days(1))}, 1000, t0,
			"silver", ReasonUpgrade, t0.Add(days(365)), time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, change := Evaluate(c.policy, c.state, c.metric, c.now)
			if got.TierID != c.wantTier || !got.PeriodEnd.Equal(c.wantPeriod) || !got.GraceEnd.Equal(c.wantGrace) {
				t.Errorf("state %+v, want tier %s until %s, grace %s", got, c.wantTier, c.wantPeriod, c.wantGrace)
			}
			switch {
			case c.wantReason == "" && change != nil:
				t.Errorf("change %+v, want none", change)
			case c.wantReason != "" && (change == nil || change.Reason != c.wantReason || change.To != c.wantTier || change.Metric != c.metric):
				t.Errorf("change %+v, want %s to %s", change, c.wantReason, c.wantTier)
			}
		})
	}
}

// The rolling window slides: a metric computed at the period's end only counts what
// is inside the window, so Evaluate sees what the window holds then (the caller
// sums it); a late job that finds both period and grace over downgrades at once.
func TestEvaluateLateJobDowngradesAtOnce(t *testing.T) {
	p := DefaultPolicy()
	s := State{TierID: "gold", PeriodEnd: t0}
	got, change := Evaluate(p, s, 0, t0.Add(days(45)))
	if got.TierID != "silver" || change == nil || change.Reason != ReasonDowngrade {
		t.Fatalf("late evaluation: %+v %+v, want a downgrade to silver", got, change)
	}
}

func TestEffectiveIsTheBetterOfQualifiedAndPaid(t *testing.T) {
	p := DefaultPolicy()
	paidGold := Membership{TierID: "gold", StartTime: t0, EndTime: t0.Add(days(30))}
	paidSilver := Membership{TierID: "silver", StartTime: t0, EndTime: t0.Add(days(30))}
	cancelled := Membership{TierID: "platinum", StartTime: t0, EndTime: t0.Add(days(30)), CancelTime: t0.Add(days(5))}
	cases := []struct {
		name      string
		qualified string
		paid      []Membership
		at        time.Time
		want      string
		wantPaid  bool
	}{
		{"paid gold beats qualified silver", "silver", []Membership{paidGold}, t0.Add(days(1)), "gold", true},
		{"qualified platinum beats paid gold", "platinum", []Membership{paidGold}, t0.Add(days(1)), "platinum", false},
		{"paid silver does not lower qualified gold", "gold", []Membership{paidSilver}, t0.Add(days(1)), "gold", false},
		{"before the start", "member", []Membership{paidGold}, t0.Add(-time.Second), "member", false},
		{"at the end it is over", "member", []Membership{paidGold}, t0.Add(days(30)), "member", false},
		{"cancelled: active until the cancellation", "member", []Membership{cancelled}, t0.Add(days(4)), "platinum", true},
		{"cancelled: over after it", "member", []Membership{cancelled}, t0.Add(days(5)), "member", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, paid := Effective(p, c.qualified, c.paid, c.at)
			if got != c.want || paid != c.wantPaid {
				t.Errorf("effective %s (paid %v), want %s (paid %v)", got, paid, c.want, c.wantPaid)
			}
		})
	}
}

func TestPolicyValidationNamesTheField(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Fatalf("default policy: %v", err)
	}
	cases := []struct {
		name  string
		edit  func(*Policy)
		field string
	}{
		{"first threshold above zero", func(p *Policy) { p.Tiers[0].Threshold = 10 }, "tiers[0].threshold"},
		{"thresholds not ascending", func(p *Policy) { p.Tiers[2].Threshold = 1000 }, "tiers[2].threshold"},
		{"duplicate id", func(p *Policy) { p.Tiers[3].ID = "gold" }, "tiers[3].id"},
		{"unknown refund mode", func(p *Policy) { p.Tiers[1].Perks.RefundMode = "SLOW" }, "tiers[1].perks.refundMode"},
		{"multiplier below 100%", func(p *Policy) { p.Tiers[1].Perks.EarnMultiplierPercent = 90 }, "tiers[1].perks.earnMultiplierPercent"},
		{"zero window", func(p *Policy) { p.WindowDays = 0 }, "windowDays"},
		{"unknown metric", func(p *Policy) { p.Metric = "VIBES" }, "metric"},
		{"no tiers", func(p *Policy) { p.Tiers = nil }, "tiers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultPolicy()
			c.edit(&p)
			pe, ok := problem.As(p.Validate())
			if !ok {
				t.Fatalf("accepted")
			}
			found := false
			for _, f := range pe.Fields {
				found = found || f.Field == c.field
			}
			if !found {
				t.Errorf("violations %+v do not name %s", pe.Fields, c.field)
			}
		})
	}
}

// The window is the day of the instant and the WindowDays-1 days before it, in UTC
// days: a point earned on a day counts until the window slides past that day.
func TestWindowSlidesByUTCDays(t *testing.T) {
	p := DefaultPolicy()
	cases := []struct {
		at     time.Time
		window int32
		start  time.Time
	}{
		{time.Date(2026, 3, 1, 23, 59, 59, 0, time.UTC), 365, time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), 365, time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)},
		{time.Date(2028, 3, 1, 12, 0, 0, 0, time.UTC), 365, time.Date(2027, 3, 3, 0, 0, 0, 0, time.UTC)}, // across a leap day
		{time.Date(2026, 11, 11, 1, 0, 0, 0, time.FixedZone("CST", 8*3600)), 1, time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 30, time.Date(2025, 12, 3, 0, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		p.WindowDays = c.window
		if got := p.WindowStart(c.at); !got.Equal(c.start) {
			t.Errorf("window of %d days at %s starts %s, want %s", c.window, c.at, got, c.start)
		}
	}
	q := DefaultPolicy().QualificationAt(t0)
	if len(q.TierIDs) != 4 || q.Thresholds[3] != 20000 || !q.PeriodEnd.Equal(t0.Add(days(365))) || q.Metric != MetricQualifyingPoints {
		t.Fatalf("qualification %+v", q)
	}
}

func TestMultiplierPartRoundsDownAndNeverTakesAway(t *testing.T) {
	cases := []struct {
		name    string
		base    int64
		percent int32
		want    int64
	}{
		{"100% adds nothing", 1000, 100, 0},
		{"150% adds half", 1000, 150, 500},
		{"125% rounds down", 3, 125, 0},
		{"125% of 7 is 1.75 more: 1", 7, 125, 1},
		{"125% of 10 is 2.5 more: 2", 10, 125, 2},
		{"below 100% takes nothing away", 1000, 80, 0},
		{"a base of 0 gets nothing", 0, 200, 0},
		{"a negative base gets nothing", -10, 200, 0},
		{"a base near 1e12 at 1000% does not overflow", 999_999_999_999, 1000, 8_999_999_999_991},
		{"1e12 at 1000%", 1_000_000_000_000, 1000, 9_000_000_000_000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := MultiplierPart(c.base, c.percent); got != c.want {
				t.Fatalf("MultiplierPart(%d, %d) = %d, want %d", c.base, c.percent, got, c.want)
			}
		})
	}
}

func TestMetricOfFollowsThePolicysMetric(t *testing.T) {
	byPoints := DefaultPolicy()
	bySpend := DefaultPolicy()
	bySpend.Metric = MetricQualifyingSpend
	cases := []struct {
		name          string
		policy        Policy
		points, spend int64
		want          int64
	}{
		{"qualifying points: the points", byPoints, 120, 9000, 120},
		{"qualifying points, no points: zero", byPoints, 0, 9000, 0},
		{"qualifying spend: the spend", bySpend, 120, 9000, 9000},
		{"qualifying spend, negative after a refund: as it is", bySpend, 10, -500, -500},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.policy.MetricOf(c.points, c.spend); got != c.want {
				t.Fatalf("MetricOf(%d, %d) = %d, want %d", c.points, c.spend, got, c.want)
			}
		})
	}
}

// Table test of DowngradeDue: who is not on track to keep a tier, what it needs and
// where it would drop.
func TestDowngradeDue(t *testing.T) {
	p := DefaultPolicy() // member 0, silver 1000, gold 5000, platinum 20000; one down
	free := p
	free.OneDown = false
	for _, tc := range []struct {
		name   string
		p      Policy
		tier   string
		kept   int64
		needed int64
		next   string
		due    bool
	}{
		{"kept already", p, "gold", 5000, 0, "", false},
		{"above the threshold", p, "gold", 9000, 0, "", false},
		{"short: one down", p, "gold", 4999, 1, "silver", true},
		{"nothing kept: one down", p, "platinum", 0, 20000, "gold", true},
		{"nothing kept, not one down: where the metric stands", free, "platinum", 1200, 18800, "silver", true},
		{"the bottom tier never ends", p, "member", 0, 0, "", false},
		{"a tier the policy no longer has", p, "diamond", 0, 0, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			needed, next, due := DowngradeDue(tc.p, tc.tier, tc.kept)
			if needed != tc.needed || next != tc.next || due != tc.due {
				t.Fatalf("DowngradeDue(%s, %d) = %d, %q, %v; want %d, %q, %v", tc.tier, tc.kept, needed, next, due, tc.needed, tc.next, tc.due)
			}
		})
	}
}

func TestStartIsTheBetterOfTheImportedTierAndTheMetric(t *testing.T) {
	p := DefaultPolicy() // 0 / 1,000 / 5,000 / 20,000; period 365
	gold := State{TierID: "gold", PeriodEnd: t0.Add(days(100))}
	cases := []struct {
		name      string
		state     State
		startTier string
		metric    int64
		wantTier  string
		changed   bool
	}{
		{"the tier brought along", State{}, "gold", 0, "gold", true},
		{"the metric earns more than the tier brought", State{}, "silver", 6000, "gold", true},
		{"no tier: the metric decides", State{}, "", 1200, "silver", true},
		{"nothing: the bottom tier, no change", State{}, "", 10, "member", false},
		{"the bottom tier brought: no change", State{TierID: "member"}, "member", 0, "member", false},
		{"an import never lowers a tier", gold, "silver", 0, "gold", false},
		{"nor renews one it does not raise", gold, "gold", 5000, "gold", false},
		{"but raises it", gold, "platinum", 0, "platinum", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			next, change := Start(p, c.state, c.startTier, c.metric, t0)
			if next.TierID != c.wantTier && !(next.TierID == "" && c.wantTier == "member") {
				t.Fatalf("tier %q, want %q", next.TierID, c.wantTier)
			}
			if (change != nil) != c.changed {
				t.Fatalf("change %+v, want changed=%v", change, c.changed)
			}
			if change == nil {
				return
			}
			if change.Reason != ReasonImported || change.To != c.wantTier || next.PeriodEnd != t0.Add(days(365)) {
				t.Fatalf("change %+v, state %+v", change, next)
			}
			// Never below what an upgrade by the same metric would give.
			if up, _ := Evaluate(p, c.state, c.metric, t0); p.Index(up.TierID) > p.Index(next.TierID) {
				t.Fatalf("Start gives %s, Evaluate %s", next.TierID, up.TierID)
			}
		})
	}
}

// The coupon allowance per cycle is the tier's monthlyCouponAllowance quota: the
// default policy's 0/1/2/4, and whatever a policy sets.
func TestCouponAllowanceIsTheTiersQuota(t *testing.T) {
	p := DefaultPolicy()
	cases := []struct {
		perks Perks
		want  int32
	}{
		{p.Tier("member").Perks, 0},
		{p.Tier("silver").Perks, 1},
		{p.Tier("gold").Perks, 2},
		{p.Tier("platinum").Perks, 4},
		{Perks{MonthlyCouponAllowance: 7, FreeReturnPickups: 3}, 7},
		{Perks{}, 0},
	}
	for _, c := range cases {
		if got := c.perks.CouponAllowance(); got != c.want {
			t.Errorf("%+v: allowance %d, want %d", c.perks, got, c.want)
		}
		if q, ok := c.perks.Quota(PerkMonthlyCouponAllowance); !ok || q != c.want {
			t.Errorf("%+v: quota %d %v, want the allowance %d", c.perks, q, ok, c.want)
		}
	}
}
