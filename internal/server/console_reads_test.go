package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// The rule editor's check answers what a save would refuse, with where, and saves
// nothing; it is the marketer's, and a bad type is a 400 on type.
func TestCheckCampaignRuleAnswersIssuesWithPositions(t *testing.T) {
	env := apitest.Start(t)
	marketer := env.Key(access.RoleMarketer)
	check := func(body map[string]any) map[string]any {
		t.Helper()
		return must200(t, "check rule", env.REST("POST", "/v1/campaigns:checkRule", marketer, body)).Body
	}
	if ok := check(map[string]any{"type": "POINTS_MULTIPLIER", "rule": "order.spendMinor >= 10000"}); ok["valid"] != true || len(list(t, ok["issues"])) != 0 {
		t.Errorf("a good rule: %v, want valid without issues", ok)
	}
	bad := check(map[string]any{"type": "POINTS_MULTIPLIER", "rule": "order.spendMinr >= 10000"})
	issues := list(t, bad["issues"])
	if bad["valid"] == true || len(issues) != 1 || issues[0]["line"] != float64(1) || issues[0]["column"] != float64(6) ||
		!strings.Contains(issues[0]["message"].(string), "undefined field 'spendMinr'") {
		t.Errorf("an unknown field: %v, want one issue at 1:6", bad)
	}
	// The samples follow the type: an order's field divides by zero for a coupon drop.
	drop := check(map[string]any{"type": "COUPON_DROP", "rule": "100 / order.spendMinor > 1"})
	if issues := list(t, drop["issues"]); drop["valid"] == true || len(issues) != 1 || !strings.Contains(issues[0]["message"].(string), "fails on a member") {
		t.Errorf("a coupon drop dividing by the spend: %v, want refused", drop)
	}
	if r := env.REST("POST", "/v1/campaigns:checkRule", marketer, map[string]any{"type": "DISCOUNT", "rule": "true"}); r.Status != http.StatusBadRequest ||
		!slices.Equal(r.FieldViolations(), []string{"type"}) {
		t.Errorf("a bad type: %d %s, want 400 on type", r.Status, r.Raw)
	}
	if r := env.REST("POST", "/v1/campaigns:checkRule", env.Key(access.RoleApp), map[string]any{"type": "POINTS_BONUS"}); r.Status != http.StatusForbidden {
		t.Errorf("an app's check: %d, want 403", r.Status)
	}
	if n := campaignCount(t, env); n != 0 {
		t.Fatalf("checking rules saved %d campaigns", n)
	}
}

// A campaign's stats add up to what it spent (a refund's give-back included) and
// count its grants; a coupon drop's count its coupons issued and redeemed.
func TestCampaignStatsByDay(t *testing.T) {
	env := apitest.Start(t)
	marketer := env.Key(access.RoleMarketer)
	auditor := env.Key(access.RoleAuditor)
	app := env.Key(access.RoleApp)
	must200(t, "enroll", env.REST("POST", "/v1/members", app, map[string]any{"memberId": "sam"}))
	double := createCampaign(t, env, marketer, map[string]any{"displayName": "Double", "type": "POINTS_MULTIPLIER", "multiplierPercent": 200,
		"schedule": map[string]any{"startTime": "2020-01-01T00:00:00", "timeZone": "Asia/Shanghai"}, "budget": map[string]any{"points": 100000}})
	id := double["campaignId"].(string)
	campaignDo(t, env, marketer, id, "activate")
	earnAnswer(t, env, app, "sam", "S-1", 10000)
	earnAnswer(t, env, app, "sam", "S-2", 20000)
	must200(t, "refund", env.REST("POST", "/v1/orders/S-2:refund", app, map[string]any{"requestId": "r-s2", "memberId": "sam", "refundAmountMinor": 10000}))

	stats := must200(t, "stats", env.REST("GET", "/v1/campaigns/"+id+"/stats", auditor, nil)).Body
	spent := num(t, obj(t, getCampaign(t, env, marketer, id)["spent"])["points"])
	var points, grants int64
	for _, d := range list(t, stats["days"]) {
		points += num(t, d["points"])
		grants += num(t, d["grants"])
		if len(d["day"].(string)) != len("2026-11-11") {
			t.Errorf("day %v, want yyyy-mm-dd", d["day"])
		}
	}
	if stats["timeZone"] != "Asia/Shanghai" || spent == 0 || points != spent || grants != 2 {
		t.Errorf("stats %v: %d points in %d grants, want the %d spent in 2, in Asia/Shanghai", stats, points, grants, spent)
	}

	drop := createCampaign(t, env, marketer, map[string]any{"displayName": "Drop", "type": "COUPON_DROP",
		"coupon": map[string]any{"kind": "FREE_SHIPPING", "validDays": 7}})
	dropID := drop["campaignId"].(string)
	campaignDo(t, env, marketer, dropID, "activate")
	var codes []string
	for _, rid := range []string{"c-1", "c-2"} {
		c := must200(t, "issue", env.REST("POST", "/v1/members/sam/coupons", marketer, map[string]any{"requestId": rid, "campaignId": dropID})).Body
		codes = append(codes, c["code"].(string))
	}
	must200(t, "redeem", env.REST("POST", "/v1/coupons/"+codes[0]+":redeem", app, map[string]any{"requestId": "rd-1", "memberId": "sam", "orderId": "S-3"}))
	ds := must200(t, "drop stats", env.REST("GET", "/v1/campaigns/"+dropID+"/stats", marketer, nil)).Body
	days := list(t, ds["days"])
	if ds["couponsIssued"] != "2" || ds["couponsRedeemed"] != "1" || len(days) != 1 || days[0]["couponsIssued"] != "2" || days[0]["couponsRedeemed"] != "1" {
		t.Errorf("drop stats %v, want 2 issued and 1 redeemed, on one day", ds)
	}
	if r := env.REST("GET", "/v1/campaigns/"+dropID+"/stats", app, nil); r.Status != http.StatusForbidden {
		t.Errorf("an app's stats: %d, want 403", r.Status)
	}
	refused(t, "stats of no campaign", env.REST("GET", "/v1/campaigns/cmp_nope/stats", marketer, nil), http.StatusNotFound, "CAMPAIGN_NOT_FOUND")
}
