package campaigns_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/tiers"
)

// A simulation and the real earning can never disagree: before each order, the
// dry run says what the campaign would give; the earning then gives exactly that,
// or is refused for the reason the dry run named, across tiers (a paid membership
// makes the member gold, which the campaign is for, and multiplies the base),
// the member's cap, and the budget running out.
func TestSimulationMatchesTheRealEarning(t *testing.T) {
	e := newEngine(t, "gold-a", "gold-b", "plain")
	for _, m := range []string{"gold-a", "gold-b"} {
		if _, err := e.tiers.BuyMembership(ctx, "key_test", tiers.BuyMembership{MemberID: m, RequestID: "buy-" + m, TierID: "gold",
			EndTime: e.clock.Now().Add(30 * 24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	c := e.launch(t, campaigns.Definition{
		DisplayName: "gold week", Type: campaigns.TypeMultiplier, MultiplierPercent: 150,
		Eligibility:  campaigns.Eligibility{Tiers: []string{"gold"}},
		Budget:       campaigns.Budget{Points: 200},
		PerMemberCap: campaigns.Cap{Points: 120},
	})
	orders := []struct {
		member string
		spend  int64
	}{
		{"gold-a", 10000}, {"plain", 10000}, {"gold-a", 10000}, {"gold-a", 10000}, {"gold-a", 10000}, // a: 50, 50, 20 (its cap of 120), then none
		{"gold-b", 10000}, {"gold-b", 30000}, {"gold-b", 10000}, // the budget of 200 runs out: 30 left for the 150 asked, then none
	}
	sawCap, sawBudget, sawIneligible := false, false, false
	for i, o := range orders {
		orderID := fmt.Sprintf("o%d", i)
		sim, err := e.campaigns.Simulate(ctx, campaigns.Simulate{CampaignID: c.ID, MemberID: o.member, OrderID: orderID,
			SpendMinor: o.spend, Currency: "CNY"})
		if err != nil {
			t.Fatal(err)
		}
		res := e.order(t, o.member, orderID, o.spend)
		got := campaignPoints(res, c.ID)
		var refusal string
		for _, r := range res.CampaignRefusals {
			if r.CampaignID == c.ID {
				refusal = r.Reason
			}
		}
		var tierID string
		for _, l := range res.Breakdown {
			if l.Source == tiers.SourceTier {
				tierID = "gold" // only gold members multiply here
			}
		}
		switch {
		case sim.Reason == "NOT_ELIGIBLE":
			sawIneligible = true
			if got != 0 || refusal != "" {
				t.Errorf("order %d of %s: simulation says not eligible, the earning got %d points (refusal %q)", i, o.member, got, refusal)
			}
		case sim.Reason != "":
			sawCap = sawCap || sim.Reason == campaigns.RefusedMemberCap
			sawBudget = sawBudget || sim.Reason == campaigns.RefusedBudgetExhausted
			if got != 0 || refusal != sim.Reason {
				t.Errorf("order %d of %s: simulation says %s, the earning got %d points refused for %q", i, o.member, sim.Reason, got, refusal)
			}
		default:
			if got != sim.Points || refusal != "" {
				t.Errorf("order %d of %s: simulation says %d points, the earning got %d (refusal %q)", i, o.member, sim.Points, got, refusal)
			}
		}
		if sim.Eligible && sim.TierID != "gold" || (tierID == "gold") != (sim.TierID == "gold") {
			t.Errorf("order %d of %s: simulated tier %q, the earning applied %q", i, o.member, sim.TierID, tierID)
		}
	}
	if !sawCap || !sawBudget || !sawIneligible {
		t.Fatalf("the orders did not reach every case: cap %v, budget %v, not eligible %v", sawCap, sawBudget, sawIneligible)
	}
	e.mustVerify(t)
}
