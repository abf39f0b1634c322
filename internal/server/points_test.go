package server_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// num reads an int64 from JSON: protojson writes int64 as a string, and omits
// nothing here (EmitUnpopulated), so a missing value is a test failure.
func num(t testing.TB, v any) int64 {
	t.Helper()
	switch x := v.(type) {
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			t.Fatalf("not an int64: %q", x)
		}
		return n
	case float64:
		return int64(x)
	default:
		t.Fatalf("not a number: %#v", v)
		return 0
	}
}

// obj is a JSON object inside a decoded body.
func obj(t testing.TB, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("not a JSON object: %#v", v)
	}
	return m
}

// list is a JSON array of objects inside a decoded body.
func list(t testing.TB, v any) []map[string]any {
	t.Helper()
	if v == nil {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		t.Fatalf("not a JSON array: %#v", v)
	}
	out := make([]map[string]any, len(arr))
	for i, x := range arr {
		out[i] = obj(t, x)
	}
	return out
}

// must200 fails the test unless the answer is 200.
func must200(t testing.TB, what string, r apitest.Response) apitest.Response {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s: status %d: %s", what, r.Status, r.Raw)
	}
	return r
}

// refused checks an error answer's status and reason.
func refused(t testing.TB, what string, r apitest.Response, status int, reason string) {
	t.Helper()
	if r.Status != status || r.Reason() != reason {
		t.Errorf("%s: got %d %q, want %d %s: %s", what, r.Status, r.Reason(), status, reason, r.Raw)
	}
}

func enroll(t testing.TB, env *apitest.Env, key, memberID string) {
	t.Helper()
	must200(t, "enroll "+memberID, env.REST("POST", "/v1/members", key, map[string]any{"memberId": memberID}))
}

// earn credits points and returns the entry.
func earn(t testing.TB, env *apitest.Env, key, memberID, requestID string, points int64) map[string]any {
	t.Helper()
	r := must200(t, "earn", env.REST("POST", "/v1/members/"+memberID+":earn", key, map[string]any{"requestId": requestID, "points": points}))
	return obj(t, r.Body["entry"])
}

// redeem spends points and returns the entry.
func redeem(t testing.TB, env *apitest.Env, key, memberID, requestID string, points int64) map[string]any {
	t.Helper()
	r := must200(t, "redeem", env.REST("POST", "/v1/members/"+memberID+":redeem", key, map[string]any{"requestId": requestID, "points": points}))
	return obj(t, r.Body["entry"])
}

// hold places a hold and returns the hold and its entry.
func hold(t testing.TB, env *apitest.Env, key, memberID, requestID string, points int64) (map[string]any, map[string]any) {
	t.Helper()
	r := must200(t, "hold", env.REST("POST", "/v1/members/"+memberID+"/holds", key, map[string]any{"requestId": requestID, "points": points, "ttl": "60s"}))
	return obj(t, r.Body["hold"]), obj(t, r.Body["entry"])
}

type bal struct{ available, pending, held int64 }

func balanceOf(t testing.TB, env *apitest.Env, key, memberID string) bal {
	t.Helper()
	r := must200(t, "balance", env.REST("GET", "/v1/members/"+memberID+"/balance", key, nil))
	if r.Body["memberId"] != memberID {
		t.Errorf("balance names member %v, want %s", r.Body["memberId"], memberID)
	}
	return bal{num(t, r.Body["available"]), num(t, r.Body["pending"]), num(t, r.Body["held"])}
}

// activity returns every entry of the member (one page of up to 200), newest first.
func activity(t testing.TB, env *apitest.Env, key, memberID string) []map[string]any {
	t.Helper()
	r := must200(t, "activity", env.REST("GET", "/v1/members/"+memberID+"/activity?pageSize=200", key, nil))
	if r.Body["nextPageToken"] != "" {
		t.Fatalf("activity does not fit one page of 200")
	}
	return list(t, r.Body["entries"])
}

// dbState summarises everything a refused request must leave alone.
func dbState(t testing.TB, env *apitest.Env) string {
	t.Helper()
	var entries, holds, deltas int64
	var balances string
	err := env.Pool.QueryRow(t.Context(), `SELECT
		(SELECT count(*) FROM entries), (SELECT count(*) FROM holds), (SELECT count(*) FROM system_deltas),
		(SELECT coalesce(string_agg(member_id || ':' || available || '/' || pending || '/' || held, ',' ORDER BY member_id), '') FROM member_balances)`).
		Scan(&entries, &holds, &deltas, &balances)
	if err != nil {
		t.Fatalf("read database state: %v", err)
	}
	return fmt.Sprintf("entries=%d holds=%d deltas=%d balances=[%s]", entries, holds, deltas, balances)
}

// checkPostings asserts that an entry's postings sum to zero and that its points
// and heldPoints are its postings to available and held.
func checkPostings(t testing.TB, e map[string]any) {
	t.Helper()
	var sum, available, held int64
	postings := list(t, e["postings"])
	if len(postings) < 2 {
		t.Errorf("entry %v has %d postings, want at least 2", e["entryId"], len(postings))
	}
	for _, p := range postings {
		amount := num(t, p["amount"])
		sum += amount
		switch p["account"] {
		case "available":
			available += amount
		case "held":
			held += amount
		}
	}
	if sum != 0 {
		t.Errorf("entry %v: postings sum to %d, not 0: %v", e["entryId"], sum, postings)
	}
	if got := num(t, e["points"]); got != available {
		t.Errorf("entry %v: points %d, but its postings move available by %d", e["entryId"], got, available)
	}
	if got := num(t, e["heldPoints"]); got != held {
		t.Errorf("entry %v: heldPoints %d, but its postings move held by %d", e["entryId"], got, held)
	}
}

func posting(t testing.TB, e map[string]any, account string) int64 {
	t.Helper()
	var sum int64
	for _, p := range list(t, e["postings"]) {
		if p["account"] == account {
			sum += num(t, p["amount"])
		}
	}
	return sum
}

func TestEarnBalanceRedeemActivityOverREST(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "ann")

	if b := balanceOf(t, env, app, "ann"); b != (bal{}) {
		t.Fatalf("new member's balance %+v, want zeros", b)
	}

	noReturnWindow(t, env) // this walk-through wants order points available at once
	r := must200(t, "earn", env.REST("POST", "/v1/members/ann:earn", app,
		map[string]any{"requestId": "order-1-earn", "points": 100, "orderId": "order-1", "reason": "purchase"}))
	first := obj(t, r.Body["entry"])
	if first["kind"] != "EARN" || num(t, first["points"]) != 100 || num(t, first["balanceAfter"]) != 100 ||
		first["memberId"] != "ann" || first["requestId"] != "order-1-earn" || first["orderId"] != "order-1" || first["entryId"] == "" {
		t.Errorf("earn entry: %v", first)
	}
	if posting(t, first, "system:issued") != -100 {
		t.Errorf("earn must come from system:issued: %v", first["postings"])
	}
	checkPostings(t, first)
	breakdown := list(t, r.Body["breakdown"])
	if len(breakdown) != 1 || breakdown[0]["source"] != "EXPLICIT" || num(t, breakdown[0]["points"]) != 100 {
		t.Errorf("breakdown %v, want one EXPLICIT line of 100", breakdown)
	}

	second := earn(t, env, app, "ann", "order-2-earn", 50)
	if num(t, second["balanceAfter"]) != 150 {
		t.Errorf("second earn: balanceAfter %v, want 150", second["balanceAfter"])
	}
	if b := balanceOf(t, env, app, "ann"); b != (bal{available: 150}) {
		t.Errorf("balance after earning 100+50: %+v", b)
	}

	spent := redeem(t, env, app, "ann", "order-3-redeem", 30)
	if spent["kind"] != "REDEEM" || num(t, spent["points"]) != -30 || num(t, spent["balanceAfter"]) != 120 {
		t.Errorf("redeem entry: %v", spent)
	}
	if posting(t, spent, "system:redeemed") != 30 {
		t.Errorf("redeem must go to system:redeemed: %v", spent["postings"])
	}
	checkPostings(t, spent)
	if b := balanceOf(t, env, app, "ann"); b != (bal{available: 120}) {
		t.Errorf("balance after redeeming 30: %+v", b)
	}

	// The statement: newest first, each with its running balance.
	entries := activity(t, env, app, "ann")
	var kinds, ids []string
	for _, e := range entries {
		kinds = append(kinds, e["kind"].(string))
		ids = append(ids, e["entryId"].(string))
		checkPostings(t, e)
	}
	if want := []string{spent["entryId"].(string), second["entryId"].(string), first["entryId"].(string)}; !slices.Equal(ids, want) {
		t.Fatalf("activity entry ids %v, want newest first %v", ids, want)
	}
	if !slices.Equal(kinds, []string{"REDEEM", "EARN", "EARN"}) {
		t.Errorf("activity kinds %v", kinds)
	}
	var running int64
	for i := len(entries) - 1; i >= 0; i-- {
		running += num(t, entries[i]["points"])
		if got := num(t, entries[i]["balanceAfter"]); got != running {
			t.Errorf("entry %v: balanceAfter %d, want running balance %d", entries[i]["entryId"], got, running)
		}
	}
	if running != 120 {
		t.Errorf("statement sums to %d, balance is 120", running)
	}

	// Readers other than the app see the same balance; a marketer may not.
	if b := balanceOf(t, env, env.Key(access.RoleAgent), "ann"); b.available != 120 {
		t.Errorf("agent sees available %d", b.available)
	}
	if r := env.REST("GET", "/v1/members/ann/balance", env.Key(access.RoleMarketer), nil); r.Status != http.StatusForbidden {
		t.Errorf("marketer reading a balance: %d, want 403", r.Status)
	}
}

func TestEarnAndRedeemAreIdempotentOverREST(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "bea")

	first := earn(t, env, app, "bea", "r-1", 100)
	again := earn(t, env, app, "bea", "r-1", 100)
	if again["entryId"] != first["entryId"] || again["createTime"] != first["createTime"] || num(t, again["balanceAfter"]) != 100 {
		t.Errorf("repeated earn answered %v, first was %v", again, first)
	}
	if b := balanceOf(t, env, app, "bea"); b.available != 100 {
		t.Fatalf("a repeated earn credited twice: available %d", b.available)
	}

	before := dbState(t, env)
	conflict := env.REST("POST", "/v1/members/bea:earn", app, map[string]any{"requestId": "r-1", "points": 999})
	refused(t, "same requestId, other points", conflict, http.StatusConflict, "IDEMPOTENCY_CONFLICT")
	otherOp := env.REST("POST", "/v1/members/bea:redeem", app, map[string]any{"requestId": "r-1", "points": 100})
	refused(t, "same requestId, other operation", otherOp, http.StatusConflict, "IDEMPOTENCY_CONFLICT")
	if after := dbState(t, env); after != before {
		t.Errorf("a conflicting request changed the database:\n before %s\n after  %s", before, after)
	}

	// The Idempotency-Key header stands in for requestId.
	r := must200(t, "earn with Idempotency-Key", env.REST("POST", "/v1/members/bea:earn", app, map[string]any{"points": 10}, "Idempotency-Key", "hk-1"))
	viaHeader := obj(t, r.Body["entry"])
	if viaHeader["requestId"] != "hk-1" || num(t, viaHeader["balanceAfter"]) != 110 {
		t.Errorf("earn keyed by header: %v", viaHeader)
	}
	r = must200(t, "repeat with Idempotency-Key", env.REST("POST", "/v1/members/bea:earn", app, map[string]any{"points": 10}, "Idempotency-Key", "hk-1"))
	if obj(t, r.Body["entry"])["entryId"] != viaHeader["entryId"] {
		t.Errorf("repeat keyed by header made a new entry: %s", r.Raw)
	}
	// The same key in the body is the same request.
	if e := earn(t, env, app, "bea", "hk-1", 10); e["entryId"] != viaHeader["entryId"] {
		t.Errorf("header key and body key of the same value are different requests: %v", e)
	}
	// Both, equal: fine.
	r = must200(t, "header and body agree", env.REST("POST", "/v1/members/bea:earn", app, map[string]any{"requestId": "hk-1", "points": 10}, "Idempotency-Key", "hk-1"))
	if obj(t, r.Body["entry"])["entryId"] != viaHeader["entryId"] {
		t.Errorf("header and body agreeing made a new entry: %s", r.Raw)
	}
	if b := balanceOf(t, env, app, "bea"); b.available != 110 {
		t.Fatalf("available %d after header-keyed repeats, want 110", b.available)
	}
	// Both, different: refused, naming requestId.
	before = dbState(t, env)
	mismatch := env.REST("POST", "/v1/members/bea:earn", app, map[string]any{"requestId": "body-key", "points": 10}, "Idempotency-Key", "header-key")
	if mismatch.Status != http.StatusBadRequest || !slices.Contains(mismatch.FieldViolations(), "requestId") {
		t.Errorf("header and body keys differ: %d %v, want 400 naming requestId: %s", mismatch.Status, mismatch.FieldViolations(), mismatch.Raw)
	}
	if after := dbState(t, env); after != before {
		t.Errorf("a refused request changed the database:\n before %s\n after  %s", before, after)
	}

	// Redeem: a repeat answers its first result even when the points are gone by now.
	spend := redeem(t, env, app, "bea", "spend-all", 110)
	if num(t, spend["balanceAfter"]) != 0 {
		t.Fatalf("redeem all: %v", spend)
	}
	if e := redeem(t, env, app, "bea", "spend-all", 110); e["entryId"] != spend["entryId"] {
		t.Errorf("repeated redeem answered %v, first was %v", e, spend)
	}
	if b := balanceOf(t, env, app, "bea"); b.available != 0 {
		t.Errorf("available %d after a repeated redeem, want 0", b.available)
	}
	if n := len(activity(t, env, app, "bea")); n != 3 {
		t.Errorf("statement has %d entries, want 3 (earn, earn, redeem)", n)
	}

	// Request ids are per member: another member may use the same one.
	enroll(t, env, app, "cal")
	if e := earn(t, env, app, "cal", "r-1", 7); e["entryId"] == first["entryId"] || num(t, e["balanceAfter"]) != 7 {
		t.Errorf("another member's r-1: %v", e)
	}
}

func TestRedeemMoreThanAvailableIsRefusedAndChangesNothing(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "dan")
	earn(t, env, app, "dan", "e-1", 40)
	statement := activity(t, env, app, "dan")
	before := dbState(t, env)

	r := env.REST("POST", "/v1/members/dan:redeem", app, map[string]any{"requestId": "too-much", "points": 41})
	refused(t, "redeem 41 of 40", r, http.StatusBadRequest, "INSUFFICIENT_POINTS")
	var meta map[string]any
	for _, d := range list(t, r.Body["details"]) {
		if d["reason"] != nil {
			meta, _ = d["metadata"].(map[string]any)
		}
	}
	if meta["available"] != "40" || meta["requested"] != "41" {
		t.Errorf("ErrorInfo metadata %v, want available 40 and requested 41", meta)
	}
	if after := dbState(t, env); after != before {
		t.Errorf("a refused redeem changed the database:\n before %s\n after  %s", before, after)
	}
	if b := balanceOf(t, env, app, "dan"); b.available != 40 {
		t.Errorf("available %d after a refused redeem, want 40", b.available)
	}
	if got := activity(t, env, app, "dan"); len(got) != len(statement) || got[0]["entryId"] != statement[0]["entryId"] {
		t.Errorf("statement changed by a refused redeem: %v", got)
	}

	// The refusal is not remembered: the same requestId works once points are there.
	earn(t, env, app, "dan", "e-2", 1)
	if e := redeem(t, env, app, "dan", "too-much", 41); num(t, e["balanceAfter"]) != 0 {
		t.Errorf("redeem after topping up: %v", e)
	}

	// gRPC: FAILED_PRECONDITION with the same reason.
	_, err := loyaltyv1.NewPointsServiceClient(env.Conn).Redeem(env.Ctx(app), &loyaltyv1.RedeemRequest{MemberId: "dan", RequestId: "grpc-1", Points: 1})
	st := status.Convert(err)
	if st.Code() != codes.FailedPrecondition {
		t.Fatalf("gRPC redeem from an empty balance: %v, want FailedPrecondition", err)
	}
	var reason string
	for _, d := range st.Details() {
		if info, isInfo := d.(*errdetails.ErrorInfo); isInfo {
			reason = info.GetReason()
		}
	}
	if reason != "INSUFFICIENT_POINTS" {
		t.Errorf("gRPC reason %q, want INSUFFICIENT_POINTS", reason)
	}
}

func TestPointsValidationNamesTheFieldAndChangesNothing(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "eve")
	earn(t, env, app, "eve", "seed", 100)
	long := strings.Repeat("m", 65)
	cases := []struct {
		name, path string
		body       any
		field      string
	}{
		{"earn zero", "/v1/members/eve:earn", map[string]any{"requestId": "v1", "points": 0}, "points"},
		{"earn no points", "/v1/members/eve:earn", map[string]any{"requestId": "v1"}, "points"},
		{"earn negative", "/v1/members/eve:earn", map[string]any{"requestId": "v1", "points": -5}, "points"},
		{"earn too many", "/v1/members/eve:earn", map[string]any{"requestId": "v1", "points": 1_000_000_000_001}, "points"},
		{"earn no requestId", "/v1/members/eve:earn", map[string]any{"points": 5}, "requestId"},
		{"earn bad requestId", "/v1/members/eve:earn", map[string]any{"requestId": "has space", "points": 5}, "requestId"},
		{"earn bad orderId", "/v1/members/eve:earn", map[string]any{"requestId": "v1", "points": 5, "orderId": "a b"}, "orderId"},
		{"earn bad memberId", "/v1/members/" + long + ":earn", map[string]any{"requestId": "v1", "points": 5}, "memberId"},
		{"earn memberId with space", "/v1/members/a%20b:earn", map[string]any{"requestId": "v1", "points": 5}, "memberId"},
		{"redeem zero", "/v1/members/eve:redeem", map[string]any{"requestId": "v1", "points": 0}, "points"},
		{"redeem negative", "/v1/members/eve:redeem", map[string]any{"requestId": "v1", "points": -5}, "points"},
		{"redeem no requestId", "/v1/members/eve:redeem", map[string]any{"points": 5}, "requestId"},
		{"redeem bad memberId", "/v1/members/" + long + ":redeem", map[string]any{"requestId": "v1", "points": 5}, "memberId"},
		{"hold zero", "/v1/members/eve/holds", map[string]any{"requestId": "v1", "points": 0}, "points"},
		{"hold no requestId", "/v1/members/eve/holds", map[string]any{"points": 5}, "requestId"},
		{"hold zero ttl", "/v1/members/eve/holds", map[string]any{"requestId": "v1", "points": 5, "ttl": "0s"}, "ttl"},
		{"hold ttl over 30 days", "/v1/members/eve/holds", map[string]any{"requestId": "v1", "points": 5, "ttl": "2592001s"}, "ttl"},
		{"capture negative", "/v1/holds/1:capture", map[string]any{"requestId": "v1", "points": -1}, "points"},
		{"capture bad holdId", "/v1/holds/abc:capture", map[string]any{"requestId": "v1"}, "holdId"},
		{"void bad holdId", "/v1/holds/-3:void", map[string]any{"requestId": "v1"}, "holdId"},
		{"reverse bad entryId", "/v1/entries/x:reverse", map[string]any{"requestId": "v1", "reason": "r"}, "entryId"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := app
			if strings.Contains(tc.path, ":reverse") {
				key = apitest.AdminKey
			}
			before := dbState(t, env)
			r := env.REST("POST", tc.path, key, tc.body)
			if r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), tc.field) {
				t.Errorf("status %d, fields %v; want 400 naming %s: %s", r.Status, r.FieldViolations(), tc.field, r.Raw)
			}
			if after := dbState(t, env); after != before {
				t.Errorf("a refused request changed the database:\n before %s\n after  %s", before, after)
			}
		})
	}
	for _, path := range []string{"/v1/members/" + long + "/balance", "/v1/members/" + long + "/activity"} {
		if r := env.REST("GET", path, app, nil); r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), "memberId") {
			t.Errorf("GET %s: %d %v, want 400 naming memberId", path, r.Status, r.FieldViolations())
		}
	}
	if r := env.REST("POST", "/v1/members/eve:earn", app, `{"requestId":"v1","pointz":5}`); r.Status != http.StatusBadRequest {
		t.Errorf("misspelt field: %d, want 400", r.Status)
	}

	before := dbState(t, env)
	for _, c := range []struct{ method, path string }{
		{"POST", "/v1/members/nobody:earn"}, {"POST", "/v1/members/nobody:redeem"}, {"POST", "/v1/members/nobody/holds"},
		{"GET", "/v1/members/nobody/balance"}, {"GET", "/v1/members/nobody/activity"},
	} {
		var body any
		if c.method == "POST" {
			body = map[string]any{"requestId": "u1", "points": 5}
		}
		refused(t, c.method+" "+c.path, env.REST(c.method, c.path, app, body), http.StatusNotFound, "MEMBER_NOT_FOUND")
	}
	if after := dbState(t, env); after != before {
		t.Errorf("requests for an unknown member changed the database:\n before %s\n after  %s", before, after)
	}
	if b := balanceOf(t, env, app, "eve"); b != (bal{available: 100}) {
		t.Errorf("balance %+v after refused requests, want 100 available", b)
	}

	// gRPC names the field the same way.
	_, err := loyaltyv1.NewPointsServiceClient(env.Conn).Earn(env.Ctx(app), &loyaltyv1.EarnRequest{MemberId: "eve", RequestId: "g1", Points: 0})
	if fields := grpcFields(err); status.Code(err) != codes.InvalidArgument || !slices.Contains(fields, "points") {
		t.Errorf("gRPC earn of 0: %v, fields %v", err, fields)
	}
}

func grpcFields(err error) []string {
	var fields []string
	for _, d := range status.Convert(err).Details() {
		if br, isBR := d.(*errdetails.BadRequest); isBR {
			for _, fv := range br.GetFieldViolations() {
				fields = append(fields, fv.GetField())
			}
		}
	}
	return fields
}

func TestHoldsOverREST(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "fay")
	earn(t, env, app, "fay", "e-1", 100)

	h1, h1Entry := hold(t, env, app, "fay", "hold-1", 50)
	h1ID, _ := h1["holdId"].(string)
	if h1ID == "" || h1["status"] != "ACTIVE" || num(t, h1["points"]) != 50 || h1["memberId"] != "fay" {
		t.Fatalf("hold: %v", h1)
	}
	created, err1 := time.Parse(time.RFC3339Nano, fmt.Sprint(h1["createTime"]))
	expires, err2 := time.Parse(time.RFC3339Nano, fmt.Sprint(h1["expireTime"]))
	if err1 != nil || err2 != nil || (expires.Sub(created)-60*time.Second).Abs() > time.Second {
		t.Errorf("hold of ttl 60s: created %v, expires %v (%v, %v)", h1["createTime"], h1["expireTime"], err1, err2)
	}
	if h1Entry["kind"] != "HOLD" || h1Entry["holdId"] != h1ID || num(t, h1Entry["points"]) != -50 ||
		num(t, h1Entry["heldPoints"]) != 50 || num(t, h1Entry["heldAfter"]) != 50 || num(t, h1Entry["balanceAfter"]) != 50 {
		t.Errorf("hold entry: %v", h1Entry)
	}
	checkPostings(t, h1Entry)
	if b := balanceOf(t, env, app, "fay"); b != (bal{available: 50, held: 50}) {
		t.Errorf("balance with 50 held: %+v", b)
	}
	// A repeat answers the same hold.
	if again, _ := hold(t, env, app, "fay", "hold-1", 50); again["holdId"] != h1ID {
		t.Errorf("repeated hold made hold %v, first was %s", again["holdId"], h1ID)
	}

	// Held points cannot be spent: 100 earned, 50 held, 60 asked.
	before := dbState(t, env)
	refused(t, "redeem over available-minus-held", env.REST("POST", "/v1/members/fay:redeem", app,
		map[string]any{"requestId": "r-60", "points": 60}), http.StatusBadRequest, "INSUFFICIENT_POINTS")
	refused(t, "second hold over available", env.REST("POST", "/v1/members/fay/holds", app,
		map[string]any{"requestId": "hold-big", "points": 51}), http.StatusBadRequest, "INSUFFICIENT_POINTS")
	if after := dbState(t, env); after != before {
		t.Errorf("refused redeem/hold changed the database (a hold row left behind?):\n before %s\n after  %s", before, after)
	}

	// Capture more than held: refused, the hold stays active.
	refused(t, "capture 51 of 50", env.REST("POST", "/v1/holds/"+h1ID+":capture", app,
		map[string]any{"requestId": "cap-too-much", "points": 51}), http.StatusBadRequest, "CAPTURE_EXCEEDS_HOLD")
	if after := dbState(t, env); after != before {
		t.Errorf("a refused capture changed the database:\n before %s\n after  %s", before, after)
	}

	// Partial capture: 30 redeemed, 20 back to available.
	r := must200(t, "capture 30", env.REST("POST", "/v1/holds/"+h1ID+":capture", app, map[string]any{"requestId": "cap-1", "points": 30}))
	captured, capEntry := obj(t, r.Body["hold"]), obj(t, r.Body["entry"])
	if captured["status"] != "CAPTURED" || num(t, captured["capturedPoints"]) != 30 || num(t, captured["points"]) != 50 {
		t.Errorf("captured hold: %v", captured)
	}
	if capEntry["kind"] != "HOLD_CAPTURE" || capEntry["holdId"] != h1ID || num(t, capEntry["points"]) != 20 ||
		num(t, capEntry["heldPoints"]) != -50 || posting(t, capEntry, "system:redeemed") != 30 {
		t.Errorf("capture entry: %v", capEntry)
	}
	checkPostings(t, capEntry)
	if b := balanceOf(t, env, app, "fay"); b != (bal{available: 70}) {
		t.Errorf("balance after capturing 30 of 50: %+v, want 70 available, 0 held", b)
	}
	refused(t, "capture again with a new requestId", env.REST("POST", "/v1/holds/"+h1ID+":capture", app,
		map[string]any{"requestId": "cap-2", "points": 30}), http.StatusBadRequest, "HOLD_NOT_ACTIVE")
	refused(t, "void a captured hold", env.REST("POST", "/v1/holds/"+h1ID+":void", app,
		map[string]any{"requestId": "void-captured"}), http.StatusBadRequest, "HOLD_NOT_ACTIVE")
	r = must200(t, "repeat capture", env.REST("POST", "/v1/holds/"+h1ID+":capture", app, map[string]any{"requestId": "cap-1", "points": 30}))
	if e := obj(t, r.Body["entry"]); e["entryId"] != capEntry["entryId"] || obj(t, r.Body["hold"])["status"] != "CAPTURED" ||
		num(t, obj(t, r.Body["hold"])["capturedPoints"]) != 30 {
		t.Errorf("repeated capture answered %s, first entry %v", r.Raw, capEntry["entryId"])
	}
	refused(t, "same capture requestId, other points", env.REST("POST", "/v1/holds/"+h1ID+":capture", app,
		map[string]any{"requestId": "cap-1", "points": 10}), http.StatusConflict, "IDEMPOTENCY_CONFLICT")
	if b := balanceOf(t, env, app, "fay"); b != (bal{available: 70}) {
		t.Errorf("balance after repeated captures: %+v, want 70 available", b)
	}

	// Void gives the points back.
	h2, _ := hold(t, env, app, "fay", "hold-2", 40)
	h2ID := h2["holdId"].(string)
	if b := balanceOf(t, env, app, "fay"); b != (bal{available: 30, held: 40}) {
		t.Errorf("balance with 40 held: %+v", b)
	}
	r = must200(t, "void", env.REST("POST", "/v1/holds/"+h2ID+":void", app, map[string]any{"requestId": "void-2"}))
	voidEntry := obj(t, r.Body["entry"])
	if obj(t, r.Body["hold"])["status"] != "VOIDED" || voidEntry["kind"] != "HOLD_VOID" || num(t, voidEntry["points"]) != 40 {
		t.Errorf("void: %s", r.Raw)
	}
	checkPostings(t, voidEntry)
	r = must200(t, "repeat void", env.REST("POST", "/v1/holds/"+h2ID+":void", app, map[string]any{"requestId": "void-2"}))
	if obj(t, r.Body["entry"])["entryId"] != voidEntry["entryId"] {
		t.Errorf("repeated void answered %s", r.Raw)
	}
	r = must200(t, "repeat void keyed by header", env.REST("POST", "/v1/holds/"+h2ID+":void", app, map[string]any{}, "Idempotency-Key", "void-2"))
	if obj(t, r.Body["entry"])["entryId"] != voidEntry["entryId"] {
		t.Errorf("void repeated with the Idempotency-Key header answered %s", r.Raw)
	}
	if b := balanceOf(t, env, app, "fay"); b != (bal{available: 70}) {
		t.Errorf("balance after void: %+v, want 70 available", b)
	}

	// Reading holds, also as an agent.
	agent := env.Key(access.RoleAgent)
	if got := obj(t, must200(t, "get hold 1", env.REST("GET", "/v1/holds/"+h1ID, agent, nil)).Body["hold"]); got["status"] != "CAPTURED" || num(t, got["capturedPoints"]) != 30 {
		t.Errorf("GET hold 1: %v", got)
	}
	if got := obj(t, must200(t, "get hold 2", env.REST("GET", "/v1/holds/"+h2ID, agent, nil)).Body["hold"]); got["status"] != "VOIDED" || num(t, got["capturedPoints"]) != 0 {
		t.Errorf("GET hold 2: %v", got)
	}

	// Capture without points takes the whole hold.
	h3, _ := hold(t, env, app, "fay", "hold-3", 20)
	r = must200(t, "full capture", env.REST("POST", "/v1/holds/"+h3["holdId"].(string)+":capture", app, map[string]any{"requestId": "cap-3"}))
	if num(t, obj(t, r.Body["hold"])["capturedPoints"]) != 20 || num(t, obj(t, r.Body["entry"])["points"]) != 0 {
		t.Errorf("full capture: %s", r.Raw)
	}
	if b := balanceOf(t, env, app, "fay"); b != (bal{available: 50}) {
		t.Errorf("balance after full capture of 20: %+v, want 50", b)
	}

	// Unknown holds.
	before = dbState(t, env)
	refused(t, "get unknown hold", env.REST("GET", "/v1/holds/999999", app, nil), http.StatusNotFound, "HOLD_NOT_FOUND")
	refused(t, "capture unknown hold", env.REST("POST", "/v1/holds/999999:capture", app, map[string]any{"requestId": "x"}), http.StatusNotFound, "HOLD_NOT_FOUND")
	refused(t, "void unknown hold", env.REST("POST", "/v1/holds/999999:void", app, map[string]any{"requestId": "x"}), http.StatusNotFound, "HOLD_NOT_FOUND")
	if after := dbState(t, env); after != before {
		t.Errorf("requests on unknown holds changed the database")
	}

	// The statement tells the story, and the books balance.
	var kinds []string
	for _, e := range activity(t, env, app, "fay") {
		kinds = append(kinds, e["kind"].(string))
		checkPostings(t, e)
	}
	if want := []string{"HOLD_CAPTURE", "HOLD", "HOLD_VOID", "HOLD", "HOLD_CAPTURE", "HOLD", "EARN"}; !slices.Equal(kinds, want) {
		t.Errorf("statement kinds %v, want %v", kinds, want)
	}
	verifyOK(t, env)
}

func TestReverseEntryOverREST(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	admin := apitest.AdminKey
	enroll(t, env, app, "gus")
	earned := earn(t, env, app, "gus", "e-1", 100)
	spent := redeem(t, env, app, "gus", "r-1", 40)

	// The app may not reverse.
	before := dbState(t, env)
	if r := env.REST("POST", "/v1/entries/"+spent["entryId"].(string)+":reverse", app, map[string]any{"requestId": "rev-app", "reason": "x"}); r.Status != http.StatusForbidden {
		t.Errorf("app reversing: %d, want 403: %s", r.Status, r.Raw)
	}
	if after := dbState(t, env); after != before {
		t.Errorf("a forbidden reversal changed the database")
	}

	r := must200(t, "reverse redeem", env.REST("POST", "/v1/entries/"+spent["entryId"].(string)+":reverse", admin,
		map[string]any{"requestId": "rev-1", "reason": "order cancelled"}))
	rev := obj(t, r.Body["entry"])
	if rev["kind"] != "REVERSAL" || rev["reversesEntryId"] != spent["entryId"] || num(t, rev["points"]) != 40 ||
		num(t, rev["balanceAfter"]) != 100 || rev["memberId"] != "gus" || rev["memo"] != "order cancelled" {
		t.Errorf("reversal entry: %v", rev)
	}
	if posting(t, rev, "system:redeemed") != -40 {
		t.Errorf("reversal of a redemption must take back from system:redeemed: %v", rev["postings"])
	}
	checkPostings(t, rev)
	if b := balanceOf(t, env, app, "gus"); b.available != 100 {
		t.Errorf("available %d after reversing the redemption, want 100", b.available)
	}
	r = must200(t, "repeat reversal", env.REST("POST", "/v1/entries/"+spent["entryId"].(string)+":reverse", admin,
		map[string]any{"requestId": "rev-1", "reason": "order cancelled"}))
	if obj(t, r.Body["entry"])["entryId"] != rev["entryId"] {
		t.Errorf("repeated reversal answered %s", r.Raw)
	}

	before = dbState(t, env)
	refused(t, "reverse twice", env.REST("POST", "/v1/entries/"+spent["entryId"].(string)+":reverse", admin,
		map[string]any{"requestId": "rev-2", "reason": "again"}), http.StatusBadRequest, "ALREADY_REVERSED")
	refused(t, "reverse a reversal", env.REST("POST", "/v1/entries/"+rev["entryId"].(string)+":reverse", admin,
		map[string]any{"requestId": "rev-rev", "reason": "undo"}), http.StatusBadRequest, "NOT_REVERSIBLE")
	refused(t, "reverse an unknown entry", env.REST("POST", "/v1/entries/999999:reverse", admin,
		map[string]any{"requestId": "rev-x", "reason": "x"}), http.StatusNotFound, "ENTRY_NOT_FOUND")
	if r := env.REST("POST", "/v1/entries/"+earned["entryId"].(string)+":reverse", admin, map[string]any{"requestId": "rev-3"}); r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), "reason") {
		t.Errorf("reversal without a reason: %d %v, want 400 naming reason", r.Status, r.FieldViolations())
	}
	if after := dbState(t, env); after != before {
		t.Errorf("refused reversals changed the database:\n before %s\n after  %s", before, after)
	}

	// The earned points are spent: reversing the earning would overdraw.
	redeem(t, env, app, "gus", "r-2", 95)
	before = dbState(t, env)
	refused(t, "reverse a spent earning", env.REST("POST", "/v1/entries/"+earned["entryId"].(string)+":reverse", admin,
		map[string]any{"requestId": "rev-earn", "reason": "fraud"}), http.StatusBadRequest, "INSUFFICIENT_POINTS")
	if after := dbState(t, env); after != before {
		t.Errorf("a refused reversal changed the database:\n before %s\n after  %s", before, after)
	}

	// Hold movements are undone by void or capture, not reversal.
	_, holdEntry := hold(t, env, app, "gus", "h-1", 5)
	before = dbState(t, env)
	refused(t, "reverse a hold", env.REST("POST", "/v1/entries/"+holdEntry["entryId"].(string)+":reverse", admin,
		map[string]any{"requestId": "rev-hold", "reason": "x"}), http.StatusBadRequest, "NOT_REVERSIBLE")
	if after := dbState(t, env); after != before {
		t.Errorf("refused reversals changed the database:\n before %s\n after  %s", before, after)
	}
	if b := balanceOf(t, env, app, "gus"); b != (bal{available: 0, held: 5}) {
		t.Errorf("balance %+v, want 0 available and 5 held", b)
	}
	verifyOK(t, env)
}

func TestActivityPagesFiltersAndBalanceAsOf(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "hal")

	first := earn(t, env, app, "hal", "e-1", 10)
	time.Sleep(20 * time.Millisecond)
	second := earn(t, env, app, "hal", "e-2", 5)
	all := []string{first["entryId"].(string), second["entryId"].(string)}
	var redeems []string
	for i := 3; i <= 8; i++ {
		var e map[string]any
		if i%3 == 0 {
			e = redeem(t, env, app, "hal", fmt.Sprintf("r-%d", i), 1)
			redeems = append(redeems, e["entryId"].(string))
		} else {
			e = earn(t, env, app, "hal", fmt.Sprintf("e-%d", i), int64(i))
		}
		all = append(all, e["entryId"].(string))
	}
	slices.Reverse(all) // newest first
	slices.Reverse(redeems)
	// Another member's entries must not show.
	enroll(t, env, app, "ivy")
	earn(t, env, app, "ivy", "e-1", 1)

	var walked []string
	token, pages := "", 0
	for {
		path := "/v1/members/hal/activity?pageSize=2"
		if token != "" {
			path += "&pageToken=" + url.QueryEscape(token)
		}
		r := must200(t, "activity page", env.REST("GET", path, app, nil))
		entries := list(t, r.Body["entries"])
		if len(entries) == 0 || len(entries) > 2 {
			t.Fatalf("page %d has %d entries: %s", pages, len(entries), r.Raw)
		}
		for _, e := range entries {
			walked = append(walked, e["entryId"].(string))
		}
		pages++
		token, _ = r.Body["nextPageToken"].(string)
		if token == "" || pages > 10 {
			break
		}
	}
	if !slices.Equal(walked, all) {
		t.Errorf("paging by 2 walked %v, want every entry once, newest first: %v", walked, all)
	}
	if pages != 4 {
		t.Errorf("8 entries in pages of 2 took %d pages, want 4", pages)
	}

	r := must200(t, "redeems only", env.REST("GET", "/v1/members/hal/activity?kinds=REDEEM", app, nil))
	var got []string
	for _, e := range list(t, r.Body["entries"]) {
		if e["kind"] != "REDEEM" {
			t.Errorf("kinds=REDEEM returned a %v entry", e["kind"])
		}
		got = append(got, e["entryId"].(string))
	}
	if !slices.Equal(got, redeems) {
		t.Errorf("kinds=REDEEM returned %v, want %v", got, redeems)
	}
	r = must200(t, "earns and redeems", env.REST("GET", "/v1/members/hal/activity?kinds=REDEEM&kinds=EARN", app, nil))
	if n := len(list(t, r.Body["entries"])); n != len(all) {
		t.Errorf("kinds=REDEEM&kinds=EARN returned %d entries, want %d", n, len(all))
	}

	for _, c := range []struct{ query, field string }{
		{"pageToken=garbage", "pageToken"},
		{"pageToken=" + url.QueryEscape("!!not base64!!"), "pageToken"},
		{"pageSize=201", "pageSize"},
		{"pageSize=-1", "pageSize"},
	} {
		r := env.REST("GET", "/v1/members/hal/activity?"+c.query, app, nil)
		if r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), c.field) {
			t.Errorf("activity?%s: %d %v, want 400 naming %s", c.query, r.Status, r.FieldViolations(), c.field)
		}
	}
	r = env.REST("GET", "/v1/members/hal/activity?kinds=BOGUS", app, nil)
	if r.Status != http.StatusBadRequest || !slices.ContainsFunc(r.FieldViolations(), func(f string) bool { return strings.HasPrefix(f, "kinds") }) {
		t.Errorf("kinds=BOGUS: %d %v, want 400 naming kinds", r.Status, r.FieldViolations())
	}

	// Balance as of an instant between the first two earnings.
	t1, err := time.Parse(time.RFC3339Nano, first["createTime"].(string))
	if err != nil {
		t.Fatal(err)
	}
	t2, err := time.Parse(time.RFC3339Nano, second["createTime"].(string))
	if err != nil || !t2.After(t1) {
		t.Fatalf("create times %v then %v (%v)", t1, t2, err)
	}
	asOf := func(at time.Time) bal {
		t.Helper()
		r := must200(t, "balance as of", env.REST("GET", "/v1/members/hal/balance?asOfTime="+url.QueryEscape(at.Format(time.RFC3339Nano)), app, nil))
		if echoed, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(r.Body["asOfTime"])); !echoed.Equal(at) {
			t.Errorf("asOfTime answered %v, asked %v", r.Body["asOfTime"], at)
		}
		return bal{num(t, r.Body["available"]), num(t, r.Body["pending"]), num(t, r.Body["held"])}
	}
	if b := asOf(t1.Add(t2.Sub(t1) / 2)); b.available != 10 {
		t.Errorf("balance between the earnings: %d, want 10", b.available)
	}
	if b := asOf(t1); b.available != 10 {
		t.Errorf("balance at the first earning: %d, want 10", b.available)
	}
	if b := asOf(t1.Add(-time.Second)); b.available != 0 {
		t.Errorf("balance before any entry: %d, want 0", b.available)
	}
	if b := asOf(t2); b.available != 15 {
		t.Errorf("balance at the second earning: %d, want 15", b.available)
	}
	now := balanceOf(t, env, app, "hal")
	if b := asOf(time.Now().Add(time.Hour)); b != now {
		t.Errorf("balance as of the future %+v, current %+v", b, now)
	}
	if r := env.REST("GET", "/v1/members/hal/balance?asOfTime=yesterday", app, nil); r.Status != http.StatusBadRequest {
		t.Errorf("asOfTime=yesterday: %d, want 400", r.Status)
	}
}

func verifyOK(t testing.TB, env *apitest.Env) map[string]any {
	t.Helper()
	r := must200(t, "verify", env.REST("GET", "/v1/ledger:verify", apitest.AdminKey, nil))
	if r.Body["ok"] != true || r.Body["postingsSum"] != "0" || len(list(t, r.Body["discrepancies"])) != 0 {
		t.Errorf("verify: %s", r.Raw)
	}
	return r.Body
}

func TestVerifyLedgerOverREST(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	auditor := env.Key(access.RoleAuditor)
	enroll(t, env, app, "jon")
	enroll(t, env, app, "kim")
	earn(t, env, app, "jon", "e-1", 500)
	earn(t, env, app, "kim", "e-1", 300)
	spent := redeem(t, env, app, "jon", "r-1", 120)
	h1, _ := hold(t, env, app, "jon", "h-1", 100)
	must200(t, "capture", env.REST("POST", "/v1/holds/"+h1["holdId"].(string)+":capture", app, map[string]any{"requestId": "c-1", "points": 60}))
	h2, _ := hold(t, env, app, "kim", "h-2", 50)
	must200(t, "void", env.REST("POST", "/v1/holds/"+h2["holdId"].(string)+":void", app, map[string]any{"requestId": "v-1"}))
	hold(t, env, app, "kim", "h-3", 25) // stays active
	must200(t, "reverse", env.REST("POST", "/v1/entries/"+spent["entryId"].(string)+":reverse", apitest.AdminKey, map[string]any{"requestId": "x-1", "reason": "test"}))

	r := must200(t, "verify", env.REST("GET", "/v1/ledger:verify", auditor, nil))
	if r.Body["ok"] != true || r.Body["postingsSum"] != "0" || len(list(t, r.Body["discrepancies"])) != 0 {
		t.Fatalf("verify after a clean mix: %s", r.Raw)
	}
	if n := num(t, r.Body["entriesChecked"]); n != 9 {
		t.Errorf("entriesChecked %d, want 9 (2 earns, redeem, 3 holds, capture, void, reversal)", n)
	}
	if num(t, r.Body["accountsChecked"]) < 6 {
		t.Errorf("accountsChecked %v, want at least the 6 member accounts", r.Body["accountsChecked"])
	}
	if r.Body["verifyTime"] == "" {
		t.Error("no verifyTime")
	}
	if r := env.REST("GET", "/v1/ledger:verify", app, nil); r.Status != http.StatusForbidden {
		t.Errorf("app verifying the ledger: %d, want 403", r.Status)
	}

	// Tamper with a cached balance behind the ledger's back.
	var cached int64
	if err := env.Pool.QueryRow(t.Context(), "UPDATE member_balances SET available = available + 1 WHERE member_id = 'jon' RETURNING available").Scan(&cached); err != nil {
		t.Fatal(err)
	}
	r = must200(t, "verify after tampering", env.REST("GET", "/v1/ledger:verify", auditor, nil))
	if r.Body["ok"] != false {
		t.Fatalf("verify did not notice a tampered balance: %s", r.Raw)
	}
	if r.Body["postingsSum"] != "0" {
		t.Errorf("postingsSum %v: the postings were not touched", r.Body["postingsSum"])
	}
	// The tampered balance differs from its postings and from its lots.
	ds := list(t, r.Body["discrepancies"])
	kinds := map[any]bool{}
	for _, d := range ds {
		if d["memberId"] != "jon" || d["account"] != "available" {
			t.Errorf("discrepancy %v is not about jon's available balance", d)
		}
		kinds[d["kind"]] = true
		if d["kind"] == "BALANCE_MISMATCH" && (num(t, d["actual"]) != cached || num(t, d["expected"]) != cached-1) {
			t.Errorf("discrepancy expected %v actual %v, want %d and %d", d["expected"], d["actual"], cached-1, cached)
		}
	}
	if len(ds) != 2 || !kinds["BALANCE_MISMATCH"] || !kinds["LOTS_MISMATCH"] {
		t.Errorf("discrepancies %v, want a BALANCE_MISMATCH and a LOTS_MISMATCH of jon's available", ds)
	}
}

func TestEntriesAreImmutable(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "lea")
	e := earn(t, env, app, "lea", "e-1", 10)
	id := num(t, e["entryId"])
	before := dbState(t, env)

	for _, sql := range []string{
		"UPDATE entries SET memo = 'edited' WHERE entry_id = $1",
		"UPDATE entries SET amounts = ARRAY[1000, -1000]::bigint[] WHERE entry_id = $1",
		"DELETE FROM entries WHERE entry_id = $1",
	} {
		tag, err := env.Pool.Exec(t.Context(), sql, id)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23000" {
			t.Errorf("%s: %v (%d rows), want integrity_constraint_violation", sql, err, tag.RowsAffected())
		}
	}
	if _, err := env.Pool.Exec(t.Context(), "DELETE FROM entries"); err == nil {
		t.Error("DELETE FROM entries succeeded")
	}
	if _, err := env.Pool.Exec(t.Context(), "TRUNCATE entries CASCADE"); err == nil {
		t.Error("TRUNCATE entries succeeded")
	}
	if after := dbState(t, env); after != before {
		t.Errorf("entries changed:\n before %s\n after  %s", before, after)
	}
	if got := activity(t, env, app, "lea"); len(got) != 1 || got[0]["memo"] != "" || num(t, got[0]["points"]) != 10 {
		t.Errorf("statement after tampering attempts: %v", got)
	}
}

// postJSON sends a JSON POST without the test harness, so goroutines can call it.
func postJSON(env *apitest.Env, path, key string, body any) (int, map[string]any, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequest("POST", env.BaseURL+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := env.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("decode %s: %w", raw, err)
	}
	return resp.StatusCode, out, nil
}

func TestRacingDuplicateEarnsOverRESTCreditOnce(t *testing.T) {
	env := apitest.Start(t)
	noReturnWindow(t, env)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "max")
	const racers = 20
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		ids   = map[string]int{}
		start = make(chan struct{})
	)
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code, body, err := postJSON(env, "/v1/members/max:earn", app, map[string]any{"requestId": "checkout-77", "points": 250, "orderId": "o-77"})
			if err != nil || code != http.StatusOK {
				t.Errorf("racing earn: %d %v %v", code, body, err)
				return
			}
			entry, _ := body["entry"].(map[string]any)
			id, _ := entry["entryId"].(string)
			mu.Lock()
			ids[id]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if len(ids) != 1 || ids[""] != 0 {
		t.Errorf("racing duplicates got entry ids %v, want one", ids)
	}
	if b := balanceOf(t, env, app, "max"); b.available != 250 {
		t.Errorf("available %d after %d duplicates of a 250 earn, want 250", b.available, racers)
	}
	var n int
	if err := env.Pool.QueryRow(t.Context(), "SELECT count(*) FROM entries WHERE member_id = 'max'").Scan(&n); err != nil || n != 1 {
		t.Errorf("entries of max: %d (%v), want 1", n, err)
	}
	verifyOK(t, env)
}

func TestRacingRedeemsOverRESTNeverOverdraw(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "ned")
	earn(t, env, app, "ned", "e-1", 100)
	const racers = 20
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		granted, refusal int
		start            = make(chan struct{})
	)
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code, body, err := postJSON(env, "/v1/members/ned:redeem", app, map[string]any{"requestId": fmt.Sprintf("r-%d", i), "points": 10})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("racing redeem: %v", err)
			case code == http.StatusOK:
				granted++
			case code == http.StatusBadRequest && strings.Contains(fmt.Sprint(body["details"]), "INSUFFICIENT_POINTS"):
				refusal++
			default:
				t.Errorf("racing redeem: %d %v", code, body)
			}
		}()
	}
	close(start)
	wg.Wait()
	if granted != 10 || refusal != 10 {
		t.Errorf("%d granted and %d refused; want 10 and 10 for 20 redeems of 10 from 100", granted, refusal)
	}
	if b := balanceOf(t, env, app, "ned"); b.available != 0 {
		t.Errorf("available %d, want 0", b.available)
	}
	verifyOK(t, env)
}

func TestExpiredHoldsOverREST(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "ola")
	earn(t, env, app, "ola", "e-1", 100)
	r := must200(t, "short hold", env.REST("POST", "/v1/members/ola/holds", app, map[string]any{"requestId": "h-1", "points": 30, "ttl": "0.3s"}))
	holdID := obj(t, r.Body["hold"])["holdId"].(string)
	time.Sleep(400 * time.Millisecond)

	before := dbState(t, env)
	refused(t, "capture an expired hold", env.REST("POST", "/v1/holds/"+holdID+":capture", app, map[string]any{"requestId": "c-1"}),
		http.StatusBadRequest, "HOLD_EXPIRED")
	if after := dbState(t, env); after != before {
		t.Errorf("a refused capture changed the database")
	}

	// loyaltyd's background job releases it.
	n, err := env.App.Ledger.ExpireHolds(t.Context(), 500)
	if err != nil || n != 1 {
		t.Fatalf("expire holds: released %d (%v), want 1", n, err)
	}
	if b := balanceOf(t, env, app, "ola"); b != (bal{available: 100}) {
		t.Errorf("balance after expiry %+v, want 100 available", b)
	}
	if got := obj(t, must200(t, "get hold", env.REST("GET", "/v1/holds/"+holdID, app, nil)).Body["hold"]); got["status"] != "EXPIRED" {
		t.Errorf("expired hold reads %v", got)
	}
	if e := activity(t, env, app, "ola")[0]; e["kind"] != "HOLD_EXPIRE" || e["holdId"] != holdID || num(t, e["points"]) != 30 {
		t.Errorf("newest entry %v, want the HOLD_EXPIRE of hold %s", e, holdID)
	}
	refused(t, "void an expired hold", env.REST("POST", "/v1/holds/"+holdID+":void", app, map[string]any{"requestId": "v-1"}),
		http.StatusBadRequest, "HOLD_NOT_ACTIVE")
	verifyOK(t, env)
}

// A request id is the caller's to choose (any of A-Z a-z 0-9 . _ : / + = -), so a
// caller's earlier request may carry any id, including the one the hold-expiry job
// makes up for its own entry. That must not stop holds from expiring.
func TestClientRequestIDCannotBlockHoldExpiry(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "pia")
	enroll(t, env, app, "quinn")
	earn(t, env, app, "pia", "e-1", 100)
	earn(t, env, app, "quinn", "e-1", 100)
	r := must200(t, "hold", env.REST("POST", "/v1/members/pia/holds", app, map[string]any{"requestId": "h-1", "points": 30, "ttl": "0.3s"}))
	holdID := obj(t, r.Body["hold"])["holdId"].(string)
	r = must200(t, "other member's hold", env.REST("POST", "/v1/members/quinn/holds", app, map[string]any{"requestId": "h-1", "points": 20, "ttl": "0.3s"}))
	otherHoldID := obj(t, r.Body["hold"])["holdId"].(string)
	// An ordinary earn whose caller happened to pick this request id.
	earn(t, env, app, "pia", "hold-expiry:"+holdID, 1)
	time.Sleep(400 * time.Millisecond)

	n, err := env.App.Ledger.ExpireHolds(t.Context(), 500)
	if err != nil || n != 2 {
		t.Errorf("expire holds: released %d (%v), want both expired holds released", n, err)
	}
	for _, c := range []struct {
		member, holdID string
		want           bal
	}{{"pia", holdID, bal{available: 101}}, {"quinn", otherHoldID, bal{available: 100}}} {
		if b := balanceOf(t, env, app, c.member); b != c.want {
			t.Errorf("%s's balance after expiry %+v, want %+v", c.member, b, c.want)
		}
		if got := obj(t, must200(t, "get hold", env.REST("GET", "/v1/holds/"+c.holdID, app, nil)).Body["hold"]); got["status"] != "EXPIRED" {
			t.Errorf("%s's expired hold reads %v", c.member, got)
		}
	}
}

func TestRacingHoldRequestsOverREST(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "ray")
	earn(t, env, app, "ray", "e-1", 100)
	const racers = 20
	race := func(do func(i int)) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < racers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				do(i)
			}()
		}
		close(start)
		wg.Wait()
	}

	// The same hold, sent 20 times at once: one hold.
	var mu sync.Mutex
	holdIDs := map[string]int{}
	race(func(int) {
		code, body, err := postJSON(env, "/v1/members/ray/holds", app, map[string]any{"requestId": "checkout-9", "points": 60})
		if err != nil || code != http.StatusOK {
			t.Errorf("racing hold: %d %v %v", code, body, err)
			return
		}
		h, _ := body["hold"].(map[string]any)
		mu.Lock()
		holdIDs[fmt.Sprint(h["holdId"])]++
		mu.Unlock()
	})
	if len(holdIDs) != 1 {
		t.Fatalf("racing duplicate holds made holds %v, want one", holdIDs)
	}
	var holdID string
	for id := range holdIDs {
		holdID = id
	}
	if b := balanceOf(t, env, app, "ray"); b != (bal{available: 40, held: 60}) {
		t.Errorf("balance after racing duplicate holds %+v, want 40 available, 60 held", b)
	}
	var holds int
	if err := env.Pool.QueryRow(t.Context(), "SELECT count(*) FROM holds WHERE member_id = 'ray'").Scan(&holds); err != nil || holds != 1 {
		t.Errorf("hold rows %d (%v), want 1", holds, err)
	}

	// Different captures of that hold at once: exactly one wins.
	var won, lost int
	race(func(i int) {
		code, body, err := postJSON(env, "/v1/holds/"+holdID+":capture", app, map[string]any{"requestId": fmt.Sprintf("cap-%d", i), "points": 10 + i})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			t.Errorf("racing capture: %v", err)
		case code == http.StatusOK:
			won++
		case code == http.StatusBadRequest && strings.Contains(fmt.Sprint(body["details"]), "HOLD_NOT_ACTIVE"):
			lost++
		default:
			t.Errorf("racing capture: %d %v", code, body)
		}
	})
	if won != 1 || lost != racers-1 {
		t.Errorf("racing captures: %d won, %d lost; want 1 and %d", won, lost, racers-1)
	}
	h := obj(t, must200(t, "get hold", env.REST("GET", "/v1/holds/"+holdID, app, nil)).Body["hold"])
	captured := num(t, h["capturedPoints"])
	if b := balanceOf(t, env, app, "ray"); b != (bal{available: 100 - captured}) {
		t.Errorf("balance %+v after capturing %d of the hold, want %d available", b, captured, 100-captured)
	}
	verifyOK(t, env)
}

func TestRacingReversalsOverRESTReverseOnce(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	enroll(t, env, app, "sue")
	earn(t, env, app, "sue", "e-1", 100)
	spent := redeem(t, env, app, "sue", "r-1", 70)
	const racers = 20
	var (
		wg                 sync.WaitGroup
		mu                 sync.Mutex
		reversed, refusals int
		start              = make(chan struct{})
	)
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code, body, err := postJSON(env, "/v1/entries/"+spent["entryId"].(string)+":reverse", apitest.AdminKey,
				map[string]any{"requestId": fmt.Sprintf("rev-%d", i), "reason": "cancelled"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("racing reversal: %v", err)
			case code == http.StatusOK:
				reversed++
			case code == http.StatusBadRequest && strings.Contains(fmt.Sprint(body["details"]), "ALREADY_REVERSED"):
				refusals++
			default:
				t.Errorf("racing reversal: %d %v", code, body)
			}
		}()
	}
	close(start)
	wg.Wait()
	if reversed != 1 || refusals != racers-1 {
		t.Errorf("%d reversals succeeded and %d were refused; want 1 and %d", reversed, refusals, racers-1)
	}
	if b := balanceOf(t, env, app, "sue"); b.available != 100 {
		t.Errorf("available %d, want 100: the redemption reversed exactly once", b.available)
	}
	verifyOK(t, env)
}
