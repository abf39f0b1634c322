package server_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// A rule that fails whenever it runs is refused at save, naming eligibility.rule
// and saying why; one that fails only on some orders is saved, and where it fails
// the earning and the dry run say RULE_ERROR with the error, and /metrics counts it.
func TestCampaignRulesThatFailAreRefusedAtSaveOrReportedAtRunTime(t *testing.T) {
	env := apitest.Start(t)
	marketer := env.Key(access.RoleMarketer)
	app := env.Key(access.RoleApp)
	withRule := func(rule string) map[string]any {
		return map[string]any{"displayName": "Rule", "type": "POINTS_MULTIPLIER", "multiplierPercent": 200,
			"eligibility": map[string]any{"rule": rule}}
	}
	nested := "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, " +
		"[1,2,3,4,5,6,7,8,9,10].all(d, a + b + c + d + order.spendMinor > 0))))"
	for rule, says := range map[string]string{
		"order.spendMinor > 1 / 0": "its constant part 1 / 0 always fails, so the rule would not apply: division by zero",
		nested:                     "is too costly",
		"order.spendMinor * 100000000000000000 > 0": "fails on every order tried",
		"order.currency == \"CNY\" && 7 % 0 == 0":   "its constant part 7 % 0 always fails",
		"100 / event.delayHours > 1":                "fails on every order tried (spends of 100, 10000 and 1000000 minor units in CNY), so the campaign would never apply: division by zero",
	} {
		r := env.REST("POST", "/v1/campaigns", marketer, withRule(rule))
		if r.Status != http.StatusBadRequest || !slices.Equal(r.FieldViolations(), []string{"eligibility.rule"}) || !strings.Contains(string(r.Raw), says) {
			t.Errorf("rule %q: %d %s, want 400 on eligibility.rule saying %q", rule, r.Status, r.Raw, says)
		}
	}
	if n := campaignCount(t, env); n != 0 {
		t.Fatalf("refused rules saved %d campaigns", n)
	}

	// Fails on a spend of exactly 20000 only: saved, and reported where it fails.
	c := createCampaign(t, env, marketer, withRule("100 / (order.spendMinor - 20000) >= 0"))
	id := c["campaignId"].(string)
	campaignDo(t, env, marketer, id, "activate")
	must200(t, "enroll", env.REST("POST", "/v1/members", app, map[string]any{"memberId": "rex"}))

	failed := earnAnswer(t, env, app, "rex", "R-1", 20000)
	refusals := list(t, failed["campaignRefusals"])
	if len(refusals) != 1 || refusals[0]["campaignId"] != id || refusals[0]["reason"] != "RULE_ERROR" || refusals[0]["ruleError"] != "division by zero" {
		t.Errorf("earning where the rule fails: refusals %v, want one RULE_ERROR of %s saying division by zero", refusals, id)
	}
	if lines := campaignLines(t, failed); len(lines) != 0 || failed["points"] != "200" {
		t.Errorf("earning where the rule fails got campaign points: %v, points %v", lines, failed["points"])
	}
	if ok := earnAnswer(t, env, app, "rex", "R-2", 30000); campaignLines(t, ok)[id] != 300 || ok["campaignRefusals"] != nil && len(list(t, ok["campaignRefusals"])) != 0 {
		t.Errorf("earning where the rule holds: %v", ok)
	}

	sim := must200(t, "simulate", env.REST("POST", "/v1/campaigns/"+id+":simulate", marketer, map[string]any{
		"memberId": "rex", "orderId": "R-3", "spend": map[string]any{"amountMinor": 20000, "currency": "CNY"}})).Body
	if sim["reason"] != "RULE_ERROR" || sim["ruleError"] != "division by zero" || sim["eligible"] == true || sim["points"] != "0" {
		t.Errorf("simulate where the rule fails: %v", sim)
	}
	gsim, err := loyaltyv1.NewCampaignServiceClient(env.Conn).SimulateCampaign(env.Ctx(marketer), &loyaltyv1.SimulateCampaignRequest{
		CampaignId: id, MemberId: "rex", OrderId: "R-3", Spend: &loyaltyv1.Money{AmountMinor: 20000, Currency: "CNY"}})
	if status.Code(err) != codes.OK || gsim.GetReason() != "RULE_ERROR" || gsim.GetRuleError() != "division by zero" {
		t.Errorf("gRPC simulate where the rule fails: %v %v", gsim, err)
	}

	// Counted once: the real earning, not the dry runs.
	resp, err := env.HTTP.Get(env.BaseURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if want := `loyalty_campaign_rule_errors_total{campaign="` + id + `"} 1`; !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %s", want)
	}
}
