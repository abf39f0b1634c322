package tiers_test

import (
	"encoding/json"
	"math"
	"regexp"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/tiers"
)

// policyField is the shape of the API names a refused policy may name.
var policyField = regexp.MustCompile(`^(metric|windowDays|periodDays|graceDays|qualifyingSources(\[\d+\])?|tiers(\[\d+\]\.(id|displayName|threshold|perks\.(earnMultiplierPercent|supportPriority|supportResponseHours|refundMode|instantRefundLimitMinor|birthdayBonusPoints|monthlyCouponAllowance|freeReturnPickups)))?)$`)

// FuzzTierPolicyValidation: Validate never panics and refuses only with an Invalid
// problem naming API fields; a policy it accepts has a ladder every metric finds
// its one tier on.
func FuzzTierPolicyValidation(f *testing.F) {
	def, err := json.Marshal(tiers.DefaultPolicy())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def, int64(12345), int64(1_764_000_000))
	for _, s := range []string{
		`{}`,
		`{"metric":"QUALIFYING_SPEND","windowDays":1,"periodDays":2,"graceDays":1,"qualifyingSources":["BASE"],"tiers":[{"id":"a","threshold":0,"perks":{"earnMultiplierPercent":100,"supportPriority":"STANDARD","refundMode":"STANDARD"}}]}`,
		`{"metric":"QUALIFYING_POINTS","windowDays":1096,"periodDays":1096,"graceDays":365,"qualifyingSources":["BASE","BASE"],"tiers":[{"id":"a","threshold":5},{"id":"a","threshold":5}]}`,
		`{"metric":"QUALIFYING_POINTS","windowDays":365,"periodDays":365,"graceDays":400,"qualifyingSources":[],"tiers":[]}`,
		`{"metric":"X","windowDays":-1,"periodDays":0,"graceDays":-1,"qualifyingSources":["NOPE"],"tiers":[{"id":"a b","threshold":-1,"perks":{"earnMultiplierPercent":99999}}]}`,
		`{"metric":"QUALIFYING_POINTS","windowDays":365,"periodDays":365,"graceDays":30,"qualifyingSources":["BASE"],"tiers":[{"id":"a","threshold":0,"perks":{"earnMultiplierPercent":100,"supportPriority":"STANDARD","refundMode":"STANDARD"}},{"id":"b","threshold":1000000000000,"perks":{"earnMultiplierPercent":1000,"supportPriority":"VIP","refundMode":"INSTANT","instantRefundLimitMinor":100000000000,"freeReturnPickups":1000}}]}`,
		`{"tiers":[{"id":"\u0000"},{"id":"\u00ff"}]}`,
	} {
		f.Add([]byte(s), int64(-1), int64(0))
	}
	f.Fuzz(func(t *testing.T, raw []byte, metric, nowUnix int64) {
		var p tiers.Policy
		if json.Unmarshal(raw, &p) != nil {
			return
		}
		if err := p.Validate(); err != nil {
			pe, ok := problem.As(err)
			if !ok || pe.Kind != problem.Invalid || len(pe.Fields) == 0 {
				t.Fatalf("%s refused with %#v, want an Invalid problem naming fields", raw, err)
			}
			for _, fv := range pe.Fields {
				if !policyField.MatchString(fv.Field) || fv.Description == "" {
					t.Errorf("%s: violation %+v does not name an API field", raw, fv)
				}
			}
			return
		}
		n := len(p.Tiers)
		if got := p.QualifiedIndex(0); got != 0 {
			t.Errorf("%s: metric 0 qualifies for tier %d, want the bottom", raw, got)
		}
		if got := p.QualifiedIndex(math.MaxInt64); got != n-1 {
			t.Errorf("%s: the largest metric qualifies for tier %d, want the top", raw, got)
		}
		for i, tier := range p.Tiers {
			if got := p.QualifiedIndex(tier.Threshold); got != i {
				t.Errorf("%s: threshold of %s qualifies for tier %d, want %d", raw, tier.ID, got, i)
			}
			if i > 0 && p.QualifiedIndex(tier.Threshold-1) != i-1 {
				t.Errorf("%s: just below %s's threshold qualifies for tier %d", raw, tier.ID, p.QualifiedIndex(tier.Threshold-1))
			}
			if p.Index(tier.ID) != i || p.Tier(tier.ID).ID != tier.ID {
				t.Errorf("%s: tier %s is not found at %d", raw, tier.ID, i)
			}
		}
		if i := p.QualifiedIndex(metric); i < 0 || i >= n || (metric >= 0 && p.Tiers[i].Threshold > metric) {
			t.Errorf("%s: metric %d qualifies for tier %d", raw, metric, i)
		}
		now := time.Unix(nowUnix%(400*365*24*3600), 0).UTC()
		q := p.QualificationAt(now)
		if len(q.TierIDs) != n || len(q.Thresholds) != n || !q.PeriodEnd.After(now) || q.WindowStart.After(tiers.Day(now)) {
			t.Errorf("%s: qualification at %s: %+v", raw, now, q)
		}
		// What the API stores and answers validates again.
		again, err := json.Marshal(p)
		var back tiers.Policy
		if err != nil || json.Unmarshal(again, &back) != nil || back.Validate() != nil {
			t.Errorf("%s: a valid policy does not survive a JSON round trip: %s, %v", raw, again, err)
		}
	})
}
