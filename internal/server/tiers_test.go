package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// tierByID finds a tier in a policy answered over REST.
func tierByID(t testing.TB, policy map[string]any, id string) map[string]any {
	t.Helper()
	for _, tier := range list(t, policy["tiers"]) {
		if tier["id"] == id {
			return tier
		}
	}
	t.Fatalf("policy has no tier %q: %v", id, policy["tiers"])
	return nil
}

// thresholds lists a policy's tier ids and thresholds in order: "member:0 silver:1000 ...".
func thresholds(t testing.TB, policy map[string]any) string {
	t.Helper()
	var out []string
	for _, tier := range list(t, policy["tiers"]) {
		out = append(out, fmt.Sprintf("%v:%d", tier["id"], num(t, tier["threshold"])))
	}
	return fmt.Sprint(out)
}

// editablePolicy is the policy as GET answers it, ready to PUT back after edits.
func editablePolicy(t testing.TB, env *apitest.Env) map[string]any {
	t.Helper()
	p := must200(t, "get tier policy", env.REST("GET", "/v1/tierPolicy", apitest.AdminKey, nil)).Body
	delete(p, "version")
	delete(p, "updateTime")
	return p
}

// buyMembership buys a paid tier for the member for a year and returns the membership.
func buyMembership(t testing.TB, env *apitest.Env, key, memberID, requestID, tierID string) map[string]any {
	t.Helper()
	end := time.Now().Add(365 * 24 * time.Hour).UTC().Format(time.RFC3339)
	return must200(t, "buy "+tierID, env.REST("POST", "/v1/members/"+memberID+"/memberships", key,
		map[string]any{"requestId": requestID, "tierId": tierID, "endTime": end})).Body
}

func TestTierPolicyDefaultUpdateAndValidation(t *testing.T) {
	env := apitest.Start(t)
	marketer := env.Key(access.RoleMarketer)

	// A fresh install answers the default policy, as version 0.
	got := must200(t, "default policy", env.REST("GET", "/v1/tierPolicy", marketer, nil)).Body
	if s := thresholds(t, got); s != "[member:0 silver:1000 gold:5000 platinum:20000]" {
		t.Errorf("default tiers %s", s)
	}
	if num(t, got["version"]) != 0 || got["metric"] != "QUALIFYING_POINTS" || got["windowDays"] != float64(365) {
		t.Errorf("default policy: %v", got)
	}
	gold, platinum := tierByID(t, got, "gold"), tierByID(t, got, "platinum")
	if p := obj(t, gold["perks"]); p["freeReturnPickups"] != float64(2) || p["earnMultiplierPercent"] != float64(150) || p["refundMode"] != "FAST" {
		t.Errorf("gold perks %v", p)
	}
	if p := obj(t, platinum["perks"]); p["freeReturnPickups"] != float64(5) || p["supportPriority"] != "VIP" || p["refundMode"] != "INSTANT" {
		t.Errorf("platinum perks %v", p)
	}
	if fmt.Sprint(got["qualifyingSources"]) != "[BASE TIER]" || got["oneDown"] != true || got["graceDays"] != float64(30) {
		t.Errorf("default qualifying sources %v", got["qualifyingSources"])
	}

	// Thresholds that do not ascend: refused naming the field, nothing changes.
	bad := editablePolicy(t, env)
	for i, threshold := range []int64{20000, 5000, 1000, 0} { // descending
		list(t, bad["tiers"])[i]["threshold"] = threshold
	}
	r := env.REST("PUT", "/v1/tierPolicy", apitest.AdminKey, bad)
	for _, field := range []string{"tiers[0].threshold", "tiers[1].threshold"} {
		if r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), field) {
			t.Errorf("descending thresholds: %d %s, want 400 naming %s", r.Status, r.Raw, field)
		}
	}
	bad = editablePolicy(t, env)
	list(t, bad["tiers"])[1]["threshold"] = 6000 // silver above gold
	r = env.REST("PUT", "/v1/tierPolicy", apitest.AdminKey, bad)
	if r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), "tiers[2].threshold") {
		t.Errorf("silver above gold: %d %s, want 400 naming tiers[2].threshold", r.Status, r.Raw)
	}
	bad = editablePolicy(t, env)
	list(t, bad["tiers"])[1]["threshold"] = 0 // silver at the bottom tier's 0
	bad["graceDays"] = 400
	bad["qualifyingSources"] = []string{"BASE", "BASE"}
	r = env.REST("PUT", "/v1/tierPolicy", apitest.AdminKey, bad)
	for _, field := range []string{"tiers[1].threshold", "graceDays", "qualifyingSources[1]"} {
		if r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), field) {
			t.Errorf("bad policy: %d %s, want 400 naming %s", r.Status, r.Raw, field)
		}
	}
	bad = editablePolicy(t, env)
	obj(t, list(t, bad["tiers"])[3]["perks"])["refundMode"] = "SLOW"
	if r := env.REST("PUT", "/v1/tierPolicy", apitest.AdminKey, bad); r.Status != http.StatusBadRequest ||
		!slices.Contains(r.FieldViolations(), "tiers[3].perks.refundMode") {
		t.Errorf("unknown refund mode: %d %s, want 400 naming tiers[3].perks.refundMode", r.Status, r.Raw)
	}
	if r := env.REST("PUT", "/v1/tierPolicy", apitest.AdminKey, map[string]any{"metric": "QUALIFYING_POINTS", "bogus": 1}); r.Status != http.StatusBadRequest {
		t.Errorf("unknown field: %d %s, want 400", r.Status, r.Raw)
	}
	after := must200(t, "policy after refusals", env.REST("GET", "/v1/tierPolicy", marketer, nil)).Body
	if thresholds(t, after) != thresholds(t, got) || num(t, after["version"]) != 0 {
		t.Errorf("refused updates changed the policy: %s", after)
	}

	// A marketer reads the policy but may not change it.
	changed := editablePolicy(t, env)
	list(t, changed["tiers"])[1]["threshold"] = 800
	obj(t, list(t, changed["tiers"])[2]["perks"])["freeReturnPickups"] = 3
	if r := env.REST("PUT", "/v1/tierPolicy", marketer, changed); r.Status != http.StatusForbidden {
		t.Errorf("marketer updated the tier policy: %d %s", r.Status, r.Raw)
	}
	put := must200(t, "update tier policy", env.REST("PUT", "/v1/tierPolicy", apitest.AdminKey, changed)).Body
	if num(t, put["version"]) <= 0 || put["updateTime"] == nil || thresholds(t, put) != "[member:0 silver:800 gold:5000 platinum:20000]" {
		t.Errorf("update answered %v", put)
	}
	now := must200(t, "policy after update", env.REST("GET", "/v1/tierPolicy", marketer, nil)).Body
	if num(t, now["version"]) != num(t, put["version"]) || thresholds(t, now) != "[member:0 silver:800 gold:5000 platinum:20000]" ||
		obj(t, tierByID(t, now, "gold")["perks"])["freeReturnPickups"] != float64(3) {
		t.Errorf("policy after update: %s", now)
	}
	// A second update is a newer version again.
	list(t, changed["tiers"])[1]["threshold"] = 900
	again := must200(t, "second update", env.REST("PUT", "/v1/tierPolicy", apitest.AdminKey, changed)).Body
	if num(t, again["version"]) <= num(t, put["version"]) {
		t.Errorf("second update version %v after %v", again["version"], put["version"])
	}
}

func TestMembershipsOverREST(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	agent := env.Key(access.RoleAgent)
	enroll(t, env, app, "mia")
	path := "/v1/members/mia/memberships"

	before := must200(t, "perks before", env.REST("GET", "/v1/members/mia/perks", agent, nil)).Body
	if obj(t, before["tier"])["id"] != "member" || before["source"] != "QUALIFIED" || before["membership"] != nil {
		t.Errorf("perks of a new member: %s", before)
	}

	end := time.Now().Add(180 * 24 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	body := map[string]any{"requestId": "buy-1", "tierId": "platinum", "endTime": end, "orderId": "vip-order-1"}
	m := must200(t, "buy platinum", env.REST("POST", path, app, body)).Body
	id, _ := m["membershipId"].(string)
	if id == "" || m["memberId"] != "mia" || m["tierId"] != "platinum" || m["active"] != true || m["endTime"] != end ||
		m["orderId"] != "vip-order-1" || m["cancelTime"] != nil || m["startTime"] == nil {
		t.Fatalf("membership %s", m)
	}

	perks := must200(t, "perks with platinum", env.REST("GET", "/v1/members/mia/perks", app, nil)).Body
	if obj(t, perks["tier"])["id"] != "platinum" || perks["source"] != "PAID" || obj(t, perks["perks"])["freeReturnPickups"] != float64(5) ||
		obj(t, perks["perks"])["refundMode"] != "INSTANT" || obj(t, perks["membership"])["membershipId"] != id {
		t.Errorf("perks with a platinum membership: %s", perks)
	}
	if pr := obj(t, perks["progress"]); pr["qualifiedTierId"] != "member" || pr["nextTierId"] != "silver" || num(t, pr["neededForNext"]) != 1000 {
		t.Errorf("progress of a paid platinum: %v", pr)
	}

	// The same requestId again: the same membership; with another body: conflict.
	if again := must200(t, "repeat", env.REST("POST", path, app, body)).Body; again["membershipId"] != id {
		t.Errorf("repeated purchase answered membership %v, want %s", again["membershipId"], id)
	}
	if again := must200(t, "repeat with header", env.REST("POST", path, app, map[string]any{"tierId": "platinum", "endTime": end,
		"orderId": "vip-order-1"}, "Idempotency-Key", "buy-1")).Body; again["membershipId"] != id {
		t.Errorf("repeat through Idempotency-Key answered membership %v, want %s", again["membershipId"], id)
	}
	refused(t, "same requestId, other tier", env.REST("POST", path, app,
		map[string]any{"requestId": "buy-1", "tierId": "gold", "endTime": end, "orderId": "vip-order-1"}), http.StatusConflict, "IDEMPOTENCY_CONFLICT")

	for field, b := range map[string]map[string]any{
		"endTime":   {"requestId": "buy-2", "tierId": "gold"},
		"tierId":    {"requestId": "buy-3", "tierId": "diamond", "endTime": end},
		"requestId": {"tierId": "gold", "endTime": end},
	} {
		r := env.REST("POST", path, app, b)
		if r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), field) {
			t.Errorf("%v: %d %s, want 400 naming %s", b, r.Status, r.Raw, field)
		}
	}
	refused(t, "membership of an unknown member", env.REST("POST", "/v1/members/nobody/memberships", app,
		map[string]any{"requestId": "buy-4", "tierId": "gold", "endTime": end}), http.StatusNotFound, "MEMBER_NOT_FOUND")
	if r := env.REST("POST", path, agent, map[string]any{"requestId": "buy-5", "tierId": "gold", "endTime": end}); r.Status != http.StatusForbidden {
		t.Errorf("agent bought a membership: %d %s", r.Status, r.Raw)
	}

	listed := list(t, must200(t, "list memberships", env.REST("GET", path, agent, nil)).Body["memberships"])
	if len(listed) != 1 || listed[0]["membershipId"] != id || listed[0]["active"] != true {
		t.Errorf("memberships %v, want the one platinum", listed)
	}

	// Cancel: the member is back to the qualified tier.
	refused(t, "cancel an unknown membership", env.REST("POST", path+"/999999:cancel", app, nil), http.StatusNotFound, "MEMBERSHIP_NOT_FOUND")
	if r := env.REST("POST", path+"/abc:cancel", app, nil); r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), "membershipId") {
		t.Errorf("cancel of a malformed id: %d %s, want 400 naming membershipId", r.Status, r.Raw)
	}
	cancelled := must200(t, "cancel", env.REST("POST", path+"/"+id+":cancel", app, nil)).Body
	if cancelled["membershipId"] != id || cancelled["cancelTime"] == nil || cancelled["active"] != false {
		t.Errorf("cancelled membership %s", cancelled)
	}
	if again := must200(t, "cancel again", env.REST("POST", path+"/"+id+":cancel", app, map[string]any{})).Body; again["cancelTime"] != cancelled["cancelTime"] {
		t.Errorf("cancelling twice moved the cancel time: %v then %v", cancelled["cancelTime"], again["cancelTime"])
	}
	after := must200(t, "perks after cancel", env.REST("GET", "/v1/members/mia/perks", app, nil)).Body
	if obj(t, after["tier"])["id"] != "member" || after["source"] != "QUALIFIED" || after["membership"] != nil ||
		obj(t, after["perks"])["freeReturnPickups"] != float64(0) {
		t.Errorf("perks after cancelling: %s", after)
	}
	if l := list(t, must200(t, "list after cancel", env.REST("GET", path, app, nil)).Body["memberships"]); len(l) != 1 || l[0]["active"] != false {
		t.Errorf("memberships after cancel %v", l)
	}

	history := must200(t, "tier history", env.REST("GET", "/v1/members/mia/tierHistory", agent, nil)).Body
	changes := list(t, history["changes"])
	if len(changes) != 2 {
		t.Fatalf("tier history %s, want 2 changes", history["changes"])
	}
	if c := changes[0]; c["reason"] != "MEMBERSHIP_CANCELLED" || c["fromTierId"] != "platinum" || c["toTierId"] != "member" || c["membershipId"] != id {
		t.Errorf("newest change %v", c)
	}
	if c := changes[1]; c["reason"] != "MEMBERSHIP_PURCHASED" || c["fromTierId"] != "member" || c["toTierId"] != "platinum" || c["membershipId"] != id ||
		c["createTime"] == nil || c["changeId"] == "" {
		t.Errorf("oldest change %v", c)
	}
	// Pages of one.
	page := must200(t, "history page 1", env.REST("GET", "/v1/members/mia/tierHistory?pageSize=1", app, nil)).Body
	token, _ := page["nextPageToken"].(string)
	if l := list(t, page["changes"]); len(l) != 1 || l[0]["reason"] != "MEMBERSHIP_CANCELLED" || token == "" {
		t.Fatalf("first page %s", page)
	}
	page = must200(t, "history page 2", env.REST("GET", "/v1/members/mia/tierHistory?pageSize=1&pageToken="+token, app, nil)).Body
	if l := list(t, page["changes"]); len(l) != 1 || l[0]["reason"] != "MEMBERSHIP_PURCHASED" {
		t.Errorf("second page %s", page)
	}
	refused(t, "history of an unknown member", env.REST("GET", "/v1/members/nobody/tierHistory", app, nil), http.StatusNotFound, "MEMBER_NOT_FOUND")
	refused(t, "perks of an unknown member", env.REST("GET", "/v1/members/nobody/perks", app, nil), http.StatusNotFound, "MEMBER_NOT_FOUND")
}

func TestEntitlementsOverREST(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	agent := env.Key(access.RoleAgent)
	marketer := env.Key(access.RoleMarketer)
	enroll(t, env, app, "pia")
	enroll(t, env, app, "bottom")
	buyMembership(t, env, app, "pia", "pia-platinum", "platinum")
	base := "/v1/members/pia/entitlements/freeReturnPickups"

	check := must200(t, "check", env.REST("POST", base+":check", agent, nil)).Body
	if check["memberId"] != "pia" || check["perk"] != "freeReturnPickups" || check["tierId"] != "platinum" || check["quota"] != float64(5) ||
		check["used"] != float64(0) || check["remaining"] != float64(5) || check["allowed"] != true ||
		check["cycleStart"] == nil || check["cycleEnd"] == nil {
		t.Fatalf("check with platinum: %s", check)
	}

	var first map[string]any
	for i := range 5 {
		key := app
		if i%2 == 1 {
			key = agent
		}
		c := must200(t, "consume", env.REST("POST", base+":consume", key,
			map[string]any{"requestId": fmt.Sprintf("pickup-%d", i), "orderId": fmt.Sprintf("o-%d", i)})).Body
		e := obj(t, c["entitlement"])
		if e["remaining"] != float64(4-i) || e["used"] != float64(i+1) || e["quota"] != float64(5) ||
			c["requestId"] != fmt.Sprintf("pickup-%d", i) || c["orderId"] != fmt.Sprintf("o-%d", i) || c["useTime"] == nil {
			t.Errorf("consume %d: %s", i, c)
		}
		if i == 0 {
			first = c
		}
	}
	sixth := env.REST("POST", base+":consume", app, map[string]any{"requestId": "pickup-5"})
	if sixth.Status != http.StatusBadRequest && sixth.Status != http.StatusPreconditionFailed || sixth.Reason() != "QUOTA_EXHAUSTED" {
		t.Errorf("sixth pickup: %d %s, want QUOTA_EXHAUSTED", sixth.Status, sixth.Raw)
	}
	// A replay answers the first use as it was, and does not count again.
	replay := must200(t, "replay", env.REST("POST", base+":consume", app, map[string]any{"requestId": "pickup-0", "orderId": "o-0"})).Body
	if e := obj(t, replay["entitlement"]); e["remaining"] != float64(4) || e["used"] != float64(1) || replay["useTime"] != first["useTime"] {
		t.Errorf("replay of the first use: %s, want %v", replay, first)
	}
	refused(t, "same requestId, other order", env.REST("POST", base+":consume", app,
		map[string]any{"requestId": "pickup-0", "orderId": "o-other"}), http.StatusConflict, "IDEMPOTENCY_CONFLICT")
	spent := must200(t, "check when spent", env.REST("POST", base+":check", app, map[string]any{})).Body
	if spent["used"] != float64(5) || spent["remaining"] != float64(0) || spent["allowed"] != false {
		t.Errorf("check after 5 pickups: %s", spent)
	}

	// The bottom tier has none of the perk.
	bottomCheck := must200(t, "check bottom", env.REST("POST", "/v1/members/bottom/entitlements/freeReturnPickups:check", app, nil)).Body
	if bottomCheck["quota"] != float64(0) || bottomCheck["allowed"] != false || bottomCheck["tierId"] != "member" {
		t.Errorf("check at the bottom tier: %s", bottomCheck)
	}
	r := env.REST("POST", "/v1/members/bottom/entitlements/freeReturnPickups:consume", app, map[string]any{"requestId": "b-1"})
	if r.Status != http.StatusBadRequest && r.Status != http.StatusPreconditionFailed || r.Reason() != "PERK_NOT_IN_TIER" {
		t.Errorf("consume at the bottom tier: %d %s, want PERK_NOT_IN_TIER", r.Status, r.Raw)
	}

	for verb, body := range map[string]any{":check": nil, ":consume": map[string]any{"requestId": "lunch"}} {
		r := env.REST("POST", "/v1/members/pia/entitlements/freeLunches"+verb, app, body)
		if r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), "perk") {
			t.Errorf("unknown perk %s: %d %s, want 400 naming perk", verb, r.Status, r.Raw)
		}
	}
	if r := env.REST("POST", base+":consume", app, map[string]any{}); r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), "requestId") {
		t.Errorf("consume without requestId: %d %s", r.Status, r.Raw)
	}
	refused(t, "check for an unknown member", env.REST("POST", "/v1/members/nobody/entitlements/freeReturnPickups:check", app, nil),
		http.StatusNotFound, "MEMBER_NOT_FOUND")
	if r := env.REST("POST", base+":check", marketer, nil); r.Status != http.StatusForbidden {
		t.Errorf("marketer checked an entitlement: %d", r.Status)
	}
}

// A gold member earning from spend gets the tier multiplier as its own breakdown
// line, and the order records the tier and perks it was earned at.
func TestGoldMemberEarnsTheTierMultiplier(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "gil")
	buyMembership(t, env, app, "gil", "gil-gold", "gold")

	r := must200(t, "earn as gold", env.REST("POST", "/v1/members/gil:earn", app, map[string]any{
		"requestId": "gil-o1", "orderId": "gil-order-1", "spend": map[string]any{"amountMinor": 10000, "currency": "CNY"}})).Body
	lines := map[string]int64{}
	for _, l := range list(t, r["breakdown"]) {
		lines[l["source"].(string)] += num(t, l["points"])
	}
	if lines["BASE"] != 100 || lines["TIER"] != 50 || num(t, r["points"]) != 150 {
		t.Errorf("gold earning of 100 base points: breakdown %v, points %v; want BASE 100, TIER 50, 150 in all", r["breakdown"], r["points"])
	}

	o := obj(t, must200(t, "order", env.REST("GET", "/v1/members/gil/orders/gil-order-1", app, nil)).Body["order"])
	if o["tierId"] != "gold" || o["perks"] == nil || obj(t, o["perks"])["refundMode"] != "FAST" || obj(t, o["perks"])["freeReturnPickups"] != float64(2) {
		t.Errorf("order's tier and perks at order time: %v", o)
	}
}
