package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// orderIDs are the ids of a page of orders, in its order.
func orderIDs(t testing.TB, page map[string]any) []string {
	t.Helper()
	var ids []string
	for _, o := range list(t, page["orders"]) {
		ids = append(ids, o["orderId"].(string))
	}
	return ids
}

// A member's orders come newest first, with their status, what they earned, what
// is still pending and what refunds took; GetOrder answers each the same; pages
// neither skip nor repeat; the time range and bad input are checked.
func TestListOrdersNewestFirstWithStatusAndPending(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	auditor := env.Key(access.RoleAuditor)
	enroll(t, env, app, "ola")
	enroll(t, env, app, "empty")

	earnOnOrder(t, env, app, "ola", "e-1", "O-1", 10000) // 100 pending
	earnOnOrder(t, env, app, "ola", "e-2", "O-2", 20000) // 200 pending
	earnOnOrder(t, env, app, "ola", "e-3", "O-3", 30000) // 300 pending
	// An order only redeemed on is listed once refunded, by its refund.
	earn(t, env, app, "ola", "e-free", 500)
	must200(t, "redeem on O-4", env.REST("POST", "/v1/members/ola:redeem", app, map[string]any{"requestId": "r-4", "points": 50, "orderId": "O-4"}))
	refundOrder(t, env, app, "ola", "O-2", "rf-2", 5000)
	refundOrder(t, env, app, "ola", "O-3", "rf-3", 0)
	refundOrder(t, env, app, "ola", "O-4", "rf-4", 0)

	all := must200(t, "list orders", env.REST("GET", "/v1/members/ola/orders", auditor, nil)).Body
	if got := orderIDs(t, all); !slices.Equal(got, []string{"O-4", "O-3", "O-2", "O-1"}) || all["nextPageToken"] != "" {
		t.Fatalf("orders %v (next %q), want O-4..O-1 on one page", got, all["nextPageToken"])
	}
	want := map[string]struct {
		status                   string
		earned, pending, takenBk int64
	}{
		"O-1": {"NOT_REFUNDED", 100, 100, 0},
		"O-2": {"PARTLY_REFUNDED", 200, 150, 50},
		"O-3": {"REFUNDED", 300, 0, 300},
		"O-4": {"REFUNDED", 0, 0, 0},
	}
	for _, o := range list(t, all["orders"]) {
		id := o["orderId"].(string)
		w := want[id]
		if o["status"] != w.status || num(t, o["earnedPoints"]) != w.earned || num(t, o["pointsPending"]) != w.pending ||
			num(t, o["pointsTakenBack"]) != w.takenBk || o["createTime"] == nil || o["memberId"] != "ola" {
			t.Errorf("order %s: %v, want %+v", id, o, w)
		}
		one := obj(t, must200(t, "get "+id, env.REST("GET", "/v1/members/ola/orders/"+id, auditor, nil)).Body["order"])
		if fmt.Sprint(one) != fmt.Sprint(o) {
			t.Errorf("GetOrder %s answers %v, the list %v", id, one, o)
		}
	}
	if o4 := list(t, all["orders"])[0]; o4["earnEntryId"] != "" && o4["earnEntryId"] != nil || num(t, o4["pointsReturned"]) != 50 {
		t.Errorf("the order only redeemed on: %v, want no earning and 50 points returned", o4)
	}

	// Pages of one: every order once, in the same order.
	var paged []string
	token := ""
	for range 10 {
		page := must200(t, "page", env.REST("GET", "/v1/members/ola/orders?pageSize=1&pageToken="+url.QueryEscape(token), app, nil)).Body
		paged = append(paged, orderIDs(t, page)...)
		if token, _ = page["nextPageToken"].(string); token == "" {
			break
		}
	}
	if !slices.Equal(paged, orderIDs(t, all)) {
		t.Errorf("paged orders %v, want %v", paged, orderIDs(t, all))
	}

	// The time range: everything is before tomorrow, nothing after it.
	tomorrow := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	if got := orderIDs(t, must200(t, "before tomorrow", env.REST("GET", "/v1/members/ola/orders?endTime="+tomorrow, app, nil)).Body); len(got) != 4 {
		t.Errorf("orders before tomorrow: %v, want all 4", got)
	}
	if got := orderIDs(t, must200(t, "after tomorrow", env.REST("GET", "/v1/members/ola/orders?startTime="+tomorrow, app, nil)).Body); len(got) != 0 {
		t.Errorf("orders from tomorrow: %v, want none", got)
	}

	if got := must200(t, "no orders", env.REST("GET", "/v1/members/empty/orders", app, nil)).Body; len(list(t, got["orders"])) != 0 {
		t.Errorf("a member without orders: %v, want an empty list", got)
	}
	refused(t, "orders of an unknown member", env.REST("GET", "/v1/members/nobody/orders", app, nil), http.StatusNotFound, "MEMBER_NOT_FOUND")
	if r := env.REST("GET", "/v1/members/ola/orders?pageSize=201", app, nil); r.Status != http.StatusBadRequest || !slices.Equal(r.FieldViolations(), []string{"pageSize"}) {
		t.Errorf("pageSize 201: %d %s, want 400 on pageSize", r.Status, r.Raw)
	}
	if r := env.REST("GET", "/v1/members/ola/orders?startTime="+tomorrow+"&endTime="+tomorrow, app, nil); r.Status != http.StatusBadRequest ||
		!slices.Equal(r.FieldViolations(), []string{"endTime"}) {
		t.Errorf("an empty range: %d %s, want 400 on endTime", r.Status, r.Raw)
	}
	first := must200(t, "first page", env.REST("GET", "/v1/members/ola/orders?pageSize=1", app, nil)).Body
	refused(t, "a token with another range", env.REST("GET", "/v1/members/ola/orders?pageSize=1&endTime="+tomorrow+"&pageToken="+
		url.QueryEscape(first["nextPageToken"].(string)), app, nil), http.StatusBadRequest, "INVALID_PAGE_TOKEN")
	refused(t, "another member's token", env.REST("GET", "/v1/members/empty/orders?pageToken="+
		url.QueryEscape(first["nextPageToken"].(string)), app, nil), http.StatusBadRequest, "INVALID_PAGE_TOKEN")
	if r := env.REST("GET", "/v1/members/ola/orders", env.Key(access.RoleMarketer), nil); r.Status != http.StatusForbidden {
		t.Errorf("a marketer's list: %d, want 403", r.Status)
	}
}

// Orders earned while someone pages through the list never make a page skip or
// repeat one of the orders that were there before; the books stay right.
func TestListOrdersPagesHoldUnderConcurrentEarnings(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "pam")
	var before []string
	for i := range 12 {
		id := fmt.Sprintf("B-%02d", i)
		earnOnOrder(t, env, app, "pam", "eb-"+id, id, 1000+int64(i))
		before = append([]string{id}, before...) // newest first
	}

	var wg sync.WaitGroup
	wg.Add(2)
	for w := range 2 {
		go func() {
			defer wg.Done()
			for i := range 6 {
				id := fmt.Sprintf("N-%d-%d", w, i)
				r := env.REST("POST", "/v1/members/pam:earn", app, map[string]any{"requestId": "en-" + id, "orderId": id,
					"spend": map[string]any{"amountMinor": 1000, "currency": "CNY"}})
				if r.Status != http.StatusOK {
					t.Errorf("earn %s: %d %s", id, r.Status, r.Raw)
				}
			}
		}()
	}
	var seen []string
	token := ""
	for range 50 {
		page := must200(t, "page", env.REST("GET", "/v1/members/pam/orders?pageSize=3&pageToken="+url.QueryEscape(token), app, nil)).Body
		seen = append(seen, orderIDs(t, page)...)
		if token, _ = page["nextPageToken"].(string); token == "" {
			break
		}
	}
	wg.Wait()

	var old []string
	for _, id := range seen {
		if id[0] == 'B' {
			old = append(old, id)
		}
	}
	if !slices.Equal(old, before) {
		t.Errorf("the orders from before, as paged: %v, want %v once each", old, before)
	}
	all := must200(t, "all", env.REST("GET", "/v1/members/pam/orders?pageSize=200", app, nil)).Body
	if n := len(list(t, all["orders"])); n != 24 {
		t.Errorf("%d orders after the earnings, want 24", n)
	}
	var pending int64
	for _, o := range list(t, all["orders"]) {
		pending += num(t, o["pointsPending"])
	}
	if b := balanceOf(t, env, app, "pam"); b.pending != pending {
		t.Errorf("the orders' pending points add up to %d, the balance has %d", pending, b.pending)
	}
	verifyOK(t, env)
}

// The list of entitlements is every quota perk the effective tier gives, each as
// CheckEntitlement answers it; a tier without quota perks lists none.
func TestListEntitlements(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	agent := env.Key(access.RoleAgent)
	enroll(t, env, app, "pia")
	enroll(t, env, app, "bottom")
	buyMembership(t, env, app, "pia", "pia-platinum", "platinum")
	must200(t, "consume", env.REST("POST", "/v1/members/pia/entitlements/freeReturnPickups:consume", app, map[string]any{"requestId": "p-1"}))

	got := list(t, must200(t, "list", env.REST("GET", "/v1/members/pia/entitlements", agent, nil)).Body["entitlements"])
	if len(got) != 2 || got[0]["perk"] != "freeReturnPickups" || got[1]["perk"] != "monthlyCouponAllowance" {
		t.Fatalf("platinum's entitlements: %v, want freeReturnPickups and monthlyCouponAllowance", got)
	}
	for _, e := range got {
		check := must200(t, "check", env.REST("POST", "/v1/members/pia/entitlements/"+e["perk"].(string)+":check", agent, nil)).Body
		if fmt.Sprint(check) != fmt.Sprint(e) {
			t.Errorf("listed %v, checked %v", e, check)
		}
	}
	if p := got[0]; p["tierId"] != "platinum" || p["quota"] != float64(5) || p["used"] != float64(1) || p["remaining"] != float64(4) ||
		p["allowed"] != true || p["cycleStart"] == nil || p["cycleEnd"] == nil {
		t.Errorf("free pickups: %v, want 1 of 5 used", p)
	}
	if c := got[1]; c["quota"] != float64(4) || c["used"] != float64(0) || c["remaining"] != float64(4) {
		t.Errorf("coupon allowance: %v, want 4 left of 4", c)
	}

	if b := must200(t, "bottom", env.REST("GET", "/v1/members/bottom/entitlements", app, nil)).Body; len(list(t, b["entitlements"])) != 0 {
		t.Errorf("the bottom tier's entitlements: %v, want none", b)
	}
	refused(t, "an unknown member", env.REST("GET", "/v1/members/nobody/entitlements", app, nil), http.StatusNotFound, "MEMBER_NOT_FOUND")
	if r := env.REST("GET", "/v1/members/pia/entitlements", env.Key(access.RoleMarketer), nil); r.Status != http.StatusForbidden {
		t.Errorf("a marketer's list: %d, want 403", r.Status)
	}
}

// An admin reads a key's goodwill limits: the defaults until set, then what was
// set; an unknown key is not found; nobody else may read them.
func TestGetGoodwillLimits(t *testing.T) {
	env := apitest.Start(t)
	agent := env.Key(access.RoleAgent)
	agentID := keyIDOf(t, env, agent)
	path := "/v1/apiKeys/" + agentID + "/goodwillLimits"

	def := obj(t, must200(t, "defaults", env.REST("GET", path, apitest.AdminKey, nil)).Body["limits"])
	if def["keyId"] != agentID || num(t, def["perGrant"]) != 500 || num(t, def["perDay"]) != 2000 || def["defaultLimits"] != true {
		t.Errorf("limits never set: %v, want the defaults 500/2000", def)
	}
	set := obj(t, must200(t, "set", env.REST("PUT", path, apitest.AdminKey, map[string]any{"perGrant": 100, "perDay": 150})).Body["limits"])
	got := obj(t, must200(t, "get", env.REST("GET", path, apitest.AdminKey, nil)).Body["limits"])
	if num(t, got["perGrant"]) != 100 || num(t, got["perDay"]) != 150 || got["defaultLimits"] == true || fmt.Sprint(got) != fmt.Sprint(set) {
		t.Errorf("limits after setting 100/150: %v (set answered %v)", got, set)
	}
	// The allowance the agent sees is the same limits.
	self := obj(t, must200(t, "self", env.REST("GET", "/v1/apiKeys/self", agent, nil)).Body["goodwill"])
	if num(t, self["perGrant"]) != 100 || num(t, self["perDay"]) != 150 {
		t.Errorf("the agent's own allowance: %v, want 100/150", self)
	}
	refused(t, "an unknown key", env.REST("GET", "/v1/apiKeys/key_nope/goodwillLimits", apitest.AdminKey, nil), http.StatusNotFound, "API_KEY_NOT_FOUND")
	for _, role := range []access.Role{access.RoleAgent, access.RoleAuditor, access.RoleApp} {
		key := agent
		if role != access.RoleAgent {
			key = env.Key(role)
		}
		if r := env.REST("GET", path, key, nil); r.Status != http.StatusForbidden {
			t.Errorf("%s reads limits: %d, want 403", role, r.Status)
		}
	}
}

// An agent lists its own approvals, waiting and decided, and never another key's,
// even with grants of two agents racing; its page tokens page only its own list.
func TestListOwnApprovalsShowsOnlyTheCallersOwn(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	amy, bob := env.Key(access.RoleAgent), env.Key(access.RoleAgent)
	amyID, bobID := keyIDOf(t, env, amy), keyIDOf(t, env, bob)
	enroll(t, env, app, "gus")

	empty := must200(t, "none yet", env.REST("GET", "/v1/apiKeys/self/approvals", amy, nil)).Body
	if len(list(t, empty["approvals"])) != 0 {
		t.Errorf("before any grant: %v, want none", empty)
	}

	// Grants above the per-grant limit (500) wait; both agents at once.
	const each = 6
	var wg sync.WaitGroup
	for _, a := range []struct{ name, key string }{{"amy", amy}, {"bob", bob}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := env.REST("POST", "/v1/members/gus:grantGoodwill", a.key, map[string]any{"requestId": fmt.Sprintf("%s-%d", a.name, i),
					"points": 600 + i, "reasonCode": "LATE_DELIVERY", "ticketId": "T-" + a.name})
				if r.Status != http.StatusOK || r.Body["approval"] == nil {
					t.Errorf("%s's grant %d: %d %s, want an approval", a.name, i, r.Status, r.Raw)
				}
			}
		}()
	}
	wg.Wait()

	own := func(key string, query string) []map[string]any {
		t.Helper()
		var out []map[string]any
		token := ""
		for range 20 {
			q := "?pageSize=4&pageToken=" + url.QueryEscape(token) + query
			page := must200(t, "own approvals", env.REST("GET", "/v1/apiKeys/self/approvals"+q, key, nil)).Body
			out = append(out, list(t, page["approvals"])...)
			if token, _ = page["nextPageToken"].(string); token == "" {
				break
			}
		}
		return out
	}
	for _, a := range []struct{ id, key string }{{amyID, amy}, {bobID, bob}} {
		got := own(a.key, "")
		if len(got) != each {
			t.Errorf("%s lists %d approvals, want its %d", a.id, len(got), each)
		}
		for i, ap := range got {
			if ap["requestedBy"] != a.id || ap["status"] != "PENDING" {
				t.Errorf("%s's list has %v", a.id, ap)
			}
			if i > 0 && num(t, ap["approvalId"]) >= num(t, got[i-1]["approvalId"]) {
				t.Errorf("%s's list is not newest first: %v", a.id, got)
			}
		}
	}

	// An admin decides two of amy's: her list shows them decided, the filter
	// finds them; bob's does not change.
	amys := own(amy, "")
	must200(t, "approve", env.REST("POST", "/v1/approvals/"+amys[0]["approvalId"].(string)+":approve", apitest.AdminKey, map[string]any{}))
	must200(t, "reject", env.REST("POST", "/v1/approvals/"+amys[1]["approvalId"].(string)+":reject", apitest.AdminKey, map[string]any{}))
	if got := own(amy, "&status=APPROVED"); len(got) != 1 || got[0]["approvalId"] != amys[0]["approvalId"] || got[0]["entryId"] == "" {
		t.Errorf("amy's approved: %v, want %v with its entry", got, amys[0]["approvalId"])
	}
	if got := own(amy, "&status=PENDING"); len(got) != each-2 {
		t.Errorf("amy's waiting: %d, want %d", len(got), each-2)
	}
	if got := own(bob, "&status=PENDING"); len(got) != each {
		t.Errorf("bob's waiting: %d, want %d", len(got), each)
	}

	// amy's page token is no good to bob, nor to everyone's list.
	first := must200(t, "amy's first page", env.REST("GET", "/v1/apiKeys/self/approvals?pageSize=1", amy, nil)).Body
	tok := url.QueryEscape(first["nextPageToken"].(string))
	refused(t, "amy's token used by bob", env.REST("GET", "/v1/apiKeys/self/approvals?pageSize=1&pageToken="+tok, bob, nil),
		http.StatusBadRequest, "INVALID_PAGE_TOKEN")
	refused(t, "amy's token on everyone's list", env.REST("GET", "/v1/approvals?pageSize=1&pageToken="+tok, apitest.AdminKey, nil),
		http.StatusBadRequest, "INVALID_PAGE_TOKEN")
	if r := env.REST("GET", "/v1/apiKeys/self/approvals?status=MAYBE", amy, nil); r.Status != http.StatusBadRequest ||
		!slices.Equal(r.FieldViolations(), []string{"status"}) {
		t.Errorf("status MAYBE: %d %s, want 400 on status", r.Status, r.Raw)
	}
	// The request has no key to name: asking for bob's is not a parameter.
	if r := env.REST("GET", "/v1/apiKeys/self/approvals?keyId="+bobID, amy, nil); r.Status != http.StatusBadRequest {
		t.Errorf("a keyId parameter: %d, want 400", r.Status)
	}
	for _, role := range []access.Role{access.RoleApp, access.RoleAuditor, access.RoleMarketer} {
		if r := env.REST("GET", "/v1/apiKeys/self/approvals", env.Key(role), nil); r.Status != http.StatusForbidden {
			t.Errorf("%s lists own approvals: %d, want 403", role, r.Status)
		}
	}
	verifyOK(t, env)
}
