package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/internal/app"
)

// The README's order walk-through, over REST with time travel: an order earns
// pending points, the clock moves past the return window and the release job makes
// them available, a partial refund claws back its share, the clock moves past the
// expiry date and the expiry job moves the rest to breakage; the books verify after
// every step. (The jobs are called directly here; loyaltyd runs them every 2 s.)
func TestOrderWalkThroughWithTimeTravel(t *testing.T) {
	env := apitest.Start(t, func(o *app.Options) { o.TimeTravel = true })
	admin := apitest.AdminKey
	app := env.Key(access.RoleApp)
	ctx := t.Context()
	enroll(t, env, app, "walker")

	must200(t, "earn on an order", env.REST("POST", "/v1/members/walker:earn", app,
		map[string]any{"requestId": "w-1", "orderId": "W100", "spend": map[string]any{"amountMinor": 20000, "currency": "CNY"}}))
	if b := balanceOf(t, env, app, "walker"); b.pending != 200 || b.available != 0 {
		t.Fatalf("after earning: %+v, want 200 pending", b)
	}
	verifyOK(t, env)

	refused(t, "app moving the clock", env.REST("POST", "/v1/clock:advance", app, map[string]any{"days": 8}), http.StatusForbidden, "PERMISSION_DENIED")
	before := must200(t, "clock", env.REST("GET", "/v1/clock", app, nil))
	if before.Body["timeTravel"] != true {
		t.Fatalf("clock %s: time travel should be on", before.Raw)
	}
	moved := must200(t, "advance 8 days", env.REST("POST", "/v1/clock:advance", admin, map[string]any{"days": 8}))
	if moved.Body["offset"] != "691200s" {
		t.Fatalf("offset after 8 days: %v", moved.Body["offset"])
	}
	if n, err := env.App.Ledger.ReleasePending(ctx, 100); err != nil || n != 1 {
		t.Fatalf("release job: %d (%v)", n, err)
	}
	b := balanceOf(t, env, app, "walker")
	if b.pending != 0 || b.available != 200 {
		t.Fatalf("after the window: %+v, want 200 available", b)
	}
	verifyOK(t, env)

	r := must200(t, "partial refund", env.REST("POST", "/v1/orders/W100:refund", app,
		map[string]any{"requestId": "w-refund-1", "memberId": "walker", "refundAmountMinor": 5000}))
	if num(t, r.Body["pointsClawedBack"]) != 50 {
		t.Fatalf("refund of a quarter: %s, want 50 clawed back", r.Raw)
	}
	verifyOK(t, env)

	bal := must200(t, "balance", env.REST("GET", "/v1/members/walker/balance", app, nil))
	expiring := list(t, bal.Body["expiring"])
	if len(expiring) != 1 || num(t, expiring[0]["points"]) != 150 {
		t.Fatalf("expiring %v, want the 150 left", expiring)
	}
	expireAt, err := time.Parse(time.RFC3339, expiring[0]["expireTime"].(string))
	if err != nil {
		t.Fatal(err)
	}
	days := int(time.Until(expireAt).Hours()/24) + 1 - 8 // the clock already runs 8 days ahead
	must200(t, "advance past the expiry", env.REST("POST", "/v1/clock:advance", admin, map[string]any{"days": days}))
	if n, err := env.App.Ledger.ExpireLots(ctx, 100); err != nil || n != 1 {
		t.Fatalf("expiry job: %d (%v)", n, err)
	}
	if b := balanceOf(t, env, app, "walker"); b.available != 0 {
		t.Fatalf("after expiry: %+v", b)
	}
	verifyOK(t, env)
	report := must200(t, "liability", env.REST("GET", "/v1/reports/liability", admin, nil))
	if report.Body["consistent"] != true || num(t, report.Body["expired"]) != 150 {
		t.Fatalf("liability after expiry: %s", report.Raw)
	}
}

// Without time travel the clock cannot be moved.
func TestClockCannotMoveWithoutTimeTravel(t *testing.T) {
	env := apitest.Start(t)
	refused(t, "advance", env.REST("POST", "/v1/clock:advance", apitest.AdminKey, map[string]any{"days": 1}), http.StatusBadRequest, "TIME_TRAVEL_OFF")
	r := env.REST("POST", "/v1/clock:advance", apitest.AdminKey, map[string]any{"days": -1})
	if r.Status != http.StatusBadRequest || len(r.FieldViolations()) == 0 {
		t.Fatalf("negative days: %d %s", r.Status, r.Raw)
	}
}
