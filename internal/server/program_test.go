package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

func TestProgramSettingsAndEarningFromSpend(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	marketer := env.Key(access.RoleMarketer)
	if r := env.REST("POST", "/v1/members", app, map[string]any{"memberId": "sp"}); r.Status != http.StatusOK {
		t.Fatal(r.Status)
	}

	got := env.REST("GET", "/v1/program", marketer, nil)
	prog, _ := got.Body["program"].(map[string]any)
	if got.Status != http.StatusOK || prog["earnPoints"] != "1" || prog["earnPerAmountMinor"] != "100" ||
		prog["returnWindowDays"] != float64(7) || prog["pointsPerUnit"] != "100" ||
		prog["expiry"].(map[string]any)["kind"] != "END_OF_FOLLOWING_YEAR" {
		t.Fatalf("default program: %d %s", got.Status, got.Raw)
	}

	earn := env.REST("POST", "/v1/members/sp:earn", app, map[string]any{
		"requestId": "o1", "orderId": "o-1", "spend": map[string]any{"amountMinor": 12345, "currency": "CNY"}})
	if earn.Status != http.StatusOK || earn.Body["points"] != "123" {
		t.Fatalf("earn from spend: %d %s", earn.Status, earn.Raw)
	}
	line := earn.Body["breakdown"].([]any)[0].(map[string]any)
	if line["source"] != "BASE" || line["points"] != "123" {
		t.Errorf("breakdown %v", line)
	}
	entryID := earn.Body["entry"].(map[string]any)["entryId"]

	again := env.REST("POST", "/v1/members/sp:earn", app, map[string]any{
		"requestId": "o1", "orderId": "o-1", "spend": map[string]any{"amountMinor": 12345, "currency": "CNY"}})
	if again.Status != http.StatusOK || again.Body["entry"].(map[string]any)["entryId"] != entryID {
		t.Errorf("repeat: %d %s", again.Status, again.Raw)
	}
	second := env.REST("POST", "/v1/members/sp:earn", app, map[string]any{
		"requestId": "o1-bis", "orderId": "o-1", "spend": map[string]any{"amountMinor": 500, "currency": "CNY"}})
	if second.Status != http.StatusConflict || second.Reason() != "ORDER_ALREADY_EARNED" {
		t.Errorf("second earning on the order: %d %s", second.Status, second.Raw)
	}

	small := env.REST("POST", "/v1/members/sp:earn", app, map[string]any{
		"requestId": "o2", "orderId": "o-2", "spend": map[string]any{"amountMinor": 99, "currency": "CNY"}})
	if small.Status != http.StatusOK || small.Body["points"] != "0" || small.Body["entry"] != nil {
		t.Errorf("a spend below one point: %d %s", small.Status, small.Raw)
	}

	for name, body := range map[string]map[string]any{
		"points":            {"requestId": "x1", "points": 5, "spend": map[string]any{"amountMinor": 100}},
		"spend.amountMinor": {"requestId": "x2", "spend": map[string]any{"amountMinor": -1}},
		"spend.currency":    {"requestId": "x3", "spend": map[string]any{"amountMinor": 100, "currency": "yuan"}},
	} {
		r := env.REST("POST", "/v1/members/sp:earn", app, body)
		if r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), name) {
			t.Errorf("%v: %d %s, want 400 naming %s", body, r.Status, r.Raw, name)
		}
	}

	newProgram := map[string]any{"earnPoints": 3, "earnPerAmountMinor": 200, "returnWindowDays": 14,
		"expiry": map[string]any{"kind": "ROLLING_DAYS", "days": 365}, "pointsPerUnit": 100,
		"currency": "CNY", "timeZone": "Asia/Shanghai"}
	if r := env.REST("PUT", "/v1/program", marketer, newProgram); r.Status != http.StatusForbidden {
		t.Errorf("marketer changed the program: %d", r.Status)
	}
	put := env.REST("PUT", "/v1/program", apitest.AdminKey, newProgram)
	if put.Status != http.StatusOK || put.Body["program"].(map[string]any)["version"] != "2" {
		t.Fatalf("update program: %d %s", put.Status, put.Raw)
	}
	bad := env.REST("PUT", "/v1/program", apitest.AdminKey, map[string]any{"earnPoints": 1, "earnPerAmountMinor": 100,
		"expiry": map[string]any{"kind": "ROLLING_DAYS"}, "pointsPerUnit": 100, "timeZone": "Nowhere/Town"})
	if bad.Status != http.StatusBadRequest || !slices.Contains(bad.FieldViolations(), "timeZone") {
		t.Errorf("bad program: %d %s", bad.Status, bad.Raw)
	}

	newRate := env.REST("POST", "/v1/members/sp:earn", app, map[string]any{
		"requestId": "o3", "orderId": "o-3", "spend": map[string]any{"amountMinor": 1000, "currency": "CNY"}})
	if newRate.Status != http.StatusOK || newRate.Body["points"] != "15" {
		t.Errorf("earn at the new rate: %d %s", newRate.Status, newRate.Raw)
	}
	usd := env.REST("POST", "/v1/members/sp:earn", app, map[string]any{
		"requestId": "o4", "orderId": "o-4", "spend": map[string]any{"amountMinor": 1000, "currency": "USD"}})
	if usd.Status != http.StatusBadRequest || !slices.Contains(usd.FieldViolations(), "spend.currency") {
		t.Errorf("spend in another currency: %d %s", usd.Status, usd.Raw)
	}
	// Points earned on orders stay pending through the return window.
	bal := env.REST("GET", "/v1/members/sp/balance", app, nil)
	if bal.Body["pending"] != "138" || bal.Body["available"] != "0" {
		t.Errorf("balance %s, want 123 + 15 pending", bal.Raw)
	}
}

// The order-earns-once rule under a race: many requests for one order, each with its
// own requestId, credit the order once.
func TestRacingEarningsOnOneOrderCreditItOnce(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	env.REST("POST", "/v1/members", app, map[string]any{"memberId": "race"})
	var wg sync.WaitGroup
	codes := make([]int, 24)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = env.REST("POST", "/v1/members/race:earn", app, map[string]any{
				"requestId": fmt.Sprintf("r%d", i), "orderId": "big-order", "spend": map[string]any{"amountMinor": 10000}}).Status
		}()
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
		default:
			t.Errorf("unexpected status %d", c)
		}
	}
	bal := env.REST("GET", "/v1/members/race/balance", app, nil)
	if ok != 1 || bal.Body["pending"] != "100" {
		t.Fatalf("%d earnings succeeded, balance %s; want exactly one of 100 points", ok, bal.Raw)
	}
	if v := env.REST("GET", "/v1/ledger:verify", apitest.AdminKey, nil); v.Body["ok"] != true {
		t.Fatalf("verify: %s", v.Raw)
	}
}

// noReturnWindow sets the program's return window to zero, so points earned on
// orders are available at once.
func noReturnWindow(t *testing.T, env *apitest.Env) {
	t.Helper()
	r := env.REST("PUT", "/v1/program", apitest.AdminKey, map[string]any{"earnPoints": 1, "earnPerAmountMinor": 100,
		"returnWindowDays": 0, "expiry": map[string]any{"kind": "END_OF_FOLLOWING_YEAR"}, "pointsPerUnit": 100, "timeZone": "UTC"})
	if r.Status != http.StatusOK {
		t.Fatalf("set no return window: %d %s", r.Status, r.Raw)
	}
}
