package campaigns_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/fakeclock"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger"
)

// lockedBuffer collects log lines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records are the JSON log records written so far.
func (b *lockedBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// ruleErrors reads loyalty_campaign_rule_errors_total for a campaign.
func ruleErrors(t *testing.T, s *campaigns.Service, campaignID string) float64 {
	t.Helper()
	var total float64
	for _, c := range s.Collectors() {
		ch := make(chan prometheus.Metric, 16)
		go func() { c.Collect(ch); close(ch) }()
		for m := range ch {
			var d dto.Metric
			if err := m.Write(&d); err != nil {
				t.Fatal(err)
			}
			for _, l := range d.GetLabel() {
				if l.GetName() == "campaign" && l.GetValue() == campaignID {
					total += d.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

// A rule that fails at run time on some facts gives nothing there and says so:
// RULE_ERROR with the error on earnings, compensations and coupon issues, one
// warning in the log and one count per failure.
func TestRuleErrorsAtRunTimeAreRefusedCountedAndLogged(t *testing.T) {
	clock := fakeclock.At(time.Now())
	pool := dbtest.NewPool(t)
	logs := &lockedBuffer{}
	e := wire(pool, clock, campaigns.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	l, svc := e.ledger, e.campaigns
	for _, m := range []string{"bob", "carla"} {
		if _, _, err := l.Enroll(ctx, ledger.EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
	}

	// Each rule fails on one kind of facts only, so each is saved.
	points := e.launch(t, campaigns.Definition{DisplayName: "double", Type: campaigns.TypeMultiplier, MultiplierPercent: 200,
		Eligibility: campaigns.Eligibility{Rule: "100 / (order.spendMinor - 20000) >= 0"}})
	late := e.launch(t, campaigns.Definition{DisplayName: "late", Type: campaigns.TypeCompensation,
		Compensation: campaigns.Compensation{EventTypes: []string{"LATE_DELIVERY"}, MinDelayHours: 24, Points: 50},
		Eligibility:  campaigns.Eligibility{Rule: "100 / (event.delayHours - 30) >= 0"}})
	drop := e.launch(t, campaigns.Definition{DisplayName: "drop", Type: campaigns.TypeCouponDrop,
		Coupon:      campaigns.CouponTemplate{Kind: campaigns.CouponFreeShipping, ValidDays: 7},
		Eligibility: campaigns.Eligibility{Rule: "100 / (size(member.memberId) - 3) >= 0"}})

	res := e.order(t, "bob", "o-1", 20000)
	if len(res.CampaignRefusals) != 1 || res.CampaignRefusals[0] != (ledger.BonusRefusal{CampaignID: points.ID, Reason: "RULE_ERROR", RuleError: "division by zero"}) ||
		res.Points != 200 {
		t.Errorf("earning where the rule fails: %d points, refusals %+v", res.Points, res.CampaignRefusals)
	}
	if res := e.order(t, "bob", "o-2", 30000); res.Points != 600 || len(res.CampaignRefusals) != 0 {
		t.Errorf("earning where the rule holds: %d points, refusals %+v, want 300 + 300", res.Points, res.CampaignRefusals)
	}

	comp, err := svc.Compensate(ctx, actor, campaigns.AfterSalesEvent{RequestID: "ev-1", MemberID: "bob", OrderID: "o-1", Type: "LATE_DELIVERY", DelayHours: 30})
	if err != nil || len(comp.Grants) != 0 || len(comp.Refusals) != 1 ||
		comp.Refusals[0] != (campaigns.Refusal{CampaignID: late.ID, Reason: "RULE_ERROR", RuleError: "division by zero"}) {
		t.Errorf("compensation where the rule fails: %+v %v", comp, err)
	}

	_, err = svc.IssueCoupon(ctx, campaigns.IssueCoupon{MemberID: "bob", RequestID: "c-1", CampaignID: drop.ID})
	pe, ok := problem.As(err)
	if !ok || !errors.Is(err, campaigns.ErrRuleFailed) || pe.Reason != "RULE_ERROR" || !strings.Contains(pe.Message, "division by zero") {
		t.Errorf("coupon where the rule fails: %v", err)
	}
	if _, err := svc.IssueCoupon(ctx, campaigns.IssueCoupon{MemberID: "carla", RequestID: "c-2", CampaignID: drop.ID}); err != nil {
		t.Errorf("coupon where the rule holds: %v", err)
	}

	// A dry run answers the error but is not counted or logged.
	sim, err := svc.Simulate(ctx, campaigns.Simulate{CampaignID: points.ID, MemberID: "bob", OrderID: "o-3", SpendMinor: 20000, Currency: "CNY"})
	if err != nil || sim.Reason != "RULE_ERROR" || sim.RuleError != "division by zero" || sim.Eligible || sim.Points != 0 {
		t.Errorf("simulate where the rule fails: %+v %v", sim, err)
	}

	// A dry run in a currency the program does not earn in is refused like the earning.
	_, err = svc.Simulate(ctx, campaigns.Simulate{CampaignID: points.ID, MemberID: "bob", SpendMinor: 20000, Currency: "USD"})
	if pe, ok := problem.As(err); !ok || len(pe.Fields) != 1 || pe.Fields[0].Field != "spend.currency" || !strings.Contains(pe.Fields[0].Description, "accepts CNY") {
		t.Errorf("simulate in USD: %v", err)
	}

	for _, c := range []campaigns.Campaign{points, late, drop} {
		if n := ruleErrors(t, svc, c.ID); n != 1 {
			t.Errorf("campaign %s: %v rule errors counted, want 1", c.DisplayName, n)
		}
	}
	var warned []string
	for _, r := range logs.records(t) {
		if r["level"] == "WARN" && r["error"] == "division by zero" {
			warned = append(warned, r["campaignId"].(string))
		}
	}
	if len(warned) != 3 || warned[0] != points.ID || warned[1] != late.ID || warned[2] != drop.ID {
		t.Errorf("warnings for %v, want one each for %s, %s, %s", warned, points.ID, late.ID, drop.ID)
	}
	e.mustVerify(t)
}
