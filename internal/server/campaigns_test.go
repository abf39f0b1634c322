package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// The campaign bodies of the product spec (PRODUCT.md, "Campaign bodies (REST)"),
// byte for byte: POST /v1/campaigns must take them as they are.
const (
	double11Body = `{"displayName": "Double 11 double points", "type": "POINTS_MULTIPLIER",
 "schedule": {"startTime": "2026-11-11T00:00:00", "endTime": "2026-11-12T00:00:00", "timeZone": "Asia/Shanghai"},
 "eligibility": {"tiers": ["silver", "gold", "platinum"], "rule": "order.spendMinor >= 10000"},
 "multiplierPercent": 200,
 "budget": {"points": 5000000}, "perMemberCap": {"points": 2000}}`
	couponDropBody = `{"displayName": "Singles' Day coupon drop", "type": "COUPON_DROP",
 "coupon": {"kind": "AMOUNT_OFF", "amountOffMinor": 1000, "minSpendMinor": 9900, "validDays": 30},
 "budget": {"coupons": 100000}, "perMemberCap": {"coupons": 1}}`
	lateDeliveryBody = `{"displayName": "Late delivery apology", "type": "COMPENSATION",
 "compensation": {"eventTypes": ["LATE_DELIVERY"], "minDelayHours": 48, "points": 100,
                  "tierPercent": {"gold": 150, "platinum": 200}},
 "coupon": {"kind": "FREE_SHIPPING", "validDays": 60}}`
)

// createCampaign creates a campaign (body: a JSON string or a value) and returns it.
func createCampaign(t testing.TB, env *apitest.Env, key string, body any) map[string]any {
	t.Helper()
	c := must200(t, "create campaign", env.REST("POST", "/v1/campaigns", key, body)).Body
	if id, _ := c["campaignId"].(string); !strings.HasPrefix(id, "cmp_") {
		t.Fatalf("created campaign has id %v: %v", c["campaignId"], c)
	}
	return c
}

// campaignDo runs a lifecycle verb (activate, pause, end) and returns the campaign.
func campaignDo(t testing.TB, env *apitest.Env, key, id, verb string) map[string]any {
	t.Helper()
	return must200(t, verb+" campaign", env.REST("POST", "/v1/campaigns/"+id+":"+verb, key, map[string]any{})).Body
}

func getCampaign(t testing.TB, env *apitest.Env, key, id string) map[string]any {
	t.Helper()
	return must200(t, "get campaign", env.REST("GET", "/v1/campaigns/"+id, key, nil)).Body
}

// earnAnswer earns from a spend on an order and returns the whole answer.
func earnAnswer(t testing.TB, env *apitest.Env, key, memberID, orderID string, spendMinor int64) map[string]any {
	t.Helper()
	return must200(t, "earn on "+orderID, env.REST("POST", "/v1/members/"+memberID+":earn", key, map[string]any{
		"requestId": "earn-" + orderID, "orderId": orderID, "spend": map[string]any{"amountMinor": spendMinor, "currency": "CNY"}})).Body
}

// campaignLines sums an earning's CAMPAIGN breakdown lines by campaign id.
func campaignLines(t testing.TB, earning map[string]any) map[string]int64 {
	t.Helper()
	lines := map[string]int64{}
	for _, l := range list(t, earning["breakdown"]) {
		switch {
		case l["source"] == "CAMPAIGN":
			id, _ := l["campaignId"].(string)
			if id == "" {
				t.Errorf("CAMPAIGN line without a campaignId: %v", l)
			}
			lines[id] += num(t, l["points"])
		case l["campaignId"] != "":
			t.Errorf("%v line with a campaignId: %v", l["source"], l)
		}
	}
	return lines
}

// refusalsOf lists an answer's campaign refusals as "campaignId:REASON".
func refusalsOf(t testing.TB, v any) []string {
	t.Helper()
	var out []string
	for _, r := range list(t, v) {
		out = append(out, r["campaignId"].(string)+":"+r["reason"].(string))
	}
	return out
}

func campaignCount(t testing.TB, env *apitest.Env) int {
	t.Helper()
	var n int
	if err := env.Pool.QueryRow(t.Context(), `SELECT count(*) FROM campaigns`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestProductSpecCampaignBodiesAreAcceptedVerbatim(t *testing.T) {
	env := apitest.Start(t)
	marketer := env.Key(access.RoleMarketer)
	auditor := env.Key(access.RoleAuditor)

	// Double 11: a multiplier on a schedule in Asia/Shanghai.
	d11 := createCampaign(t, env, marketer, double11Body)
	if d11["status"] != "DRAFT" || d11["displayName"] != "Double 11 double points" || d11["type"] != "POINTS_MULTIPLIER" ||
		d11["multiplierPercent"] != float64(200) {
		t.Errorf("Double 11 created as %v", d11)
	}
	if s := obj(t, d11["schedule"]); s["startTime"] != "2026-11-11T00:00:00" || s["endTime"] != "2026-11-12T00:00:00" || s["timeZone"] != "Asia/Shanghai" {
		t.Errorf("Double 11 schedule answered as %v, want it as given", s)
	}
	start, end := ts(t, d11["startsAt"]), ts(t, d11["endsAt"])
	if !start.Equal(time.Date(2026, 11, 10, 16, 0, 0, 0, time.UTC)) || !end.Equal(time.Date(2026, 11, 11, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("Double 11 instants %s - %s, want 2026-11-10T16:00Z - 2026-11-11T16:00Z (midnight in Shanghai)", start, end)
	}
	if e := obj(t, d11["eligibility"]); slices.Compare(strs(t, e["tiers"]), []string{"silver", "gold", "platinum"}) != 0 || e["rule"] != "order.spendMinor >= 10000" {
		t.Errorf("Double 11 eligibility %v", e)
	}
	if num(t, obj(t, d11["budget"])["points"]) != 5000000 || num(t, obj(t, d11["perMemberCap"])["points"]) != 2000 ||
		num(t, obj(t, d11["remaining"])["points"]) != 5000000 || num(t, obj(t, d11["spent"])["points"]) != 0 {
		t.Errorf("Double 11 budget %v cap %v remaining %v spent %v", d11["budget"], d11["perMemberCap"], d11["remaining"], d11["spent"])
	}
	if _, ok := obj(t, d11["remaining"])["coupons"]; ok {
		t.Errorf("Double 11 has no coupon budget, yet remaining names coupons: %v", d11["remaining"])
	}
	if d11["coupon"] != nil || d11["compensation"] != nil {
		t.Errorf("Double 11 answered parts it was not given: coupon %v compensation %v", d11["coupon"], d11["compensation"])
	}
	// Activated, it is SCHEDULED before its start, ACTIVE during the day, ENDED after:
	// whatever today is, the answer is what the schedule says now.
	activated := campaignDo(t, env, marketer, d11["campaignId"].(string), "activate")
	want := campaigns.Campaign{Status: campaigns.StatusScheduled, Start: start, End: end}.EffectiveStatus(time.Now())
	if activated["status"] != want {
		t.Errorf("activated Double 11 is %v, want %s at %s", activated["status"], want, time.Now().UTC())
	}
	if got := getCampaign(t, env, auditor, d11["campaignId"].(string)); got["status"] != want {
		t.Errorf("Double 11 read back as %v, want %s", got["status"], want)
	}

	drop := createCampaign(t, env, marketer, couponDropBody)
	if c := obj(t, drop["coupon"]); c["kind"] != "AMOUNT_OFF" || num(t, c["amountOffMinor"]) != 1000 || num(t, c["minSpendMinor"]) != 9900 ||
		c["validDays"] != float64(30) {
		t.Errorf("coupon drop template %v", c)
	}
	if num(t, obj(t, drop["budget"])["coupons"]) != 100000 || obj(t, drop["perMemberCap"])["coupons"] != float64(1) ||
		num(t, obj(t, drop["remaining"])["coupons"]) != 100000 || drop["schedule"] != nil || drop["startsAt"] != nil {
		t.Errorf("coupon drop %v", drop)
	}

	late := createCampaign(t, env, marketer, lateDeliveryBody)
	comp := obj(t, late["compensation"])
	if slices.Compare(strs(t, comp["eventTypes"]), []string{"LATE_DELIVERY"}) != 0 || comp["minDelayHours"] != float64(48) || num(t, comp["points"]) != 100 {
		t.Errorf("compensation %v", comp)
	}
	if tp := obj(t, comp["tierPercent"]); len(tp) != 2 || tp["gold"] != float64(150) || tp["platinum"] != float64(200) {
		t.Errorf("tierPercent %v", comp["tierPercent"])
	}
	if c := obj(t, late["coupon"]); c["kind"] != "FREE_SHIPPING" || c["validDays"] != float64(60) {
		t.Errorf("compensation coupon %v", c)
	}
	if late["remaining"] != nil || late["budget"] != nil {
		t.Errorf("an unbounded campaign answered budget %v remaining %v, want null", late["budget"], late["remaining"])
	}

	// All three are listed, newest first; the list filters by the status now.
	all := list(t, must200(t, "list", env.REST("GET", "/v1/campaigns", auditor, nil)).Body["campaigns"])
	if len(all) != 3 || all[0]["campaignId"] != late["campaignId"] || all[2]["campaignId"] != d11["campaignId"] {
		t.Errorf("list: %v", all)
	}
	drafts := list(t, must200(t, "list drafts", env.REST("GET", "/v1/campaigns?status=DRAFT", marketer, nil)).Body["campaigns"])
	if len(drafts) != 2 {
		t.Errorf("drafts: %d, want 2", len(drafts))
	}
	byStatus := list(t, must200(t, "list "+want, env.REST("GET", "/v1/campaigns?status="+want, marketer, nil)).Body["campaigns"])
	if len(byStatus) != 1 || byStatus[0]["campaignId"] != d11["campaignId"] {
		t.Errorf("campaigns %s now: %v, want Double 11", want, byStatus)
	}
	// Pages.
	page := must200(t, "page", env.REST("GET", "/v1/campaigns?pageSize=2", marketer, nil)).Body
	next, _ := page["nextPageToken"].(string)
	if len(list(t, page["campaigns"])) != 2 || next == "" {
		t.Fatalf("first page: %v", page)
	}
	rest := must200(t, "second page", env.REST("GET", "/v1/campaigns?pageSize=2&pageToken="+next, marketer, nil)).Body
	if r := list(t, rest["campaigns"]); len(r) != 1 || r[0]["campaignId"] != d11["campaignId"] || rest["nextPageToken"] != "" {
		t.Errorf("second page: %v", rest)
	}
	refused(t, "bad status filter", env.REST("GET", "/v1/campaigns?status=RUNNING", marketer, nil), http.StatusBadRequest, "INVALID_ARGUMENT")
	refused(t, "unknown campaign", env.REST("GET", "/v1/campaigns/cmp_nope", marketer, nil), http.StatusNotFound, "CAMPAIGN_NOT_FOUND")
}

// strs is a JSON array of strings.
func strs(t testing.TB, v any) []string {
	t.Helper()
	arr, ok := v.([]any)
	if !ok {
		t.Fatalf("not a JSON array: %#v", v)
	}
	out := make([]string, len(arr))
	for i, x := range arr {
		out[i], _ = x.(string)
	}
	return out
}

func TestBadCampaignsAreRefusedNamingTheFieldAndSaveNothing(t *testing.T) {
	env := apitest.Start(t)
	marketer := env.Key(access.RoleMarketer)
	base := func(edit func(map[string]any)) map[string]any {
		b := map[string]any{"displayName": "Bad", "type": "POINTS_MULTIPLIER", "multiplierPercent": 200,
			"schedule": map[string]any{"startTime": "2026-12-12T00:00:00", "endTime": "2026-12-13T00:00:00", "timeZone": "Asia/Shanghai"}}
		edit(b)
		return b
	}
	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"misspelt rule field", base(func(b map[string]any) { b["eligibility"] = map[string]any{"rule": "order.spendMinr >= 1"} }), "eligibility.rule"},
		{"rule that is not boolean", base(func(b map[string]any) { b["eligibility"] = map[string]any{"rule": "order.spendMinor + 1"} }), "eligibility.rule"},
		{"unknown time zone", base(func(b map[string]any) { obj(t, b["schedule"])["timeZone"] = "Mars/Olympus" }), "schedule.timeZone"},
		{"end before start", base(func(b map[string]any) { obj(t, b["schedule"])["endTime"] = "2026-12-11T00:00:00" }), "schedule.endTime"},
		{"time with an offset", base(func(b map[string]any) { obj(t, b["schedule"])["startTime"] = "2026-12-12T00:00:00+08:00" }), "schedule.startTime"},
		{"multiplier not above 100", base(func(b map[string]any) { b["multiplierPercent"] = 100 }), "multiplierPercent"},
		{"unknown tier", base(func(b map[string]any) { b["eligibility"] = map[string]any{"tiers": []string{"diamond"}} }), "eligibility.tiers[0]"},
		{"coupon budget on a points campaign", base(func(b map[string]any) { b["budget"] = map[string]any{"coupons": 5} }), "budget.coupons"},
		{"points budget on a coupon drop", map[string]any{"displayName": "Drop", "type": "COUPON_DROP",
			"coupon": map[string]any{"kind": "FREE_SHIPPING", "validDays": 7}, "budget": map[string]any{"points": 5}}, "budget.points"},
		{"coupon drop without a coupon", map[string]any{"displayName": "Drop", "type": "COUPON_DROP"}, "coupon.kind"},
		{"unknown type", map[string]any{"displayName": "X", "type": "LOTTERY"}, "type"},
		{"no name", base(func(b map[string]any) { delete(b, "displayName") }), "displayName"},
	} {
		r := env.REST("POST", "/v1/campaigns", marketer, tc.body)
		if r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), tc.field) {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.name, r.Status, r.Raw, tc.field)
		}
	}
	// CEL says where the rule is wrong.
	r := env.REST("POST", "/v1/campaigns", marketer, base(func(b map[string]any) { b["eligibility"] = map[string]any{"rule": "order.spendMinr >= 1"} }))
	if !strings.Contains(string(r.Raw), "spendMinr") {
		t.Errorf("rule error does not say what is wrong: %s", r.Raw)
	}
	// A field the API does not know is refused, not ignored.
	if r := env.REST("POST", "/v1/campaigns", marketer, base(func(b map[string]any) { b["multiplier"] = 200 })); r.Status != http.StatusBadRequest {
		t.Errorf("unknown field: %d %s, want 400", r.Status, r.Raw)
	}
	// Schedule times are local wall-time strings, not timestamps objects.
	if r := env.REST("POST", "/v1/campaigns", marketer, base(func(b map[string]any) {
		obj(t, b["schedule"])["startTime"] = map[string]any{"seconds": 1}
	})); r.Status != http.StatusBadRequest {
		t.Errorf("startTime as an object: %d %s, want 400", r.Status, r.Raw)
	}

	if n := campaignCount(t, env); n != 0 {
		t.Errorf("refused campaigns saved %d rows", n)
	}
	if got := list(t, must200(t, "list", env.REST("GET", "/v1/campaigns", marketer, nil)).Body["campaigns"]); len(got) != 0 {
		t.Errorf("refused campaigns are listed: %v", got)
	}

	// Idempotent creation: the same requestId (body or Idempotency-Key header)
	// answers the same campaign; with another definition it is a conflict.
	good := base(func(b map[string]any) { b["requestId"] = "cmp-req-1" })
	first := createCampaign(t, env, marketer, good)
	if again := createCampaign(t, env, marketer, good); again["campaignId"] != first["campaignId"] {
		t.Errorf("repeat created %v, then %v", first["campaignId"], again["campaignId"])
	}
	good["multiplierPercent"] = 300
	refused(t, "same requestId, other definition", env.REST("POST", "/v1/campaigns", marketer, good), http.StatusConflict, "IDEMPOTENCY_CONFLICT")
	delete(good, "requestId")
	h1 := must200(t, "create with header", env.REST("POST", "/v1/campaigns", marketer, good, "Idempotency-Key", "cmp-hdr-1")).Body
	h2 := must200(t, "repeat with header", env.REST("POST", "/v1/campaigns", marketer, good, "Idempotency-Key", "cmp-hdr-1")).Body
	if h1["campaignId"] != h2["campaignId"] || h1["campaignId"] == first["campaignId"] {
		t.Errorf("Idempotency-Key: %v then %v", h1["campaignId"], h2["campaignId"])
	}
	if n := campaignCount(t, env); n != 2 {
		t.Errorf("%d campaigns saved, want 2", n)
	}
}

func TestPointsMultiplierWithABudgetOverREST(t *testing.T) {
	env := apitest.Start(t)
	marketer := env.Key(access.RoleMarketer)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "mia")

	c := createCampaign(t, env, marketer, map[string]any{"displayName": "Double points", "type": "POINTS_MULTIPLIER",
		"multiplierPercent": 200, "budget": map[string]any{"points": 150}})
	id := c["campaignId"].(string)
	if c["status"] != "DRAFT" || c["startsAt"] != nil || c["endsAt"] != nil {
		t.Errorf("created %v", c)
	}

	// A draft applies to nothing.
	e := earnAnswer(t, env, app, "mia", "o-1", 10000)
	if lines := campaignLines(t, e); len(lines) != 0 || num(t, e["points"]) != 100 || len(list(t, e["campaignRefusals"])) != 0 {
		t.Errorf("earning under a draft: %v", e)
	}

	// Dry run of the draft: what it would give, without giving it.
	sim := must200(t, "simulate", env.REST("POST", "/v1/campaigns/"+id+":simulate", marketer, map[string]any{
		"memberId": "mia", "spend": map[string]any{"amountMinor": 10000, "currency": "CNY"}, "orderId": "o-sim"})).Body
	if sim["campaignId"] != id || sim["activeNow"] != false || sim["eligible"] != true || sim["tierId"] != "member" ||
		num(t, sim["basePoints"]) != 100 || num(t, sim["points"]) != 100 || sim["reason"] != "" ||
		num(t, sim["budgetPointsLeft"]) != 150 || num(t, sim["capPointsLeft"]) != -1 || num(t, sim["budgetCouponsLeft"]) != -1 {
		t.Errorf("simulation of a draft: %v", sim)
	}
	if got := getCampaign(t, env, marketer, id); num(t, obj(t, got["spent"])["points"]) != 0 || num(t, got["grants"]) != 0 {
		t.Errorf("simulation spent budget: %v", got)
	}
	noSpend := must200(t, "simulate without spend", env.REST("POST", "/v1/campaigns/"+id+":simulate", marketer, map[string]any{"memberId": "mia"})).Body
	if noSpend["reason"] != "NO_SPEND" || num(t, noSpend["points"]) != 0 {
		t.Errorf("simulation without a spend: %v", noSpend)
	}
	refused(t, "simulate for an unknown member", env.REST("POST", "/v1/campaigns/"+id+":simulate", marketer, map[string]any{"memberId": "nobody"}),
		http.StatusNotFound, "MEMBER_NOT_FOUND")
	if r := env.REST("POST", "/v1/campaigns/"+id+":simulate", marketer, map[string]any{"memberId": "mia",
		"spend": map[string]any{"amountMinor": 100, "currency": "cny"}}); r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), "spend.currency") {
		t.Errorf("simulate with a lowercase currency: %d %s", r.Status, r.Raw)
	}

	if a := campaignDo(t, env, marketer, id, "activate"); a["status"] != "ACTIVE" {
		t.Errorf("activated without a schedule: %v, want ACTIVE", a["status"])
	}
	// 100 base points: the 200% multiplier adds 100 from the budget of 150...
	o2 := earnAnswer(t, env, app, "mia", "o-2", 10000)
	if lines := campaignLines(t, o2); len(lines) != 1 || lines[id] != 100 || num(t, o2["points"]) != 200 {
		t.Errorf("first earning under the campaign: %v", o2)
	}
	if posting(t, obj(t, o2["entry"]), "system:campaign:"+id) != -100 || num(t, obj(t, o2["entry"])["pendingPoints"]) != 200 {
		t.Errorf("the campaign's account did not pay the bonus: %v", obj(t, o2["entry"])["postings"])
	}
	// ...then the 50 left (a partial grant)...
	e = earnAnswer(t, env, app, "mia", "o-3", 10000)
	if lines := campaignLines(t, e); lines[id] != 50 || num(t, e["points"]) != 150 || len(list(t, e["campaignRefusals"])) != 0 {
		t.Errorf("second earning under the campaign: %v", e)
	}
	// ...then nothing, and the answer says why.
	e = earnAnswer(t, env, app, "mia", "o-4", 10000)
	if lines := campaignLines(t, e); len(lines) != 0 || num(t, e["points"]) != 100 {
		t.Errorf("earning after the budget is spent: %v", e)
	}
	if r := refusalsOf(t, e["campaignRefusals"]); slices.Compare(r, []string{id + ":BUDGET_EXHAUSTED"}) != 0 {
		t.Errorf("refusals %v, want [%s:BUDGET_EXHAUSTED]", r, id)
	}
	got := getCampaign(t, env, marketer, id)
	if num(t, obj(t, got["spent"])["points"]) != 150 || num(t, obj(t, got["remaining"])["points"]) != 0 || num(t, got["grants"]) != 2 {
		t.Errorf("campaign after its budget: spent %v remaining %v grants %v", got["spent"], got["remaining"], got["grants"])
	}
	sim = must200(t, "simulate spent", env.REST("POST", "/v1/campaigns/"+id+":simulate", marketer, map[string]any{
		"memberId": "mia", "spend": map[string]any{"amountMinor": 10000, "currency": "CNY"}})).Body
	if sim["activeNow"] != true || num(t, sim["points"]) != 0 || sim["reason"] != "BUDGET_EXHAUSTED" || num(t, sim["budgetPointsLeft"]) != 0 {
		t.Errorf("simulation after the budget: %v", sim)
	}
	verifyOK(t, env)

	// An earning repeated with its requestId is the same entry and takes nothing
	// more from the budget.
	again := earnAnswer(t, env, app, "mia", "o-2", 10000)
	if obj(t, again["entry"])["entryId"] != obj(t, o2["entry"])["entryId"] || num(t, obj(t, again["entry"])["pendingPoints"]) != 200 {
		t.Errorf("repeated earning: %v", again)
	}
	if got := getCampaign(t, env, marketer, id); num(t, obj(t, got["spent"])["points"]) != 150 || num(t, got["grants"]) != 2 {
		t.Errorf("a repeated earning took from the budget: %v", got)
	}
}

// A repeat of an earning answers the first result: the same points and breakdown,
// campaign lines included (PRODUCT.md: "A repeat returns the first result").
func TestRepeatedEarningUnderACampaignAnswersTheFirstBreakdown(t *testing.T) {
	env := apitest.Start(t)
	marketer := env.Key(access.RoleMarketer)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "rae")
	id := createCampaign(t, env, marketer, map[string]any{"displayName": "Double points", "type": "POINTS_MULTIPLIER",
		"multiplierPercent": 200})["campaignId"].(string)
	campaignDo(t, env, marketer, id, "activate")

	first := earnAnswer(t, env, app, "rae", "o-1", 10000)
	again := earnAnswer(t, env, app, "rae", "o-1", 10000)
	if obj(t, again["entry"])["entryId"] != obj(t, first["entry"])["entryId"] {
		t.Fatalf("repeat posted another entry: %v, first %v", again["entry"], first["entry"])
	}
	if num(t, first["points"]) != 200 || campaignLines(t, first)[id] != 100 {
		t.Fatalf("first earning: %v", first)
	}
	if num(t, again["points"]) != num(t, first["points"]) || campaignLines(t, again)[id] != 100 {
		t.Errorf("repeat answered points %v and breakdown %v; the first answered %v and %v (its entry credits %v)",
			again["points"], again["breakdown"], first["points"], first["breakdown"], obj(t, again["entry"])["pendingPoints"])
	}
}

// The statement filters by every kind it answers, CAMPAIGN included.
func TestActivityFiltersCampaignEntries(t *testing.T) {
	env := apitest.Start(t)
	marketer := env.Key(access.RoleMarketer)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "fay")
	id := createCampaign(t, env, marketer, map[string]any{"displayName": "Sorry", "type": "COMPENSATION",
		"compensation": map[string]any{"eventTypes": []string{"DAMAGED_ITEM"}, "points": 40}})["campaignId"].(string)
	campaignDo(t, env, marketer, id, "activate")
	earn(t, env, app, "fay", "fay-earn", 10)
	must200(t, "compensate", env.REST("POST", "/v1/afterSalesEvents", app, map[string]any{"requestId": "fay-ev",
		"memberId": "fay", "orderId": "o-1", "type": "DAMAGED_ITEM"}))

	r := must200(t, "CAMPAIGN entries", env.REST("GET", "/v1/members/fay/activity?kinds=CAMPAIGN", app, nil)).Body
	if entries := list(t, r["entries"]); len(entries) != 1 || entries[0]["kind"] != "CAMPAIGN" || num(t, entries[0]["points"]) != 40 {
		t.Errorf("CAMPAIGN entries: %v", entries)
	}
}

func TestPausedAndEndedCampaignsGiveNothing(t *testing.T) {
	env := apitest.Start(t)
	marketer := env.Key(access.RoleMarketer)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "ned")

	c := createCampaign(t, env, marketer, map[string]any{"displayName": "Bonus", "type": "POINTS_BONUS", "bonusPoints": 30})
	id := c["campaignId"].(string)
	campaignDo(t, env, marketer, id, "activate")
	if e := earnAnswer(t, env, app, "ned", "o-1", 10000); campaignLines(t, e)[id] != 30 || num(t, e["points"]) != 130 {
		t.Errorf("active bonus: %v", e)
	}
	if p := campaignDo(t, env, marketer, id, "pause"); p["status"] != "PAUSED" {
		t.Errorf("paused: %v", p["status"])
	}
	e := earnAnswer(t, env, app, "ned", "o-2", 10000)
	if lines := campaignLines(t, e); len(lines) != 0 || num(t, e["points"]) != 100 || len(list(t, e["campaignRefusals"])) != 0 {
		t.Errorf("earning under a paused campaign: %v", e)
	}
	paused := list(t, must200(t, "list paused", env.REST("GET", "/v1/campaigns?status=PAUSED", marketer, nil)).Body["campaigns"])
	if len(paused) != 1 || paused[0]["campaignId"] != id {
		t.Errorf("paused campaigns: %v", paused)
	}
	// Activated again it applies again; ended, never again.
	campaignDo(t, env, marketer, id, "activate")
	if e := earnAnswer(t, env, app, "ned", "o-3", 10000); campaignLines(t, e)[id] != 30 {
		t.Errorf("reactivated bonus: %v", e)
	}
	if x := campaignDo(t, env, marketer, id, "end"); x["status"] != "ENDED" {
		t.Errorf("ended: %v", x["status"])
	}
	if e := earnAnswer(t, env, app, "ned", "o-4", 10000); len(campaignLines(t, e)) != 0 {
		t.Errorf("earning under an ended campaign: %v", e)
	}
	refused(t, "activate an ended campaign", env.REST("POST", "/v1/campaigns/"+id+":activate", marketer, map[string]any{}),
		http.StatusBadRequest, "CAMPAIGN_STATUS")
	refused(t, "pause an unknown campaign", env.REST("POST", "/v1/campaigns/cmp_nope:pause", marketer, map[string]any{}),
		http.StatusNotFound, "CAMPAIGN_NOT_FOUND")
	if got := getCampaign(t, env, marketer, id); num(t, obj(t, got["spent"])["points"]) != 60 || got["remaining"] != nil || num(t, got["grants"]) != 2 {
		t.Errorf("campaign after two grants: %v", got)
	}
	// Only the marketer (and admin) runs campaigns.
	if r := env.REST("POST", "/v1/campaigns", app, map[string]any{"displayName": "X", "type": "POINTS_BONUS", "bonusPoints": 1}); r.Status != http.StatusForbidden {
		t.Errorf("app created a campaign: %d", r.Status)
	}
}

func TestCouponDropOverREST(t *testing.T) {
	env := apitest.Start(t)
	marketer := env.Key(access.RoleMarketer)
	app := env.Key(access.RoleApp)
	agent := env.Key(access.RoleAgent)
	auditor := env.Key(access.RoleAuditor)
	for _, m := range []string{"ann", "bob", "cat"} {
		enroll(t, env, app, m)
	}
	c := createCampaign(t, env, marketer, map[string]any{"displayName": "Drop", "type": "COUPON_DROP",
		"coupon":       map[string]any{"kind": "AMOUNT_OFF", "amountOffMinor": 1000, "minSpendMinor": 9900, "validDays": 30},
		"budget":       map[string]any{"coupons": 2},
		"perMemberCap": map[string]any{"coupons": 1}})
	id := c["campaignId"].(string)
	issue := func(key, member, requestID string) apitest.Response {
		return env.REST("POST", "/v1/members/"+member+"/coupons", key, map[string]any{"requestId": requestID, "campaignId": id})
	}
	refused(t, "issue from a draft", issue(app, "ann", "iss-draft"), http.StatusBadRequest, "CAMPAIGN_NOT_ACTIVE")
	campaignDo(t, env, marketer, id, "activate")

	ann := must200(t, "issue to ann", issue(app, "ann", "iss-ann")).Body
	code, _ := ann["code"].(string)
	if len(code) != 19 || ann["memberId"] != "ann" || ann["campaignId"] != id || ann["status"] != "ISSUED" || ann["kind"] != "AMOUNT_OFF" ||
		num(t, ann["amountOffMinor"]) != 1000 || num(t, ann["minSpendMinor"]) != 9900 || ann["redeemTime"] != nil {
		t.Fatalf("coupon issued to ann: %v", ann)
	}
	if d := ts(t, ann["validUntil"]).Sub(ts(t, ann["issueTime"])); d != 30*24*time.Hour {
		t.Errorf("coupon valid for %s, want 30 days", d)
	}
	if again := must200(t, "repeat issue", issue(app, "ann", "iss-ann")).Body; again["code"] != code {
		t.Errorf("repeated issue gave %v, then %v", code, again["code"])
	}
	refused(t, "ann's second coupon", issue(app, "ann", "iss-ann-2"), http.StatusBadRequest, "MEMBER_CAP_REACHED")
	bob := must200(t, "issue to bob", issue(agent, "bob", "iss-bob")).Body
	refused(t, "third coupon of a budget of 2", issue(marketer, "cat", "iss-cat"), http.StatusBadRequest, "BUDGET_EXHAUSTED")
	if r := issue(auditor, "cat", "iss-cat-2"); r.Status != http.StatusForbidden {
		t.Errorf("auditor issued a coupon: %d", r.Status)
	}
	got := getCampaign(t, env, marketer, id)
	if num(t, obj(t, got["spent"])["coupons"]) != 2 || num(t, obj(t, got["remaining"])["coupons"]) != 0 {
		t.Errorf("campaign after 2 coupons: spent %v remaining %v", got["spent"], got["remaining"])
	}
	if cs := list(t, must200(t, "cat's coupons", env.REST("GET", "/v1/members/cat/coupons", auditor, nil)).Body["coupons"]); len(cs) != 0 {
		t.Errorf("refused issue left a coupon: %v", cs)
	}

	// Validate at checkout, in any spelling of the code.
	typed := strings.ToLower(strings.ReplaceAll(code, "-", ""))
	if v := must200(t, "get coupon", env.REST("GET", "/v1/coupons/"+typed, app, nil)).Body; v["code"] != code || v["status"] != "ISSUED" {
		t.Errorf("coupon %s read as %v", typed, v)
	}
	refused(t, "unknown coupon", env.REST("GET", "/v1/coupons/0000-0000-0000-0000", app, nil), http.StatusNotFound, "COUPON_NOT_FOUND")

	redeem := func(member, requestID, order string, spend int64) apitest.Response {
		return env.REST("POST", "/v1/coupons/"+code+":redeem", app, map[string]any{"requestId": requestID, "memberId": member, "orderId": order, "spendMinor": spend})
	}
	refused(t, "below the minimum spend", redeem("ann", "red-low", "o-1", 5000), http.StatusBadRequest, "COUPON_MIN_SPEND_NOT_MET")
	refused(t, "another member's coupon", redeem("bob", "red-bob", "o-9", 10000), http.StatusBadRequest, "COUPON_NOT_OWNED")
	first := must200(t, "redeem", redeem("ann", "red-1", "o-1", 10000)).Body
	if first["status"] != "REDEEMED" || first["redeemOrderId"] != "o-1" || first["redeemTime"] == nil {
		t.Errorf("redeemed coupon: %v", first)
	}
	refused(t, "second redemption", redeem("ann", "red-2", "o-2", 10000), http.StatusBadRequest, "COUPON_ALREADY_REDEEMED")
	if again := must200(t, "repeat redemption", redeem("ann", "red-1", "o-1", 10000)).Body; again["status"] != "REDEEMED" ||
		again["redeemTime"] != first["redeemTime"] || again["redeemOrderId"] != "o-1" {
		t.Errorf("repeat of the redemption: %v, first %v", again, first)
	}
	refused(t, "another member after redemption", redeem("bob", "red-bob-2", "o-9", 10000), http.StatusBadRequest, "COUPON_NOT_OWNED")
	if v := must200(t, "get redeemed", env.REST("GET", "/v1/coupons/"+code, agent, nil)).Body; v["status"] != "REDEEMED" || v["redeemOrderId"] != "o-1" {
		t.Errorf("redeemed coupon read as %v", v)
	}
	if r := env.REST("POST", "/v1/coupons/"+code+":redeem", agent, map[string]any{"requestId": "x", "memberId": "ann", "orderId": "o-3"}); r.Status != http.StatusForbidden {
		t.Errorf("agent redeemed a coupon: %d", r.Status)
	}
	refused(t, "revoke a redeemed coupon", env.REST("POST", "/v1/coupons/"+code+":revoke", marketer, map[string]any{}),
		http.StatusBadRequest, "COUPON_ALREADY_REDEEMED")

	// Revoke bob's unredeemed coupon: it can no longer be redeemed.
	bobCode := bob["code"].(string)
	if r := env.REST("POST", "/v1/coupons/"+bobCode+":revoke", app, map[string]any{}); r.Status != http.StatusForbidden {
		t.Errorf("app revoked a coupon: %d", r.Status)
	}
	if v := must200(t, "revoke", env.REST("POST", "/v1/coupons/"+bobCode+":revoke", agent, map[string]any{})).Body; v["status"] != "REVOKED" {
		t.Errorf("revoked coupon: %v", v)
	}
	refused(t, "redeem a revoked coupon", env.REST("POST", "/v1/coupons/"+bobCode+":redeem", app,
		map[string]any{"requestId": "red-bob-3", "memberId": "bob", "orderId": "o-5"}), http.StatusBadRequest, "COUPON_REVOKED")
	if v := must200(t, "get revoked", env.REST("GET", "/v1/coupons/"+bobCode, auditor, nil)).Body; v["status"] != "REVOKED" {
		t.Errorf("revoked coupon read as %v", v)
	}

	cs := must200(t, "ann's coupons", env.REST("GET", "/v1/members/ann/coupons?pageSize=10", app, nil)).Body
	if l := list(t, cs["coupons"]); len(l) != 1 || l[0]["code"] != code || l[0]["status"] != "REDEEMED" || cs["nextPageToken"] != "" {
		t.Errorf("ann's coupons: %v", cs)
	}
	refused(t, "coupons of an unknown member", env.REST("GET", "/v1/members/nobody/coupons", app, nil), http.StatusNotFound, "MEMBER_NOT_FOUND")
	if r := env.REST("GET", "/v1/members/ann/coupons", marketer, nil); r.Status != http.StatusForbidden {
		t.Errorf("marketer listed a member's coupons: %d", r.Status)
	}
	// A coupon drop is not issued by after-sales events, and points campaigns issue no coupons.
	pts := createCampaign(t, env, marketer, map[string]any{"displayName": "Bonus", "type": "POINTS_BONUS", "bonusPoints": 5})
	refused(t, "coupon of a points campaign", env.REST("POST", "/v1/members/cat/coupons", app,
		map[string]any{"requestId": "iss-pts", "campaignId": pts["campaignId"]}), http.StatusBadRequest, "NOT_A_COUPON_DROP")
}

func TestAfterSalesCompensationOverREST(t *testing.T) {
	env := apitest.Start(t)
	marketer := env.Key(access.RoleMarketer)
	app := env.Key(access.RoleApp)
	agent := env.Key(access.RoleAgent)
	enroll(t, env, app, "dan")
	enroll(t, env, app, "eve")

	c := createCampaign(t, env, marketer, map[string]any{"displayName": "Late delivery apology", "type": "COMPENSATION",
		"compensation": map[string]any{"eventTypes": []string{"LATE_DELIVERY"}, "minDelayHours": 48, "points": 100},
		"coupon":       map[string]any{"kind": "FREE_SHIPPING", "validDays": 60}})
	id := c["campaignId"].(string)
	report := func(key, requestID, member, order string, delay int) apitest.Response {
		return env.REST("POST", "/v1/afterSalesEvents", key, map[string]any{"requestId": requestID, "memberId": member, "orderId": order,
			"type": "LATE_DELIVERY", "delayHours": delay, "note": "courier lost it"})
	}
	// Not active yet: nothing matches, nothing is recorded.
	if r := must200(t, "event before activation", report(agent, "ev-0", "dan", "o-1", 72)).Body; r["reason"] != "NO_MATCHING_CAMPAIGN" ||
		len(list(t, r["grants"])) != 0 {
		t.Errorf("event before activation: %v", r)
	}
	campaignDo(t, env, marketer, id, "activate")

	first := must200(t, "late delivery", report(agent, "ev-1", "dan", "o-1", 72)).Body
	grants := list(t, first["grants"])
	if len(grants) != 1 || first["replayed"] != false || first["memberId"] != "dan" || first["orderId"] != "o-1" ||
		first["type"] != "LATE_DELIVERY" || first["requestId"] != "ev-1" || first["reason"] != "" || first["time"] == nil {
		t.Fatalf("compensation: %v", first)
	}
	g := grants[0]
	couponCode, _ := g["couponCode"].(string)
	if g["campaignId"] != id || num(t, g["points"]) != 100 || g["entryId"] == "" || couponCode == "" || g["tierPercent"] != float64(100) {
		t.Errorf("grant: %v", g)
	}
	if b := balanceOf(t, env, app, "dan"); b.available != 100 {
		t.Errorf("balance after compensation %+v, want 100 available", b)
	}
	// The same order and type again, under a new requestId (and from the app):
	// the same grants, replayed, and nothing more.
	again := must200(t, "same event again", report(app, "ev-2", "dan", "o-1", 96)).Body
	if again["replayed"] != true || len(list(t, again["grants"])) != 1 {
		t.Errorf("repeated event: %v", again)
	} else if g2 := list(t, again["grants"])[0]; g2["entryId"] != g["entryId"] || g2["couponCode"] != couponCode || num(t, g2["points"]) != 100 {
		t.Errorf("repeated event granted %v, first %v", g2, g)
	}
	if b := balanceOf(t, env, app, "dan"); b.available != 100 {
		t.Errorf("balance after the repeated event %+v, want still 100", b)
	}
	if r := report(marketer, "ev-3", "dan", "o-2", 72); r.Status != http.StatusForbidden {
		t.Errorf("marketer reported an after-sales event: %d", r.Status)
	}

	// The compensation coupon names its event; the points are a CAMPAIGN entry
	// from the campaign's account.
	cp := must200(t, "compensation coupon", env.REST("GET", "/v1/coupons/"+couponCode, agent, nil)).Body
	if cp["kind"] != "FREE_SHIPPING" || cp["memberId"] != "dan" || cp["eventOrderId"] != "o-1" || cp["eventType"] != "LATE_DELIVERY" ||
		cp["status"] != "ISSUED" || ts(t, cp["validUntil"]).Sub(ts(t, cp["issueTime"])) != 60*24*time.Hour {
		t.Errorf("compensation coupon: %v", cp)
	}
	entries := activity(t, env, app, "dan")
	if len(entries) != 1 || entries[0]["kind"] != "CAMPAIGN" || num(t, entries[0]["points"]) != 100 || entries[0]["entryId"] != g["entryId"] ||
		posting(t, entries[0], "system:campaign:"+id) != -100 {
		t.Errorf("dan's activity: %v", entries)
	}
	checkPostings(t, entries[0])

	// Too short a delay, or a type the campaign does not cover: nothing.
	if r := must200(t, "short delay", report(agent, "ev-4", "eve", "o-7", 24)).Body; r["reason"] != "NO_MATCHING_CAMPAIGN" || len(list(t, r["grants"])) != 0 {
		t.Errorf("24 hours late: %v", r)
	}
	// Not recorded, so the same delay reported again at 72 hours is compensated.
	if r := must200(t, "longer delay", report(agent, "ev-5", "eve", "o-7", 72)).Body; len(list(t, r["grants"])) != 1 || r["replayed"] != false {
		t.Errorf("72 hours late after 24: %v", r)
	}
	if r := env.REST("POST", "/v1/afterSalesEvents", agent, map[string]any{"requestId": "ev-6", "memberId": "eve", "orderId": "o-8",
		"type": "LOST_IN_SPACE"}); r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), "type") {
		t.Errorf("unknown event type: %d %s", r.Status, r.Raw)
	}
	refused(t, "requestId reused for another event", report(agent, "ev-1", "dan", "o-9", 72), http.StatusConflict, "IDEMPOTENCY_CONFLICT")
	refused(t, "unknown member", report(agent, "ev-7", "nobody", "o-1", 72), http.StatusNotFound, "MEMBER_NOT_FOUND")

	// A dry run of the event answers the grant without making it.
	sim := must200(t, "simulate event", env.REST("POST", "/v1/campaigns/"+id+":simulate", marketer, map[string]any{
		"memberId": "dan", "eventType": "LATE_DELIVERY", "delayHours": 50})).Body
	if num(t, sim["points"]) != 100 || sim["coupons"] != float64(1) || sim["reason"] != "" {
		t.Errorf("simulated compensation: %v", sim)
	}
	if sim := must200(t, "simulate short", env.REST("POST", "/v1/campaigns/"+id+":simulate", marketer, map[string]any{
		"memberId": "dan", "eventType": "LATE_DELIVERY", "delayHours": 10})).Body; sim["reason"] != "EVENT_NOT_COVERED" || num(t, sim["points"]) != 0 {
		t.Errorf("simulated short delay: %v", sim)
	}
	if got := getCampaign(t, env, marketer, id); num(t, obj(t, got["spent"])["points"]) != 200 || num(t, obj(t, got["spent"])["coupons"]) != 2 ||
		num(t, got["grants"]) != 2 {
		t.Errorf("campaign after two compensations: %v", got)
	}
	verifyOK(t, env)
}

// PUT /v1/couponAllowance takes an active campaign with a coupon; anything else is
// a 400 naming campaignId that changes nothing, and only marketers (and admin) set it.
func TestCouponAllowanceOverREST(t *testing.T) {
	env := apitest.Start(t)
	marketer := env.Key(access.RoleMarketer)
	bonus := createCampaign(t, env, marketer, map[string]any{"displayName": "Bonus", "type": "POINTS_BONUS", "bonusPoints": 10})["campaignId"].(string)
	campaignDo(t, env, marketer, bonus, "activate")
	drop := createCampaign(t, env, marketer, couponDropBody)["campaignId"].(string)
	for _, tc := range []struct{ name, id string }{
		{"unknown campaign", "cmp_nope"}, {"campaign without a coupon", bonus}, {"draft campaign", drop},
		{"id too long", strings.Repeat("c", 65)},
	} {
		r := env.REST("PUT", "/v1/couponAllowance", marketer, map[string]any{"campaignId": tc.id})
		if r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), "campaignId") {
			t.Errorf("%s: %d %s, want 400 naming campaignId", tc.name, r.Status, r.Raw)
		}
	}
	if got := must200(t, "get unset", env.REST("GET", "/v1/couponAllowance", marketer, nil)).Body; got["campaignId"] != nil && got["campaignId"] != "" {
		t.Fatalf("after refusals: %v, want nothing configured", got)
	}
	campaignDo(t, env, marketer, drop, "activate")
	if r := env.REST("PUT", "/v1/couponAllowance", env.Key(access.RoleApp), map[string]any{"campaignId": drop}); r.Status != http.StatusForbidden {
		t.Errorf("an app set the allowance: %d", r.Status)
	}
	set := must200(t, "set", env.REST("PUT", "/v1/couponAllowance", marketer, map[string]any{"campaignId": drop})).Body
	if set["campaignId"] != drop || set["updateTime"] == nil {
		t.Fatalf("set answered %v", set)
	}
	got := must200(t, "get", env.REST("GET", "/v1/couponAllowance", env.Key(access.RoleAuditor), nil)).Body
	if got["campaignId"] != drop {
		t.Fatalf("get answered %v, want %s", got, drop)
	}
	must200(t, "turn off", env.REST("PUT", "/v1/couponAllowance", marketer, map[string]any{}))
	if got := must200(t, "get off", env.REST("GET", "/v1/couponAllowance", marketer, nil)).Body; got["campaignId"] != nil && got["campaignId"] != "" {
		t.Fatalf("after turning off: %v", got)
	}
}
