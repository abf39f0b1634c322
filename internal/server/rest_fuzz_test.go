package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/api/openapi"
	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/internal/app"
)

// restWorld is the server FuzzREST sends its inputs to, with rows for them to name:
// members with points, a hold, an entry, an approval, campaigns, a coupon, a
// membership and keys of every role.
type restWorld struct {
	env *apitest.Env
	// keys by the fuzzed selector: admin, app, agent, marketer, auditor, then
	// none, an unknown key and a malformed header.
	keys []string
	// routes are the OpenAPI document's paths ("/v1/members/{memberId}:earn") and
	// the method of each.
	routes map[string]string
	// vars are the ids the world made ($hold, $campaign, ...): inputs name them.
	vars *strings.Replacer
	// policy is the tier policy as GET answers it, a body for PUT.
	policy string
	// calls counts inputs, to verify the books every verifyEvery of them.
	calls atomic.Int64
}

const verifyEvery = 16

// placeholderDefaults fill a path's {placeholders} the input leaves empty.
var placeholderDefaults = map[string]string{
	"memberId": "fz", "holdId": "$hold", "entryId": "$entry", "approvalId": "$approval", "campaignId": "$campaign",
	"code": "$coupon", "keyId": "$keyId", "orderId": "FZ-1", "perk": "freeReturnPickups", "membershipId": "$membership",
}

func newRESTWorld(f *testing.F) *restWorld {
	env := apitest.Start(f, func(o *app.Options) { o.TimeTravel = true })
	w := &restWorld{env: env, routes: openAPIRoutes(f)}
	admin := apitest.AdminKey
	app, agent, marketer := env.Key(access.RoleApp), env.Key(access.RoleAgent), env.Key(access.RoleMarketer)
	w.keys = []string{admin, app, agent, marketer, env.Key(access.RoleAuditor), "", "lk_not_a_key_0123456789", "\x00"}

	for _, m := range []string{"fz", "fy"} {
		enroll(f, env, admin, m)
		earn(f, env, admin, m, "seed-earn", 100000)
	}
	entry := earnOnOrder(f, env, admin, "fz", "seed-order", "FZ-1", 120000)
	h, _ := hold(f, env, admin, "fz", "seed-hold", 100)
	grant := must200(f, "goodwill", env.REST("POST", "/v1/members/fz:grantGoodwill", agent,
		map[string]any{"requestId": "seed-gw", "points": 900, "reasonCode": "LATE_DELIVERY", "ticketId": "ZD-1"})).Body
	approval := obj(f, grant["approval"])
	drop := createCampaign(f, env, marketer, couponDropBody)
	campaignDo(f, env, marketer, drop["campaignId"].(string), "activate")
	draft := createCampaign(f, env, marketer, double11Body)
	coupon := must200(f, "issue", env.REST("POST", "/v1/members/fz/coupons", app,
		map[string]any{"requestId": "seed-coupon", "campaignId": drop["campaignId"]})).Body
	membership := buyMembership(f, env, admin, "fy", "seed-vip", "gold")
	key := must200(f, "key", env.REST("POST", "/v1/apiKeys", admin, map[string]any{"name": "fuzz agent", "role": "agent"})).Body
	w.policy = string(must200(f, "policy", env.REST("GET", "/v1/tierPolicy", admin, nil)).Raw)
	w.vars = strings.NewReplacer(
		"$hold", h["holdId"].(string), "$entry", entry["entryId"].(string),
		"$approval", approval["approvalId"].(string), "$campaign", drop["campaignId"].(string),
		"$draft", draft["campaignId"].(string), "$coupon", coupon["code"].(string),
		"$membership", membership["membershipId"].(string), "$keyId", key["keyId"].(string),
	)
	f.Cleanup(func() { verifyOK(f, env) })
	return w
}

// openAPIRoutes are the REST routes of the OpenAPI document: path -> method.
func openAPIRoutes(t testing.TB) map[string]string {
	raw, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	routes := map[string]string{}
	for path, ops := range doc.Paths {
		for method := range ops {
			// A path with several methods: the fuzzed method picks the others.
			if m, ok := routes[path]; !ok || method < m {
				routes[path] = strings.ToUpper(method)
			}
		}
	}
	if len(routes) < 40 {
		t.Fatalf("the OpenAPI document has %d routes", len(routes))
	}
	return routes
}

// fill puts the ids into the route's placeholders in order ("a|b" for two); an
// empty id list takes the defaults.
func fill(route, ids string) string {
	var parts []string
	if ids != "" {
		parts = strings.Split(ids, "|")
	}
	var b strings.Builder
	for i := 0; ; i++ {
		open := strings.Index(route, "{")
		end := strings.Index(route, "}")
		if open < 0 || end < open {
			b.WriteString(route)
			return b.String()
		}
		b.WriteString(route[:open])
		if i < len(parts) {
			b.WriteString(parts[i])
		} else {
			b.WriteString(placeholderDefaults[route[open+1:end]])
		}
		route = route[end+1:]
	}
}

// escapeUnsendable percent-encodes what an HTTP client cannot put in a request
// line (controls, spaces, bytes outside ASCII), so that a NUL or invalid UTF-8 in
// an id reaches the server as %00 or %FF instead of being refused by the client.
func escapeUnsendable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// send makes the input a request: a route of the document with ids, or (route
// not in the document) a raw path; the method is the route's unless given.
func (w *restWorld) send(t *testing.T, method, route, ids, query string, body []byte, who uint8) (*http.Request, int, []byte) {
	path := route
	if m, ok := w.routes[route]; ok {
		path = fill(route, ids)
		if method == "" {
			method = m
		}
	}
	if method == "" {
		method = "GET"
	}
	path = escapeUnsendable(w.vars.Replace(path))
	path = "/" + strings.TrimLeft(path, "/") // no scheme-relative //host paths
	body = []byte(w.vars.Replace(string(body)))
	req, err := http.NewRequest(method, w.env.BaseURL, bytes.NewReader(body))
	if err != nil {
		return nil, 0, nil // a method no client can send
	}
	req.URL.Opaque = path
	req.URL.RawQuery = escapeUnsendable(w.vars.Replace(query))
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	switch key := w.keys[int(who)%len(w.keys)]; {
	case key == "\x00":
		req.Header.Set("Authorization", "Basic Zm9vOmJhcg==")
	case key != "":
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := w.env.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s?%s %q: no answer: %v", method, path, req.URL.RawQuery, body, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return req, resp.StatusCode, raw
}

// FuzzREST sends random requests (the document's routes with fuzzed ids, query
// and body, any key, and raw junk) to the whole server on a real database and
// checks what the issue promises: never a 5xx, a refused request changes nothing,
// and the books balance (GET /v1/ledger:verify, every verifyEvery inputs and at
// the end).
func FuzzREST(f *testing.F) {
	w := newRESTWorld(f)
	for _, s := range restSeeds(w) {
		f.Add(s.method, s.route, s.ids, s.query, []byte(s.body), s.who)
	}
	f.Fuzz(func(t *testing.T, method, route, ids, query string, body []byte, who uint8) {
		before := dbState(t, w.env)
		req, code, raw := w.send(t, method, route, ids, query, body, who)
		if req == nil {
			return
		}
		what := fmt.Sprintf("%s %s?%s (key %d) body %q", req.Method, req.URL.Opaque, req.URL.RawQuery, int(who)%len(w.keys), truncate(body))
		if code >= 500 || code < 200 {
			t.Fatalf("%s: %d %s", what, code, truncate(raw))
		}
		if code >= 400 {
			if after := dbState(t, w.env); after != before {
				t.Fatalf("%s was refused (%d %s) but changed the ledger:\n%s\nwas\n%s", what, code, truncate(raw), after, before)
			}
		}
		if w.calls.Add(1)%verifyEvery == 0 {
			// env.REST belongs to the F, which a fuzz target must not use.
			_, status, raw := w.send(t, "GET", "/v1/ledger:verify", "", "", nil, 0)
			var v struct{ OK bool }
			if err := json.Unmarshal(raw, &v); status != http.StatusOK || err != nil || !v.OK {
				t.Fatalf("after %s (%d): verify %d %s", what, code, status, truncate(raw))
			}
		}
	})
}

func truncate(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}

type restSeed struct {
	method, route, ids, query, body string
	who                             uint8
}

// sampleBodies are valid bodies of the routes that take one: the fuzzer mutates
// them into the neighbouring invalid ones.
var sampleBodies = map[string]string{
	"/v1/members":                                              `{"memberId":"fz-new","displayName":"New member"}`,
	"/v1/apiKeys":                                              `{"name":"fuzz","role":"app"}`,
	"/v1/apiKeys/{keyId}/goodwillLimits":                       `{"perGrant":1000,"perDay":5000}`,
	"/v1/members/{memberId}:earn":                              `{"requestId":"f-earn","points":10}`,
	"/v1/members/{memberId}:redeem":                            `{"requestId":"f-redeem","points":1,"orderId":"FZ-1","memo":"m"}`,
	"/v1/members/{memberId}/holds":                             `{"requestId":"f-hold","points":1,"ttl":"60s"}`,
	"/v1/holds/{holdId}:capture":                               `{"requestId":"f-capture","points":1}`,
	"/v1/holds/{holdId}:void":                                  `{"requestId":"f-void"}`,
	"/v1/entries/{entryId}:reverse":                            `{"requestId":"f-reverse","reason":"fuzz"}`,
	"/v1/orders/{orderId}:refund":                              `{"requestId":"f-refund","memberId":"fz","refundAmountMinor":100}`,
	"/v1/program":                                              `{"earnPoints":1,"earnPerAmountMinor":100,"returnWindowDays":7,"expiry":{"kind":"END_OF_FOLLOWING_YEAR"},"pointsPerUnit":100,"timeZone":"UTC"}`,
	"/v1/members/{memberId}:grantGoodwill":                     `{"requestId":"f-gw","points":10,"reasonCode":"LATE_DELIVERY","ticketId":"ZD-9","note":"n"}`,
	"/v1/approvals/{approvalId}:approve":                       `{}`,
	"/v1/approvals/{approvalId}:reject":                        `{}`,
	"/v1/clock:advance":                                        `{"days":1}`,
	"/v1/members/{memberId}/memberships":                       `{"requestId":"f-vip","tierId":"platinum","endTime":"2030-01-01T00:00:00Z","orderId":"VIP-1"}`,
	"/v1/members/{memberId}/memberships/{membershipId}:cancel": `{}`,
	"/v1/members/{memberId}/entitlements/{perk}:check":         `{}`,
	"/v1/members/{memberId}/entitlements/{perk}:consume":       `{"requestId":"f-pickup","orderId":"FZ-1"}`,
	"/v1/campaigns":                                            double11Body,
	"/v1/campaigns/{campaignId}:activate":                      `{}`,
	"/v1/campaigns/{campaignId}:pause":                         `{}`,
	"/v1/campaigns/{campaignId}:end":                           `{}`,
	"/v1/campaigns/{campaignId}:simulate":                      `{"memberId":"fz","spend":{"amountMinor":30000,"currency":"CNY"}}`,
	"/v1/members/{memberId}/coupons":                           `{"requestId":"f-coupon","campaignId":"$campaign"}`,
	"/v1/coupons/{code}:redeem":                                `{"requestId":"f-coupon-redeem","memberId":"fz","orderId":"FZ-9","spendMinor":10000}`,
	"/v1/coupons/{code}:revoke":                                `{}`,
	"/v1/afterSalesEvents":                                     `{"requestId":"f-event","memberId":"fz","orderId":"FZ-1","type":"LATE_DELIVERY","delayHours":72}`,
}

// restSeeds are every route once as it should be called, then the hostile cases
// the issue names.
func restSeeds(w *restWorld) []restSeed {
	var seeds []restSeed
	routes := make([]string, 0, len(w.routes))
	for r := range w.routes {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		body := sampleBodies[r]
		if r == "/v1/tierPolicy" {
			// GET answers the policy; PUT (the fuzzed method) takes it back.
			seeds = append(seeds, restSeed{method: "PUT", route: r, body: w.policy})
		}
		seeds = append(seeds, restSeed{route: r, body: body})
	}
	post := func(route, body string) restSeed { return restSeed{route: route, body: body} }
	far := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Format(time.RFC3339)
	seeds = append(seeds,
		// NUL in text fields, raw and escaped, in bodies, paths and queries.
		post("/v1/members", `{"memberId":"nul-1","displayName":"a\u0000b"}`),
		post("/v1/members", "{\"memberId\":\"nul-2\",\"displayName\":\"a\x00b\"}"),
		post("/v1/members/{memberId}:redeem", `{"requestId":"nul-3","points":1,"memo":"x\u0000"}`),
		post("/v1/members/{memberId}:earn", `{"requestId":"nul-4","points":1,"reason":"\u0000"}`),
		post("/v1/members/{memberId}:grantGoodwill", `{"requestId":"nul-5","points":1,"reasonCode":"OTHER","ticketId":"T\u0000","note":"\u0000"}`),
		post("/v1/campaigns", `{"displayName":"a\u0000b","type":"POINTS_MULTIPLIER","multiplierPercent":200}`),
		post("/v1/apiKeys", `{"name":"\u0000","role":"app"}`),
		post("/v1/entries/{entryId}:reverse", `{"requestId":"nul-6","reason":"\u0000"}`),
		post("/v1/afterSalesEvents", `{"requestId":"nul-7","memberId":"fz","orderId":"\u0000","type":"LATE_DELIVERY","delayHours":72}`),
		restSeed{route: "/v1/members/{memberId}", ids: "a\x00b"},
		restSeed{route: "/v1/members/{memberId}/activity", query: "kinds=EARN%00"},
		restSeed{route: "/v1/members/{memberId}/activity", query: "pageToken=%00"},
		restSeed{route: "/v1/members/{memberId}:earn", body: `{"requestId":"nul\u0000","points":1}`},
		// Invalid UTF-8 in bodies and paths.
		post("/v1/members", "{\"memberId\":\"utf-1\",\"displayName\":\"\xff\xfe\"}"),
		post("/v1/members/{memberId}:earn", "{\"requestId\":\"utf-2\",\"points\":1,\"reason\":\"\xc3\x28\"}"),
		post("/v1/campaigns", "{\"displayName\":\"\xed\xa0\x80\",\"type\":\"POINTS_MULTIPLIER\",\"multiplierPercent\":200}"),
		restSeed{route: "/v1/members/{memberId}/balance", ids: "\xff\xfe"},
		restSeed{route: "/v1/coupons/{code}", ids: "\xc3\x28"},
		restSeed{route: "/v1/campaigns/{campaignId}", ids: "\x80"},
		restSeed{route: "/v1/coupons/{code}", ids: "ÄÄÄÄÄÄÄÄ"}, // valid UTF-8, 16 bytes
		restSeed{route: "/v1/coupons/{code}:redeem", ids: "ÄÄÄÄÄÄÄÄ", body: `{"requestId":"utf-4","memberId":"fz","orderId":"FZ-9","spendMinor":10000}`},
		restSeed{route: "/v1/approvals", query: "\xbc=1"},
		post("/v1/members", "{\"memberId\":\"utf-3\",\"\xbc\":1}"),
		// Huge numbers.
		post("/v1/members/{memberId}:earn", `{"requestId":"big-1","points":9223372036854775807}`),
		post("/v1/members/{memberId}:earn", `{"requestId":"big-2","points":1e30}`),
		post("/v1/members/{memberId}:earn", `{"requestId":"big-3","points":"99999999999999999999"}`),
		post("/v1/members/{memberId}:earn", `{"requestId":"big-4","orderId":"BIG-4","spend":{"amountMinor":9223372036854775807,"currency":"CNY"}}`),
		post("/v1/members/{memberId}:earn", `{"requestId":"big-5","orderId":"BIG-5","spend":{"amountMinor":10000000000000,"currency":"CNY"}}`),
		post("/v1/members/{memberId}:redeem", `{"requestId":"big-6","points":9223372036854775807}`),
		post("/v1/members/{memberId}/holds", `{"requestId":"big-7","points":1,"ttl":"9999999999999s"}`),
		post("/v1/orders/{orderId}:refund", `{"requestId":"big-8","memberId":"fz","refundAmountMinor":9223372036854775807}`),
		post("/v1/clock:advance", `{"days":2147483647}`),
		post("/v1/clock:advance", `{"days":100000}`),
		post("/v1/apiKeys/{keyId}/goodwillLimits", `{"perGrant":9223372036854775807,"perDay":9223372036854775807}`),
		post("/v1/program", `{"earnPoints":10000,"earnPerAmountMinor":1,"returnWindowDays":0,"expiry":{"kind":"ROLLING_DAYS","days":36500},"pointsPerUnit":1,"timeZone":"UTC"}`),
		post("/v1/campaigns", `{"displayName":"big","type":"POINTS_MULTIPLIER","multiplierPercent":2147483647,"budget":{"points":9223372036854775807}}`),
		post("/v1/members/{memberId}/memberships", `{"requestId":"big-9","tierId":"gold","endTime":"`+far+`"}`),
		restSeed{route: "/v1/members/{memberId}/activity", query: "pageSize=99999999999"},
		restSeed{route: "/v1/holds/{holdId}", ids: "99999999999999999999"},
		restSeed{route: "/v1/entries/{entryId}/lots", ids: "9223372036854775807"},
		// Negative points and amounts.
		post("/v1/members/{memberId}:earn", `{"requestId":"neg-1","points":-5}`),
		post("/v1/members/{memberId}:redeem", `{"requestId":"neg-2","points":-5}`),
		post("/v1/members/{memberId}/holds", `{"requestId":"neg-3","points":-1}`),
		post("/v1/holds/{holdId}:capture", `{"requestId":"neg-4","points":-1}`),
		post("/v1/members/{memberId}:grantGoodwill", `{"requestId":"neg-5","points":-100,"reasonCode":"OTHER","ticketId":"T-1"}`),
		post("/v1/orders/{orderId}:refund", `{"requestId":"neg-6","memberId":"fz","refundAmountMinor":-1}`),
		post("/v1/members/{memberId}:earn", `{"requestId":"neg-7","orderId":"NEG-7","spend":{"amountMinor":-100,"currency":"CNY"}}`),
		post("/v1/clock:advance", `{"days":-1}`),
		post("/v1/members/{memberId}/holds", `{"requestId":"neg-8","points":1,"ttl":"-60s"}`),
		restSeed{route: "/v1/holds/{holdId}", ids: "-1"},
		restSeed{route: "/v1/members/{memberId}/activity", query: "pageSize=-1"},
		// Ids that are path syntax.
		restSeed{route: "/v1/members/{memberId}", ids: "."},
		restSeed{route: "/v1/members/{memberId}/balance", ids: ".."},
		restSeed{route: "/v1/members/{memberId}", ids: "a:earn"},
		restSeed{route: "/v1/members/{memberId}:earn", ids: "a:earn", body: `{"requestId":"colon","points":1}`},
		restSeed{route: "/v1/members/{memberId}:earn", ids: "..", body: `{"requestId":"dotdot","points":1}`},
		restSeed{route: "/v1/members/{memberId}/holds", ids: ".", body: `{"requestId":"dot","points":1}`},
		restSeed{route: "/v1/members/{memberId}/orders/{orderId}", ids: "fz|.."},
		restSeed{route: "/v1/members/{memberId}", ids: "%2e%2e"},
		restSeed{route: "/v1/members/{memberId}", ids: "a%2Fb"},
		restSeed{route: "/v1/members/{memberId}", ids: "a/b"},
		restSeed{route: "/v1/members/{memberId}", ids: "%"},
		restSeed{route: "/v1/holds/{holdId}:capture", ids: "", body: `{"requestId":"empty-id"}`},
		restSeed{route: "/v1/members/{memberId}/balance", ids: "|"},
		post("/v1/members", `{"memberId":"a:earn"}`),
		post("/v1/members", `{"memberId":".."}`),
		// Unknown fields.
		post("/v1/members", `{"memberId":"unk-1","bogus":1}`),
		post("/v1/program", `{"earnPoints":1,"earnPerAmountMinor":100,"returnWindowDays":7,"expiry":{"kind":"ROLLING_DAYS","days":30,"x":1},"pointsPerUnit":100,"timeZone":"UTC"}`),
		post("/v1/members/{memberId}:earn", `{"requestId":"unk-2","points":1,"spend":{"amountMinor":1,"currency":"CNY","tax":1}}`),
		// Trailing data.
		post("/v1/members", `{"memberId":"trail-1"} {"memberId":"trail-2"}`),
		post("/v1/members", `{"memberId":"trail-3"}garbage`),
		post("/v1/members/{memberId}:earn", `{"requestId":"trail-4","points":1}]`),
		// Wrong types and broken JSON.
		post("/v1/members/{memberId}:earn", `{"requestId":"type-1","points":"ten"}`),
		post("/v1/members/{memberId}:earn", `{"requestId":"type-2","points":true}`),
		post("/v1/members/{memberId}:earn", `{"requestId":"type-3","points":1.5}`),
		post("/v1/members", `{"memberId":123}`),
		post("/v1/members", `[]`),
		post("/v1/members", `null`),
		post("/v1/members", `"memberId"`),
		post("/v1/members", `{`),
		post("/v1/members", ``),
		post("/v1/program", `{"expiry":"END_OF_FOLLOWING_YEAR"}`),
		post("/v1/members/{memberId}/holds", `{"requestId":"type-4","points":1,"ttl":60}`),
		post("/v1/members/{memberId}/memberships", `{"requestId":"type-5","tierId":"gold","endTime":"tomorrow"}`),
		post("/v1/members/{memberId}/memberships", `{"requestId":"type-6","tierId":"gold","endTime":"0000-01-01T00:00:00Z"}`),
		post("/v1/campaigns", `{"displayName":"x","type":"POINTS_MULTIPLIER","multiplierPercent":200,"eligibility":{"tiers":"gold"}}`),
		restSeed{method: "PUT", route: "/v1/tierPolicy", body: `{"tiers":[{"id":"x","threshold":"-1"}]}`},
		// Queries.
		restSeed{route: "/v1/members/{memberId}/activity", query: "pageSize=abc"},
		restSeed{route: "/v1/members/{memberId}/activity", query: "pageToken=garbage"},
		restSeed{route: "/v1/members/{memberId}/activity", query: "startTime=notatime&endTime=2020-01-01T00:00:00Z"},
		restSeed{route: "/v1/members/{memberId}/activity", query: "kinds=NOPE&kinds=EARN"},
		restSeed{route: "/v1/members/{memberId}/activity", query: "unknown=1"},
		restSeed{route: "/v1/members/{memberId}/balance", query: "asOfTime=0001-01-01T00:00:00Z"},
		restSeed{route: "/v1/members/{memberId}/balance", query: "asOfTime=10000-01-01T00:00:00Z"},
		restSeed{route: "/v1/members/{memberId}/balance", query: "asOfTime=%zz"},
		restSeed{route: "/v1/approvals", query: "status=PENDING&status=APPROVED"},
		restSeed{route: "/v1/campaigns", query: "pageSize=2147483648"},
		// Methods a route does not have.
		restSeed{method: "DELETE", route: "/v1/members/{memberId}"},
		restSeed{method: "PATCH", route: "/v1/program", body: `{}`},
		restSeed{method: "GET", route: "/v1/members/{memberId}:earn"},
		restSeed{method: "OPTIONS", route: "/v1/members"},
		restSeed{method: "HEAD", route: "/v1/ledger:verify"},
		// Raw paths.
		restSeed{route: "/"}, restSeed{route: "/v1"}, restSeed{route: "/v1/"}, restSeed{route: "/v1/members/fz/"},
		restSeed{route: "/v1/members/fz:unknownVerb", body: `{}`, method: "POST"},
		restSeed{route: "/v1/members/fz:", method: "POST", body: `{}`},
		restSeed{route: "/v1/members/%zz"}, restSeed{route: "/v1/members/fz/activity/extra"},
		restSeed{route: "/v1/../v1/members/fz"}, restSeed{route: "/openapi.json"}, restSeed{route: "/healthz"},
		// Rules, zones and schedules that must be refused, not crash or hang.
		post("/v1/campaigns", `{"displayName":"r","type":"POINTS_MULTIPLIER","multiplierPercent":200,"eligibility":{"rule":"1/0 == 1"}}`),
		post("/v1/campaigns", `{"displayName":"r","type":"POINTS_MULTIPLIER","multiplierPercent":200,"eligibility":{"rule":"`+strings.Repeat("(", 500)+"true"+strings.Repeat(")", 500)+`"}}`),
		post("/v1/campaigns", `{"displayName":"r","type":"POINTS_MULTIPLIER","multiplierPercent":200,"eligibility":{"rule":"order.orderId.matches('(a*)*b')"}}`),
		post("/v1/campaigns", `{"displayName":"r","type":"POINTS_MULTIPLIER","multiplierPercent":200,"schedule":{"startTime":"2027-01-01T00:00:00","timeZone":"../../etc/passwd"}}`),
		post("/v1/campaigns", `{"displayName":"r","type":"POINTS_MULTIPLIER","multiplierPercent":200,"schedule":{"startTime":"2027-01-01T00:00:00","endTime":"2026-01-01T00:00:00","timeZone":"Local"}}`),
		post("/v1/program", `{"earnPoints":1,"earnPerAmountMinor":100,"returnWindowDays":7,"expiry":{"kind":"END_OF_FOLLOWING_YEAR"},"pointsPerUnit":100,"timeZone":"../../../etc/localtime"}`),
		// The largest settings and spend the API allows: 10,000 points per minor
		// unit on 10^13 minor units, at a tier above 100 %.
		post("/v1/program", `{"earnPoints":10000,"earnPerAmountMinor":1,"returnWindowDays":0,"expiry":{"kind":"END_OF_FOLLOWING_YEAR"},"pointsPerUnit":1,"timeZone":"UTC"}`),
		post("/v1/members/{memberId}:earn", `{"requestId":"big-10","orderId":"BIG-10","spend":{"amountMinor":10000000000000,"currency":"CNY"}}`),
		post("/v1/program", sampleBodies["/v1/program"]),
		// One request id, two bodies.
		post("/v1/members/{memberId}:earn", `{"requestId":"seed-earn","points":99}`),
		// A body over the limit.
		post("/v1/members", `{"memberId":"huge","displayName":"`+strings.Repeat("x", 1<<20+10)+`"}`),
	)
	// The same requests with every other key.
	n := len(seeds)
	for who := uint8(1); who < uint8(len(w.keys)); who++ {
		for _, s := range seeds[:n] {
			if strings.HasPrefix(s.route, "/v1/members/{memberId}") && s.ids == "" && s.method == "" {
				s.who = who
				seeds = append(seeds, s)
			}
		}
	}
	return seeds
}
