package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/internal/app"
)

// TestConsoleInChromium walks the support desk, the marketer's campaigns, the
// auditor's liability report, the shop app's referrals and activities, and the
// admin's settings, webhooks and events in a
// real browser against a real loyaltyd on PostgreSQL (the admin creates the
// agent's key in the console; the marketer's and the auditor's keys are made
// here): e2e/walk.mjs drives headless Chromium (Debian's package) with
// playwright-core. Without node, chromium or console/node_modules it skips,
// unless LOYALTY_CONSOLE_E2E is set (make test sets it): then it fails.
// Screenshots of every step go to LOYALTY_CONSOLE_SHOTS, or the test's temporary
// directory, which is kept (and named) when the walk fails.
func TestConsoleInChromium(t *testing.T) {
	node, chromium := browserTools(t)
	// The webhook endpoint the admin registers in the console: it takes every
	// delivery. Loopback endpoints are refused unless the server admits them.
	var hooks atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hooks.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	env := apitest.Start(t, func(o *app.Options) { o.WebhookAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	startDispatcher(t, env)
	admin := apitest.AdminKey
	mustREST := func(method, path, key string, body any) map[string]any {
		t.Helper()
		r := env.REST(method, path, key, body)
		if r.Status/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Raw)
		}
		return r.Body
	}
	app := env.Key(access.RoleApp)
	mustREST("POST", "/v1/members", app, map[string]any{"memberId": "alice", "displayName": "Alice Chen"})
	mustREST("POST", "/v1/members/alice:earn", app, map[string]any{"requestId": "welcome", "points": 500})
	mustREST("POST", "/v1/members/alice:earn", app, map[string]any{"requestId": "order-a100", "orderId": "A100",
		"spend": map[string]any{"amountMinor": 25900, "currency": "CNY"}})
	mustREST("POST", "/v1/orders/A100:refund", app, map[string]any{"requestId": "refund-a100", "memberId": "alice",
		"refundAmountMinor": 5000})
	drop := mustREST("POST", "/v1/campaigns", admin, map[string]any{"requestId": "drop", "displayName": "Singles Day coupon drop",
		"type": "COUPON_DROP", "coupon": map[string]any{"kind": "AMOUNT_OFF", "amountOffMinor": 1000, "minSpendMinor": 9900, "validDays": 30},
		"budget": map[string]any{"coupons": 10}})
	mustREST("POST", "/v1/campaigns/"+drop["campaignId"].(string)+":activate", admin, map[string]any{})
	late := mustREST("POST", "/v1/campaigns", admin, map[string]any{"requestId": "late", "displayName": "Late delivery apology",
		"type": "COMPENSATION", "compensation": map[string]any{"eventTypes": []string{"LATE_DELIVERY"}, "minDelayHours": 48, "points": 100}})
	mustREST("POST", "/v1/campaigns/"+late["campaignId"].(string)+":activate", admin, map[string]any{})
	mustREST("POST", "/v1/members/alice/coupons", admin, map[string]any{"requestId": "coupon-alice", "campaignId": drop["campaignId"]})

	// frank refers gina (enrolled, no order yet) and reviews with photos in the
	// walk: a REFERRAL and an ACTIVITY_REWARD campaign are running.
	for _, c := range []map[string]any{
		{"requestId": "friend", "displayName": "Bring a friend", "type": "REFERRAL",
			"referral": map[string]any{"referrerPoints": 200, "referredPoints": 100, "caps": map[string]any{"perReferrerPerMonth": 3}}},
		{"requestId": "photos", "displayName": "Photo reviews", "type": "ACTIVITY_REWARD",
			"activity": map[string]any{"activityTypes": []string{"REVIEW_WITH_PHOTO"}, "points": 20, "caps": map[string]any{"perDay": 3, "perActivityKey": 1}},
			"budget":   map[string]any{"points": 100000}},
	} {
		created := mustREST("POST", "/v1/campaigns", admin, c)
		mustREST("POST", "/v1/campaigns/"+created["campaignId"].(string)+":activate", admin, map[string]any{})
	}
	mustREST("POST", "/v1/members", app, map[string]any{"memberId": "frank", "displayName": "Frank Zhao"})
	mustREST("POST", "/v1/members", app, map[string]any{"memberId": "gina", "displayName": "Gina Sun"})

	// carol is gold: two free return pickups a cycle.
	mustREST("POST", "/v1/members", app, map[string]any{"memberId": "carol", "displayName": "Carol Wang"})
	mustREST("POST", "/v1/members/carol:earn", app, map[string]any{"requestId": "carol-big", "orderId": "C1",
		"spend": map[string]any{"amountMinor": 600000, "currency": "CNY"}})
	// bob has a long statement: more than one page of it.
	mustREST("POST", "/v1/members", app, map[string]any{"memberId": "bob", "displayName": "Bob Li"})
	for i := range 60 {
		mustREST("POST", "/v1/members/bob:earn", app, map[string]any{"requestId": fmt.Sprintf("bob-%d", i), "points": 10 + i})
	}

	shots := os.Getenv("LOYALTY_CONSOLE_SHOTS")
	if shots == "" {
		shots = filepath.Join(os.TempDir(), "loyalty-console-shots")
		_ = os.RemoveAll(shots)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 420*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "e2e/walk.mjs")
	cmd.Env = append(os.Environ(),
		"CONSOLE_URL="+env.BaseURL+"/console/",
		"CHROMIUM="+chromium,
		"ADMIN_KEY="+admin,
		"MARKETER_KEY="+env.Key(access.RoleMarketer),
		"AUDITOR_KEY="+env.Key(access.RoleAuditor),
		"APP_KEY="+app,
		"SHOTS="+shots,
		"HOOK_URL="+receiver.URL+"/loyalty",
	)
	out, err := cmd.CombinedOutput()
	t.Logf("walk.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the console walk failed (%v); screenshots of each step are in %s", err, shots)
	}
	if hooks.Load() == 0 {
		t.Error("the webhook endpoint registered in the console received nothing")
	}
}

// browserTools finds node and chromium and the installed npm packages.
func browserTools(t *testing.T) (node, chromium string) {
	t.Helper()
	required := os.Getenv("LOYALTY_CONSOLE_E2E") != ""
	missing := func(what string) {
		if required {
			t.Fatalf("%s is missing: make test installs it (scripts/console.sh tools browser; make console)", what)
		}
		t.Skipf("%s is missing: `make console-e2e` installs it and runs this test", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node")
	}
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		if _, err := os.Stat("/usr/lib/chromium/chromium"); err == nil {
			chromium = "/usr/lib/chromium/chromium" // the binary, not Debian's wrapper script
		} else if chromium, err = exec.LookPath("chromium"); err != nil {
			missing("chromium")
		}
	}
	if _, err := os.Stat("node_modules/playwright-core"); err != nil {
		missing("console/node_modules (npm ci)")
	}
	return node, chromium
}

// startDispatcher runs a job queue with the webhook dispatcher on env's database
// (loyaltyd runs one; apitest's server does not), polling often, so that the
// walk sees its endpoint's deliveries within a moment.
func startDispatcher(t *testing.T, env *apitest.Env) {
	t.Helper()
	env.StartDispatcher(t, 100*time.Millisecond)
}
