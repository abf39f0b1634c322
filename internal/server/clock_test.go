package server_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/internal/app"
	"github.com/loyalty-engine/loyalty/ledger"
)

func timeTravelOn(o *app.Options) { o.TimeTravel = true }

// clockOf reads GET /v1/clock: business time and the offset.
func clockOf(t testing.TB, env *apitest.Env) (time.Time, time.Duration, bool) {
	t.Helper()
	r := must200(t, "clock", env.REST("GET", "/v1/clock", apitest.AdminKey, nil))
	now, err := time.Parse(time.RFC3339Nano, r.Body["now"].(string))
	if err != nil {
		t.Fatalf("clock %s: %v", r.Raw, err)
	}
	offset, err := time.ParseDuration(r.Body["offset"].(string))
	if err != nil {
		t.Fatalf("clock %s: %v", r.Raw, err)
	}
	return now, offset, r.Body["timeTravel"] == true
}

// The offset is in the database: a replica picks up an advance within about a
// second, a replica without time travel runs on it too but cannot move it, and a
// restart keeps it, so points earned under the moved clock are not released at once.
func TestBusinessTimeIsSharedAndSurvivesARestart(t *testing.T) {
	env := apitest.Start(t, timeTravelOn)
	replica := apitest.StartOn(t, env.Pool) // time travel off
	app := env.Key(access.RoleApp)
	ctx := t.Context()

	start := time.Now()
	must200(t, "advance 8 days", env.REST("POST", "/v1/clock:advance", apitest.AdminKey, map[string]any{"days": 8}))
	for {
		_, offset, travel := clockOf(t, replica)
		if travel {
			t.Fatal("the replica says time travel is on; it runs without")
		}
		if offset == 8*24*time.Hour {
			break
		}
		if time.Since(start) > 3*time.Second {
			t.Fatalf("the replica's offset is still %s after %s", offset, time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("the replica took %s to pick up the advance", took)
	}
	envNow, _, _ := clockOf(t, env)
	replicaNow, _, _ := clockOf(t, replica)
	if d := replicaNow.Sub(envNow); d < -2*time.Second || d > 2*time.Second {
		t.Fatalf("replicas disagree: %s and %s", envNow, replicaNow)
	}
	refused(t, "advance without time travel", replica.REST("POST", "/v1/clock:advance", apitest.AdminKey, map[string]any{"days": 1}),
		http.StatusBadRequest, "TIME_TRAVEL_OFF")

	// An order earned under the moved clock: pending for 7 business days.
	enroll(t, env, app, "rita")
	must200(t, "earn on an order", env.REST("POST", "/v1/members/rita:earn", app,
		map[string]any{"requestId": "r-1", "orderId": "R1", "spend": map[string]any{"amountMinor": 30000, "currency": "CNY"}}))
	before, offset, _ := clockOf(t, env)
	if err := env.Shutdown(); err != nil {
		t.Fatal(err)
	}

	restarted := apitest.StartOn(t, env.Pool, timeTravelOn)
	after, offsetAfter, _ := clockOf(t, restarted)
	if offsetAfter != offset || after.Before(before) {
		t.Fatalf("after a restart: %s (offset %s); before it: %s (offset %s)", after, offsetAfter, before, offset)
	}
	if n, err := restarted.App.Ledger.ReleasePending(ctx, 100); err != nil || n != 0 {
		t.Fatalf("after a restart the release job released %d (%v); the return window is not over", n, err)
	}
	if b := balanceOf(t, restarted, app, "rita"); b.pending != 300 {
		t.Fatalf("after a restart: %+v, want 300 pending", b)
	}
	must200(t, "advance past the window", restarted.REST("POST", "/v1/clock:advance", apitest.AdminKey, map[string]any{"days": 8}))
	if n, err := restarted.App.Ledger.ReleasePending(ctx, 100); err != nil || n != 1 {
		t.Fatalf("past the window the release job released %d (%v), want 1", n, err)
	}
	verifyOK(t, restarted)
}

// Fifteen advances of ten years: two fit under the 20-year limit, the rest are
// refused with 400 TIME_TRAVEL_LIMIT naming days and hours, and business time ends
// 20 years ahead, never wrapped around into the past.
func TestAdvanceStopsAtTheLimit(t *testing.T) {
	env := apitest.Start(t, timeTravelOn)
	for i := 1; i <= 15; i++ {
		r := env.REST("POST", "/v1/clock:advance", apitest.AdminKey, map[string]any{"days": 3650})
		if i <= 2 {
			must200(t, "advance "+strconv.Itoa(i), r)
			continue
		}
		refused(t, "advance "+strconv.Itoa(i), r, http.StatusBadRequest, "TIME_TRAVEL_LIMIT")
		if f := r.FieldViolations(); !slices.Equal(f, []string{"days", "hours"}) {
			t.Fatalf("advance %d: fields %v, want days and hours", i, f)
		}
		if msg, _ := r.Body["message"].(string); !strings.Contains(msg, "7300 days") {
			t.Fatalf("advance %d: message %q does not say the limit", i, msg)
		}
	}
	now, offset, _ := clockOf(t, env)
	if offset != 7300*24*time.Hour {
		t.Fatalf("offset %s, want 7300 days", offset)
	}
	if want := time.Now().Add(offset); now.Before(want.Add(-time.Minute)) || now.After(want.Add(time.Minute)) {
		t.Fatalf("business time %s, want about %s", now, want)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"days": 7301}, "days"},
		{map[string]any{"hours": 7300*24 + 1}, "hours"},
		{map[string]any{"days": -1}, "days"},
		{map[string]any{"hours": -3}, "hours"},
		{map[string]any{}, "days"},
	} {
		r := env.REST("POST", "/v1/clock:advance", apitest.AdminKey, c.body)
		if r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), c.field) {
			t.Errorf("advance %v: %d %s, want 400 naming %s", c.body, r.Status, r.Raw, c.field)
		}
	}
	if _, again, _ := clockOf(t, env); again != offset {
		t.Fatalf("refused advances moved the clock: %s", again)
	}
}

// Every stored time follows the business clock, not the wall clock: members' join
// times, entries, lots, holds, goodwill approvals and their decisions, refunds,
// settings versions, verify and the liability report; and an EXPIRY entry is
// stamped at or after the expiry of the lots it expires.
func TestStoredTimesFollowTheBusinessClock(t *testing.T) {
	env := apitest.Start(t, timeTravelOn)
	app := env.Key(access.RoleApp)
	agent := env.Key(access.RoleAgent)
	ctx := t.Context()
	must200(t, "advance 400 days", env.REST("POST", "/v1/clock:advance", apitest.AdminKey, map[string]any{"days": 400}))
	from, _, _ := clockOf(t, env)

	joined := must200(t, "enroll", env.REST("POST", "/v1/members", app, map[string]any{"memberId": "tess"}))
	must200(t, "earn", env.REST("POST", "/v1/members/tess:earn", app, map[string]any{"requestId": "e-1", "points": 500}))
	must200(t, "earn on an order", env.REST("POST", "/v1/members/tess:earn", app,
		map[string]any{"requestId": "e-2", "orderId": "T1", "spend": map[string]any{"amountMinor": 20000, "currency": "CNY"}}))
	must200(t, "refund", env.REST("POST", "/v1/orders/T1:refund", app, map[string]any{"requestId": "rf-1", "memberId": "tess", "refundAmountMinor": 5000}))
	must200(t, "hold", env.REST("POST", "/v1/members/tess/holds", app, map[string]any{"requestId": "h-1", "points": 50}))
	must200(t, "redeem", env.REST("POST", "/v1/members/tess:redeem", app, map[string]any{"requestId": "d-1", "points": 20}))
	grant := must200(t, "goodwill above the limit", env.REST("POST", "/v1/members/tess:grantGoodwill", agent,
		map[string]any{"requestId": "g-1", "points": 900, "reasonCode": "DAMAGED_ITEM", "ticketId": "ZD-1"}))
	approval := grant.Body["approval"].(map[string]any)["approvalId"].(string)
	must200(t, "approve", env.REST("POST", "/v1/approvals/"+approval+":approve", apitest.AdminKey, map[string]any{}))
	prog, err := env.App.Ledger.Program(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.App.Ledger.UpdateProgram(ctx, ledger.Actor{KeyID: "key_test"}, prog); err != nil {
		t.Fatal(err)
	}
	policy, err := env.App.Tiers.Policy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.App.Tiers.UpdatePolicy(ctx, "key_test", policy); err != nil {
		t.Fatal(err)
	}
	verified := verifyOK(t, env)
	liability := must200(t, "liability", env.REST("GET", "/v1/reports/liability", apitest.AdminKey, nil))
	to, _, _ := clockOf(t, env)

	within := func(what string, at time.Time) {
		t.Helper()
		if at.Before(from) || at.After(to) {
			t.Errorf("%s at %s: not business time (between %s and %s)", what, at, from, to)
		}
	}
	parse := func(v any) time.Time {
		t.Helper()
		at, err := time.Parse(time.RFC3339Nano, v.(string))
		if err != nil {
			t.Fatalf("time %v: %v", v, err)
		}
		return at
	}
	within("join time (answer)", parse(joined.Body["member"].(map[string]any)["joinTime"]))
	within("verify time", parse(verified["verifyTime"]))
	within("liability report time", parse(liability.Body["reportTime"]))
	for _, q := range []struct{ what, sql string }{
		{"join time", "SELECT join_time FROM members WHERE member_id = 'tess'"},
		{"entry", "SELECT create_time FROM entries"},
		{"lot", "SELECT create_time FROM lots"},
		{"hold", "SELECT create_time FROM holds"},
		{"approval", "SELECT create_time FROM goodwill_approvals"},
		{"approval decision", "SELECT decide_time FROM goodwill_approvals"},
		{"refund", "SELECT create_time FROM refunds"},
		{"program settings", "SELECT update_time FROM program_settings WHERE version > 1"},
		{"tier policy", "SELECT create_time FROM tier_policies"},
	} {
		rows, err := env.Pool.Query(ctx, q.sql)
		if err != nil {
			t.Fatalf("%s: %v", q.what, err)
		}
		n := 0
		for rows.Next() {
			var at time.Time
			if err := rows.Scan(&at); err != nil {
				t.Fatalf("%s: %v", q.what, err)
			}
			within(q.what, at)
			n++
		}
		rows.Close()
		if n == 0 {
			t.Errorf("%s: no rows to check", q.what)
		}
	}

	// Past the lots' expiry (the end of the year after the business year they were
	// earned in), the expiry job's entry is stamped no earlier than that expiry.
	var expire time.Time
	if err := env.Pool.QueryRow(ctx, "SELECT max(expire_time) FROM lots WHERE remaining > 0").Scan(&expire); err != nil {
		t.Fatal(err)
	}
	days := int(expire.Sub(to).Hours()/24) + 2
	must200(t, "advance past the expiry", env.REST("POST", "/v1/clock:advance", apitest.AdminKey, map[string]any{"days": days}))
	if n, err := env.App.Ledger.ExpireHolds(ctx, 100); err != nil || n != 1 {
		t.Fatalf("expired %d holds (%v), want 1", n, err)
	}
	if n, err := env.App.Ledger.ReleasePending(ctx, 100); err != nil || n != 1 {
		t.Fatalf("released %d pending earnings (%v), want 1", n, err)
	}
	if n, err := env.App.Ledger.ExpireLots(ctx, 100); err != nil || n != 1 {
		t.Fatalf("expired points of %d members (%v), want 1", n, err)
	}
	var expiries int
	var early int
	if err := env.Pool.QueryRow(ctx, `
		SELECT count(DISTINCT e.entry_id), count(*) FILTER (WHERE e.create_time < l.expire_time)
		FROM entries e JOIN lot_moves m ON m.entry_id = e.entry_id JOIN lots l ON l.lot_id = m.lot_id
		WHERE e.kind = 'EXPIRY'`).Scan(&expiries, &early); err != nil {
		t.Fatal(err)
	}
	if expiries != 1 || early != 0 {
		t.Fatalf("%d EXPIRY entries, %d of their lot moves stamped before the lot's expiry; want 1 and 0", expiries, early)
	}
	// A member's entries are in time order by id.
	var disordered int
	if err := env.Pool.QueryRow(ctx, `
		SELECT count(*) FROM (
			SELECT create_time < lag(create_time) OVER (PARTITION BY member_id ORDER BY entry_id) AS back FROM entries
		) x WHERE back`).Scan(&disordered); err != nil {
		t.Fatal(err)
	}
	if disordered != 0 {
		t.Fatalf("%d entries stamped before the entry preceding them", disordered)
	}
	verifyOK(t, env)
}
