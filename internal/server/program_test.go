package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
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
		"currencies": []string{"CNY"}, "timeZone": "Asia/Shanghai"}
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
				"requestId": fmt.Sprintf("r%d", i), "orderId": "big-order", "spend": map[string]any{"amountMinor": 10000, "currency": "CNY"}}).Status
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
		"returnWindowDays": 0, "expiry": map[string]any{"kind": "END_OF_FOLLOWING_YEAR"}, "pointsPerUnit": 100, "timeZone": "UTC",
		"currencies": []string{"CNY"}})
	if r.Status != http.StatusOK {
		t.Fatalf("set no return window: %d %s", r.Status, r.Raw)
	}
}

// A spend earns only on an order and only in a currency the program lists; the
// refusal names each field, on REST and gRPC alike, and changes nothing.
func TestSpendNeedsAnOrderAndAProgramCurrency(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	env.REST("POST", "/v1/members", app, map[string]any{"memberId": "cur"})

	got := env.REST("GET", "/v1/program", app, nil)
	if cur := got.Body["program"].(map[string]any)["currencies"]; fmt.Sprint(cur) != "[CNY]" {
		t.Fatalf("default currencies %v, want [CNY]: %s", cur, got.Raw)
	}
	for name, c := range map[string]struct {
		body   map[string]any
		fields []string
		says   string
	}{
		"no order":           {map[string]any{"requestId": "c1", "spend": map[string]any{"amountMinor": 1000, "currency": "CNY"}}, []string{"orderId"}, "return window"},
		"made-up currency":   {map[string]any{"requestId": "c2", "orderId": "c-2", "spend": map[string]any{"amountMinor": 1000, "currency": "XXX"}}, []string{"spend.currency"}, "XXX is not a currency the program earns in; it accepts CNY"},
		"no currency":        {map[string]any{"requestId": "c3", "orderId": "c-3", "spend": map[string]any{"amountMinor": 1000}}, []string{"spend.currency"}, "is required"},
		"empty currency":     {map[string]any{"requestId": "c4", "orderId": "c-4", "spend": map[string]any{"amountMinor": 1000, "currency": ""}}, []string{"spend.currency"}, "is required"},
		"neither":            {map[string]any{"requestId": "c5", "spend": map[string]any{"amountMinor": 1000}}, []string{"orderId", "spend.currency"}, "is required"},
		"currency on points": {map[string]any{"requestId": "c6", "points": 10, "spend": map[string]any{"currency": "CNY"}}, []string{"spend.currency"}, "only used with spend.amountMinor"},
	} {
		r := env.REST("POST", "/v1/members/cur:earn", app, c.body)
		if r.Status != http.StatusBadRequest || !slices.Equal(r.FieldViolations(), c.fields) || !strings.Contains(string(r.Raw), c.says) {
			t.Errorf("%s: %d %s, want 400 naming %v and saying %q", name, r.Status, r.Raw, c.fields, c.says)
		}
	}
	// The same over gRPC.
	_, err := loyaltyv1.NewPointsServiceClient(env.Conn).Earn(env.Ctx(app), &loyaltyv1.EarnRequest{MemberId: "cur", RequestId: "g1",
		Spend: &loyaltyv1.Money{AmountMinor: 1000, Currency: "USD"}})
	if fields := grpcFields(err); status.Code(err) != codes.InvalidArgument || !slices.Equal(fields, []string{"orderId", "spend.currency"}) {
		t.Errorf("gRPC earn without order in USD: %v, fields %v", err, fields)
	}

	// The program lists its currencies: 1-20 ISO 4217 codes, each named when wrong.
	prog := func(currencies any) map[string]any {
		return map[string]any{"earnPoints": 1, "earnPerAmountMinor": 100, "returnWindowDays": 7,
			"expiry": map[string]any{"kind": "END_OF_FOLLOWING_YEAR"}, "pointsPerUnit": 100, "timeZone": "UTC", "currencies": currencies}
	}
	for name, c := range map[string]struct {
		currencies any
		field      string
	}{
		"none":       {[]string{}, "currencies"},
		"omitted":    {nil, "currencies"},
		"lower case": {[]string{"CNY", "hkd"}, "currencies[1]"},
		"twice":      {[]string{"CNY", "CNY"}, "currencies[1]"},
		"too many":   {strings.Split("AAA,AAB,AAC,AAD,AAE,AAF,AAG,AAH,AAI,AAJ,AAK,AAL,AAM,AAN,AAO,AAP,AAQ,AAR,AAS,AAT,AAU", ","), "currencies"},
	} {
		r := env.REST("PUT", "/v1/program", apitest.AdminKey, prog(c.currencies))
		if r.Status != http.StatusBadRequest || !slices.Equal(r.FieldViolations(), []string{c.field}) {
			t.Errorf("currencies %s: %d %s, want 400 naming %s", name, r.Status, r.Raw, c.field)
		}
	}
	if v := env.REST("GET", "/v1/program", app, nil).Body["program"].(map[string]any)["version"]; v != "1" {
		t.Fatalf("a refused program changed the settings: version %v", v)
	}
	if r := env.REST("PUT", "/v1/program", apitest.AdminKey, prog([]string{"CNY", "HKD"})); r.Status != http.StatusOK {
		t.Fatalf("two currencies: %d %s", r.Status, r.Raw)
	}
	hkd := env.REST("POST", "/v1/members/cur:earn", app, map[string]any{"requestId": "h1", "orderId": "h-1",
		"spend": map[string]any{"amountMinor": 1000, "currency": "HKD"}})
	if hkd.Status != http.StatusOK || hkd.Body["points"] != "10" {
		t.Errorf("earn in HKD: %d %s", hkd.Status, hkd.Raw)
	}
	usd := env.REST("POST", "/v1/members/cur:earn", app, map[string]any{"requestId": "u1", "orderId": "u-1",
		"spend": map[string]any{"amountMinor": 1000, "currency": "USD"}})
	if usd.Status != http.StatusBadRequest || !strings.Contains(string(usd.Raw), "it accepts CNY, HKD") {
		t.Errorf("earn in USD: %d %s", usd.Status, usd.Raw)
	}
	// Only the HKD order earned.
	if bal := env.REST("GET", "/v1/members/cur/balance", app, nil); bal.Body["pending"] != "10" || bal.Body["available"] != "0" {
		t.Errorf("balance %s, want 10 pending", bal.Raw)
	}
}
