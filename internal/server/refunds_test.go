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

// earnOnOrder earns from a spend on an order and returns the entry.
func earnOnOrder(t testing.TB, env *apitest.Env, key, memberID, requestID, orderID string, spendMinor int64) map[string]any {
	t.Helper()
	r := must200(t, "earn on order "+orderID, env.REST("POST", "/v1/members/"+memberID+":earn", key, map[string]any{
		"requestId": requestID, "orderId": orderID, "spend": map[string]any{"amountMinor": spendMinor, "currency": "CNY"}}))
	return obj(t, r.Body["entry"])
}

// refundBody is a refund request; amount 0 leaves refundAmountMinor out (full refund).
func refundBody(requestID, memberID string, amount int64) map[string]any {
	b := map[string]any{"requestId": requestID, "memberId": memberID}
	if amount != 0 {
		b["refundAmountMinor"] = amount
	}
	return b
}

// refundOrder refunds and returns the answer, which must be 200.
func refundOrder(t testing.TB, env *apitest.Env, key, memberID, orderID, requestID string, amount int64) map[string]any {
	t.Helper()
	return must200(t, "refund "+requestID, env.REST("POST", "/v1/orders/"+orderID+":refund", key, refundBody(requestID, memberID, amount))).Body
}

// refundState is everything a refused refund must leave alone: entries, balances,
// orders, refund records and lots.
func refundState(t testing.TB, env *apitest.Env) string {
	t.Helper()
	var orders, lots string
	var refunds int64
	err := env.Pool.QueryRow(t.Context(), `SELECT
		(SELECT coalesce(string_agg(member_id || '/' || order_id || ':' || refunded_minor || '/' || fully_refunded || '/' ||
			points_taken_back || '/' || points_returned, ',' ORDER BY member_id, order_id), '') FROM orders),
		(SELECT count(*) FROM refunds),
		(SELECT coalesce(string_agg(lot_id || ':' || remaining, ',' ORDER BY lot_id), '') FROM lots)`).Scan(&orders, &refunds, &lots)
	if err != nil {
		t.Fatalf("read refund state: %v", err)
	}
	return fmt.Sprintf("%s orders=[%s] refunds=%d lots=[%s]", dbState(t, env), orders, refunds, lots)
}

// refundNumbers are the counts of a refund answer.
type refundNumbers struct{ amount, voided, clawedBack, returned int64 }

func numbersOf(t testing.TB, body map[string]any) refundNumbers {
	t.Helper()
	return refundNumbers{num(t, body["refundAmountMinor"]), num(t, body["pointsVoided"]), num(t, body["pointsClawedBack"]), num(t, body["pointsReturned"])}
}

// orderNumbers are the refund counters of an order.
type orderNumbers struct {
	refundedMinor, takenBack, returned int64
	fully                              bool
}

func orderNumbersOf(t testing.TB, o map[string]any) orderNumbers {
	t.Helper()
	return orderNumbers{num(t, o["refundedMinor"]), num(t, o["pointsTakenBack"]), num(t, o["pointsReturned"]), o["fullyRefunded"] == true}
}

// kindsOf lists the kinds of entries.
func kindsOf(entries []map[string]any) []string {
	var kinds []string
	for _, e := range entries {
		kinds = append(kinds, e["kind"].(string))
	}
	return kinds
}

// ts reads a protojson timestamp.
func ts(t testing.TB, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("not a timestamp: %#v", v)
	}
	return at
}

func TestRefundInsideTheReturnWindowVoidsPendingProRata(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	auditor := env.Key(access.RoleAuditor)
	enroll(t, env, app, "rita")

	earned := earnOnOrder(t, env, app, "rita", "o-1-earn", "o-1", 10000)
	if num(t, earned["pendingPoints"]) != 100 || num(t, earned["points"]) != 0 {
		t.Fatalf("earning 10000 minor units on an order: %v, want 100 pending", earned)
	}
	if b := balanceOf(t, env, app, "rita"); b != (bal{pending: 100}) {
		t.Fatalf("balance after earning %+v, want 100 pending", b)
	}
	order := obj(t, must200(t, "get order", env.REST("GET", "/v1/members/rita/orders/o-1", auditor, nil)).Body["order"])
	spend := obj(t, order["spend"])
	if order["memberId"] != "rita" || order["orderId"] != "o-1" || order["earnEntryId"] != earned["entryId"] ||
		num(t, order["earnedPoints"]) != 100 || num(t, spend["amountMinor"]) != 10000 || spend["currency"] != "CNY" ||
		orderNumbersOf(t, order) != (orderNumbers{}) {
		t.Errorf("order before any refund: %v", order)
	}
	verifyOK(t, env)

	// A quarter of the order: a quarter of its pending points voided.
	first := refundOrder(t, env, app, "rita", "o-1", "refund-1", 2500)
	if got := numbersOf(t, first); got != (refundNumbers{amount: 2500, voided: 25}) {
		t.Errorf("refund 2500 of 10000: %+v, want 25 voided", got)
	}
	if got := orderNumbersOf(t, obj(t, first["order"])); got != (orderNumbers{refundedMinor: 2500, takenBack: 25}) {
		t.Errorf("order after the first refund: %+v", got)
	}
	entries := list(t, first["entries"])
	if len(entries) != 1 {
		t.Fatalf("first refund posted %d entries, want one REFUND: %v", len(entries), entries)
	}
	take := entries[0]
	if take["kind"] != "REFUND" || num(t, take["pendingPoints"]) != -25 || num(t, take["pendingAfter"]) != 75 ||
		num(t, take["points"]) != 0 || take["orderId"] != "o-1" || take["requestId"] != "refund-1" ||
		posting(t, take, "system:issued") != 25 {
		t.Errorf("REFUND entry: %v", take)
	}
	checkPostings(t, take)
	if b := balanceOf(t, env, app, "rita"); b != (bal{pending: 75}) {
		t.Errorf("balance after the first refund %+v, want 75 pending", b)
	}
	verifyOK(t, env)

	// The same request again: the same answer, nothing more taken.
	again := refundOrder(t, env, app, "rita", "o-1", "refund-1", 2500)
	if numbersOf(t, again) != numbersOf(t, first) || len(list(t, again["entries"])) != 1 || list(t, again["entries"])[0]["entryId"] != take["entryId"] {
		t.Errorf("repeated refund answered %v, first was %v", again, first)
	}
	if b := balanceOf(t, env, app, "rita"); b != (bal{pending: 75}) {
		t.Errorf("balance after a repeated refund %+v, want 75 pending", b)
	}
	// The same request id with another amount: a conflict that changes nothing.
	before := refundState(t, env)
	refused(t, "same requestId, other amount", env.REST("POST", "/v1/orders/o-1:refund", app, refundBody("refund-1", "rita", 3000)),
		http.StatusConflict, "IDEMPOTENCY_CONFLICT")
	refused(t, "same requestId, full refund", env.REST("POST", "/v1/orders/o-1:refund", app, refundBody("refund-1", "rita", 0)),
		http.StatusConflict, "IDEMPOTENCY_CONFLICT")
	if after := refundState(t, env); after != before {
		t.Errorf("a conflicting refund changed the database:\n before %s\n after  %s", before, after)
	}

	// A second part, keyed by the Idempotency-Key header: the totals follow the
	// cumulative share, floor(100 × 5833 ÷ 10000) = 58, so 33 more.
	second := must200(t, "second refund", env.REST("POST", "/v1/orders/o-1:refund", app,
		map[string]any{"memberId": "rita", "refundAmountMinor": 3333}, "Idempotency-Key", "refund-2")).Body
	if got := numbersOf(t, second); got != (refundNumbers{amount: 3333, voided: 33}) {
		t.Errorf("refund 3333 more: %+v, want 33 voided", got)
	}
	if e := list(t, second["entries"]); len(e) != 1 || e[0]["requestId"] != "refund-2" {
		t.Errorf("second refund's entries: %v", e)
	}
	if b := balanceOf(t, env, app, "rita"); b != (bal{pending: 42}) {
		t.Errorf("balance after the second refund %+v, want 42 pending", b)
	}
	verifyOK(t, env)

	// More than is left (4167): refused, nothing changes.
	before = refundState(t, env)
	over := env.REST("POST", "/v1/orders/o-1:refund", app, refundBody("refund-over", "rita", 4168))
	refused(t, "refund more than is left", over, http.StatusBadRequest, "REFUND_EXCEEDS_ORDER")
	var meta map[string]any
	for _, d := range list(t, over.Body["details"]) {
		if d["reason"] != nil {
			meta, _ = d["metadata"].(map[string]any)
		}
	}
	if meta["refundableMinor"] != "4167" {
		t.Errorf("over-refund metadata %v, want refundableMinor 4167", meta)
	}
	// An explicit 0 is a mistake, not a full refund.
	zero := env.REST("POST", "/v1/orders/o-1:refund", app, map[string]any{"requestId": "refund-zero", "memberId": "rita", "refundAmountMinor": 0})
	if zero.Status != http.StatusBadRequest || !slices.Contains(zero.FieldViolations(), "refundAmountMinor") {
		t.Errorf("refundAmountMinor 0: %d %s, want 400 naming refundAmountMinor", zero.Status, zero.Raw)
	}
	negative := env.REST("POST", "/v1/orders/o-1:refund", app, refundBody("refund-negative", "rita", -5))
	if negative.Status != http.StatusBadRequest || !slices.Contains(negative.FieldViolations(), "refundAmountMinor") {
		t.Errorf("refundAmountMinor -5: %d %s, want 400 naming refundAmountMinor", negative.Status, negative.Raw)
	}
	noRequestID := env.REST("POST", "/v1/orders/o-1:refund", app, map[string]any{"memberId": "rita", "refundAmountMinor": 1})
	if noRequestID.Status != http.StatusBadRequest || !slices.Contains(noRequestID.FieldViolations(), "requestId") {
		t.Errorf("refund without requestId: %d %s, want 400 naming requestId", noRequestID.Status, noRequestID.Raw)
	}
	refused(t, "unknown order", env.REST("POST", "/v1/orders/o-404:refund", app, refundBody("refund-404", "rita", 0)),
		http.StatusNotFound, "ORDER_NOT_FOUND")
	refused(t, "unknown member", env.REST("POST", "/v1/orders/o-1:refund", app, refundBody("refund-404", "nobody", 0)),
		http.StatusNotFound, "MEMBER_NOT_FOUND")
	agent := env.Key(access.RoleAgent)
	if r := env.REST("POST", "/v1/orders/o-1:refund", agent, refundBody("refund-agent", "rita", 0)); r.Status != http.StatusForbidden {
		t.Errorf("an agent refunding: %d, want 403", r.Status)
	}
	if r := env.REST("POST", "/v1/orders/o-1:refund", auditor, refundBody("refund-auditor", "rita", 0)); r.Status != http.StatusForbidden {
		t.Errorf("an auditor refunding: %d, want 403", r.Status)
	}
	if after := refundState(t, env); after != before {
		t.Errorf("refused refunds changed the database:\n before %s\n after  %s", before, after)
	}
	verifyOK(t, env)

	// The rest, amount omitted: exactly what is left, 42 points.
	full := refundOrder(t, env, app, "rita", "o-1", "refund-3", 0)
	if got := numbersOf(t, full); got != (refundNumbers{amount: 4167, voided: 42}) {
		t.Errorf("full refund of the rest: %+v, want 4167 refunded and 42 voided", got)
	}
	if got := orderNumbersOf(t, obj(t, full["order"])); got != (orderNumbers{refundedMinor: 10000, takenBack: 100, fully: true}) {
		t.Errorf("order after the full refund: %+v", got)
	}
	if b := balanceOf(t, env, app, "rita"); b != (bal{}) {
		t.Errorf("balance after the full refund %+v, want zeros", b)
	}
	if got := orderNumbersOf(t, obj(t, must200(t, "get order", env.REST("GET", "/v1/members/rita/orders/o-1", app, nil)).Body["order"])); !got.fully {
		t.Errorf("order read after the full refund: %+v", got)
	}
	before = refundState(t, env)
	refused(t, "refund a fully refunded order", env.REST("POST", "/v1/orders/o-1:refund", app, refundBody("refund-4", "rita", 0)),
		http.StatusBadRequest, "REFUND_EXCEEDS_ORDER")
	if after := refundState(t, env); after != before {
		t.Errorf("refunding a fully refunded order changed the database")
	}
	// Nothing is left to release.
	if n, err := env.App.Ledger.ReleasePending(t.Context(), 100); err != nil || n != 0 {
		t.Errorf("release after a full refund: %d (%v), want nothing", n, err)
	}
	if kinds := kindsOf(activity(t, env, app, "rita")); !slices.Equal(kinds, []string{"REFUND", "REFUND", "REFUND", "EARN"}) {
		t.Errorf("statement kinds %v", kinds)
	}
	verifyOK(t, env)

	refused(t, "get an unknown order", env.REST("GET", "/v1/members/rita/orders/o-404", app, nil), http.StatusNotFound, "ORDER_NOT_FOUND")
	if r := env.REST("GET", "/v1/members/rita/orders/bad%20id", app, nil); r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), "orderId") {
		t.Errorf("get an order with a bad id: %d %s", r.Status, r.Raw)
	}
	if r := env.REST("GET", "/v1/members/rita/orders/o-1", env.Key(access.RoleMarketer), nil); r.Status != http.StatusForbidden {
		t.Errorf("a marketer reading an order: %d, want 403", r.Status)
	}
}

func TestRefundAfterTheReturnWindowClawsBackIntoDebt(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	auditor := env.Key(access.RoleAuditor)
	enroll(t, env, app, "carl")

	// The order earns 100 pending points; the return window passes and the
	// release job makes them available.
	earned := earnOnOrder(t, env, app, "carl", "o-1-earn", "o-1", 10000)
	if _, err := env.Pool.Exec(t.Context(), `UPDATE pending_releases SET release_time = now() - interval '1 second' WHERE entry_id = $1`,
		earned["entryId"]); err != nil {
		t.Fatal(err)
	}
	if n, err := env.App.Ledger.ReleasePending(t.Context(), 100); err != nil || n != 1 {
		t.Fatalf("release: %d (%v), want 1", n, err)
	}
	if b := balanceOf(t, env, app, "carl"); b != (bal{available: 100}) {
		t.Fatalf("balance after release %+v, want 100 available", b)
	}
	lots := list(t, must200(t, "lots", env.REST("GET", "/v1/members/carl/lots", app, nil)).Body["lots"])
	if len(lots) != 1 || lots[0]["originEntryId"] != earned["entryId"] || lots[0]["entryId"] == earned["entryId"] ||
		num(t, lots[0]["points"]) != 100 || num(t, lots[0]["remaining"]) != 100 {
		t.Errorf("lots after release: %v, want one of 100 opened by the release, from the earning", lots)
	}
	verifyOK(t, env)

	// The member spends 80 of them.
	redeem(t, env, app, "carl", "r-1", 80)

	// Half the order is refunded: 50 points clawed back from the 20 left, 30 into debt.
	half := refundOrder(t, env, app, "carl", "o-1", "refund-1", 5000)
	if got := numbersOf(t, half); got != (refundNumbers{amount: 5000, clawedBack: 50}) {
		t.Errorf("refund half after the window: %+v, want 50 clawed back", got)
	}
	take := list(t, half["entries"])
	if len(take) != 1 || take[0]["kind"] != "REFUND" || num(t, take[0]["points"]) != -50 || num(t, take[0]["balanceAfter"]) != -30 ||
		num(t, take[0]["pendingPoints"]) != 0 {
		t.Fatalf("claw-back entry: %v", take)
	}
	checkPostings(t, take[0])
	if b := balanceOf(t, env, app, "carl"); b != (bal{available: -30}) {
		t.Errorf("balance after the claw-back %+v, want -30", b)
	}
	// The claw-back took the 20 left of the lot.
	moves := list(t, must200(t, "entry lots", env.REST("GET", "/v1/entries/"+take[0]["entryId"].(string)+"/lots", auditor, nil)).Body["moves"])
	if len(moves) != 1 || num(t, moves[0]["points"]) != -20 || moves[0]["lotId"] != lots[0]["lotId"] ||
		moves[0]["entryId"] != take[0]["entryId"] || moves[0]["sourceEntryId"] != take[0]["entryId"] {
		t.Errorf("lots the claw-back consumed: %v, want 20 of lot %v", moves, lots[0]["lotId"])
	}
	if open := list(t, must200(t, "lots", env.REST("GET", "/v1/members/carl/lots", app, nil)).Body["lots"]); len(open) != 0 {
		t.Errorf("open lots of a member in debt: %v, want none", open)
	}
	if spent := list(t, must200(t, "lots", env.REST("GET", "/v1/members/carl/lots?includeSpent=true", app, nil)).Body["lots"]); len(spent) != 1 ||
		num(t, spent[0]["remaining"]) != 0 {
		t.Errorf("spent lots: %v, want the one lot, empty", spent)
	}
	verifyOK(t, env)

	report := must200(t, "liability", env.REST("GET", "/v1/reports/liability", auditor, nil)).Body
	if report["consistent"] != true || num(t, report["debt"]) != -30 || num(t, report["membersInDebt"]) != 1 ||
		num(t, report["available"]) != 0 || num(t, report["outstanding"]) != -30 {
		t.Errorf("liability with a member in debt: %v", report)
	}

	// Redeeming from a negative balance is refused.
	refused(t, "redeem in debt", env.REST("POST", "/v1/members/carl:redeem", app, map[string]any{"requestId": "r-2", "points": 1}),
		http.StatusBadRequest, "INSUFFICIENT_POINTS")

	// A later earning repays the debt first; only the rest opens a lot.
	later := earn(t, env, app, "carl", "e-2", 100)
	if num(t, later["balanceAfter"]) != 70 {
		t.Errorf("earning 100 with 30 of debt: %v, want balance 70", later)
	}
	lots = list(t, must200(t, "lots", env.REST("GET", "/v1/members/carl/lots", app, nil)).Body["lots"])
	if len(lots) != 1 || lots[0]["entryId"] != later["entryId"] || num(t, lots[0]["points"]) != 70 || num(t, lots[0]["remaining"]) != 70 {
		t.Errorf("lots after repaying the debt: %v, want one of 70 from entry %v", lots, later["entryId"])
	}
	verifyOK(t, env)

	// The rest of the order: the other 50 clawed back.
	rest := refundOrder(t, env, app, "carl", "o-1", "refund-2", 0)
	if got := numbersOf(t, rest); got != (refundNumbers{amount: 5000, clawedBack: 50}) {
		t.Errorf("refund the rest: %+v, want 50 clawed back", got)
	}
	if b := balanceOf(t, env, app, "carl"); b != (bal{available: 20}) {
		t.Errorf("balance after the full refund %+v, want 20", b)
	}
	verifyOK(t, env)
	report = must200(t, "liability", env.REST("GET", "/v1/reports/liability", auditor, nil)).Body
	if report["consistent"] != true || num(t, report["debt"]) != 0 || num(t, report["membersInDebt"]) != 0 ||
		num(t, report["available"]) != 20 || num(t, report["issued"]) != 100 || num(t, report["redeemed"]) != 80 {
		t.Errorf("liability after the debt is repaid: %v", report)
	}
}

func TestRefundOnNoReturnWindowClawsBackAtOnce(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	noReturnWindow(t, env)
	enroll(t, env, app, "dora")

	earned := earnOnOrder(t, env, app, "dora", "o-1-earn", "o-1", 10000)
	if num(t, earned["points"]) != 100 {
		t.Fatalf("earning without a return window: %v, want 100 available", earned)
	}
	// All of them spent, then the whole order refunded: -100.
	redeem(t, env, app, "dora", "r-1", 100)
	full := refundOrder(t, env, app, "dora", "o-1", "refund-1", 0)
	if got := numbersOf(t, full); got != (refundNumbers{amount: 10000, clawedBack: 100}) {
		t.Errorf("full refund: %+v, want 100 clawed back", got)
	}
	if b := balanceOf(t, env, app, "dora"); b != (bal{available: -100}) {
		t.Errorf("balance %+v, want -100", b)
	}
	verifyOK(t, env)
	// Earning on another order pays the debt first.
	if e := earnOnOrder(t, env, app, "dora", "o-2-earn", "o-2", 15000); num(t, e["balanceAfter"]) != 50 {
		t.Errorf("earning 150 with 100 of debt: %v, want balance 50", e)
	}
	verifyOK(t, env)
}

func TestRefundGivesBackPointsRedeemedOnTheOrder(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	auditor := env.Key(access.RoleAuditor)
	enroll(t, env, app, "rhea")
	earned := earn(t, env, app, "rhea", "welcome", 500)

	// Order o-9 is paid partly with points: a redemption and a captured hold.
	r := must200(t, "redeem on order", env.REST("POST", "/v1/members/rhea:redeem", app, map[string]any{"requestId": "o-9-redeem", "points": 200, "orderId": "o-9"}))
	redeemed := obj(t, r.Body["entry"])
	r = must200(t, "hold on order", env.REST("POST", "/v1/members/rhea/holds", app, map[string]any{"requestId": "o-9-hold", "points": 100, "orderId": "o-9"}))
	holdID := obj(t, r.Body["hold"])["holdId"].(string)
	must200(t, "capture", env.REST("POST", "/v1/holds/"+holdID+":capture", app, map[string]any{"requestId": "o-9-capture"}))
	if b := balanceOf(t, env, app, "rhea"); b != (bal{available: 200}) {
		t.Fatalf("balance after paying 300 with points %+v", b)
	}
	// The redemption consumed the welcome lot.
	moves := list(t, must200(t, "entry lots", env.REST("GET", "/v1/entries/"+redeemed["entryId"].(string)+"/lots", app, nil)).Body["moves"])
	lots := list(t, must200(t, "lots", env.REST("GET", "/v1/members/rhea/lots", app, nil)).Body["lots"])
	if len(lots) != 1 || lots[0]["entryId"] != earned["entryId"] || num(t, lots[0]["remaining"]) != 200 {
		t.Fatalf("lots after paying with points: %v", lots)
	}
	if len(moves) != 1 || num(t, moves[0]["points"]) != -200 || moves[0]["lotId"] != lots[0]["lotId"] {
		t.Errorf("lots the redemption consumed: %v", moves)
	}

	// An order that earned nothing from a spend is refunded in full only.
	before := refundState(t, env)
	partial := env.REST("POST", "/v1/orders/o-9:refund", app, refundBody("refund-part", "rhea", 100))
	if partial.Status != http.StatusBadRequest || !slices.Contains(partial.FieldViolations(), "refundAmountMinor") {
		t.Errorf("partial refund of an order without spend: %d %s", partial.Status, partial.Raw)
	}
	if after := refundState(t, env); after != before {
		t.Errorf("a refused refund changed the database:\n before %s\n after  %s", before, after)
	}

	full := refundOrder(t, env, app, "rhea", "o-9", "refund-1", 0)
	if got := numbersOf(t, full); got != (refundNumbers{returned: 300}) {
		t.Errorf("refund of an order paid with points: %+v, want 300 returned", got)
	}
	entries := list(t, full["entries"])
	if len(entries) != 1 || entries[0]["kind"] != "REFUND_RETURN" || num(t, entries[0]["points"]) != 300 ||
		posting(t, entries[0], "system:redeemed") != -300 {
		t.Fatalf("give-back entry: %v", entries)
	}
	checkPostings(t, entries[0])
	order := obj(t, full["order"])
	if order["spend"] != nil || order["earnEntryId"] != "" || orderNumbersOf(t, order) != (orderNumbers{returned: 300, fully: true}) {
		t.Errorf("order paid with points after the refund: %v", order)
	}
	if b := balanceOf(t, env, app, "rhea"); b != (bal{available: 500}) {
		t.Errorf("balance after the give-back %+v, want 500", b)
	}
	// The points went back to the lot they came from, with its expiry.
	back := list(t, must200(t, "entry lots", env.REST("GET", "/v1/entries/"+entries[0]["entryId"].(string)+"/lots", auditor, nil)).Body["moves"])
	var backSum int64
	var sources []string
	for _, m := range back {
		backSum += num(t, m["points"])
		sources = append(sources, m["sourceEntryId"].(string))
		if m["lotId"] != lots[0]["lotId"] {
			t.Errorf("give-back to lot %v, want %v", m["lotId"], lots[0]["lotId"])
		}
	}
	if backSum != 300 || !slices.Contains(sources, redeemed["entryId"].(string)) {
		t.Errorf("lots the give-back restored: %v", back)
	}
	lots = list(t, must200(t, "lots", env.REST("GET", "/v1/members/rhea/lots", app, nil)).Body["lots"])
	if len(lots) != 1 || num(t, lots[0]["remaining"]) != 500 {
		t.Errorf("lots after the give-back: %v", lots)
	}
	verifyOK(t, env)

	// One order both earning and paid with points: a refund takes back and gives
	// back pro rata. 100 pending earned, 60 redeemed; a quarter refunded.
	earnOnOrder(t, env, app, "rhea", "o-10-earn", "o-10", 10000)
	must200(t, "redeem on order", env.REST("POST", "/v1/members/rhea:redeem", app, map[string]any{"requestId": "o-10-redeem", "points": 60, "orderId": "o-10"}))
	quarter := refundOrder(t, env, app, "rhea", "o-10", "refund-10a", 2500)
	if got := numbersOf(t, quarter); got != (refundNumbers{amount: 2500, voided: 25, returned: 15}) {
		t.Errorf("quarter refund: %+v, want 25 voided and 15 returned", got)
	}
	if kinds := kindsOf(list(t, quarter["entries"])); !slices.Equal(kinds, []string{"REFUND", "REFUND_RETURN"}) {
		t.Errorf("quarter refund entries %v", kinds)
	}
	if b := balanceOf(t, env, app, "rhea"); b != (bal{available: 455, pending: 75}) {
		t.Errorf("balance after the quarter refund %+v, want 455 available and 75 pending", b)
	}
	rest := refundOrder(t, env, app, "rhea", "o-10", "refund-10b", 0)
	if got := numbersOf(t, rest); got != (refundNumbers{amount: 7500, voided: 75, returned: 45}) {
		t.Errorf("rest of the order: %+v, want 75 voided and 45 returned", got)
	}
	if b := balanceOf(t, env, app, "rhea"); b != (bal{available: 500}) {
		t.Errorf("balance after refunding everything %+v, want 500", b)
	}
	verifyOK(t, env)

	refused(t, "entry lots of an unknown entry", env.REST("GET", "/v1/entries/999999/lots", app, nil), http.StatusNotFound, "ENTRY_NOT_FOUND")
	if r := env.REST("GET", "/v1/entries/abc/lots", app, nil); r.Status != http.StatusBadRequest || !slices.Contains(r.FieldViolations(), "entryId") {
		t.Errorf("entry lots of a bad id: %d %s", r.Status, r.Raw)
	}
	refused(t, "lots of an unknown member", env.REST("GET", "/v1/members/nobody/lots", app, nil), http.StatusNotFound, "MEMBER_NOT_FOUND")
}

func TestLiabilityReportAndExpiringBalance(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	auditor := env.Key(access.RoleAuditor)
	enroll(t, env, app, "lena")
	enroll(t, env, app, "max")

	e := earn(t, env, app, "lena", "e-1", 100)
	// The default program: points expire at the end of the year after the one they
	// were earned in, in UTC.
	created := ts(t, e["createTime"]).UTC()
	wantExpiry := time.Date(created.Year()+2, time.January, 1, 0, 0, 0, 0, time.UTC)

	r := must200(t, "balance", env.REST("GET", "/v1/members/lena/balance", app, nil))
	expiring := list(t, r.Body["expiring"])
	if len(expiring) != 1 || num(t, expiring[0]["points"]) != 100 || !ts(t, expiring[0]["expireTime"]).Equal(wantExpiry) {
		t.Errorf("expiring %v, want 100 points at %s", expiring, wantExpiry.Format(time.RFC3339))
	}
	lots := list(t, must200(t, "lots", env.REST("GET", "/v1/members/lena/lots", auditor, nil)).Body["lots"])
	if len(lots) != 1 || lots[0]["entryId"] != e["entryId"] || lots[0]["originEntryId"] != e["entryId"] ||
		num(t, lots[0]["points"]) != 100 || num(t, lots[0]["remaining"]) != 100 ||
		!ts(t, lots[0]["expireTime"]).Equal(wantExpiry) || lots[0]["lotId"] == "" || lots[0]["createTime"] == nil {
		t.Errorf("lots %v, want one of 100 expiring at %s", lots, wantExpiry.Format(time.RFC3339))
	}
	// An as-of balance lists no expiring points.
	asOf := must200(t, "balance as of", env.REST("GET", "/v1/members/lena/balance?asOfTime="+time.Now().UTC().Format(time.RFC3339Nano), app, nil))
	if x := list(t, asOf.Body["expiring"]); len(x) != 0 || num(t, asOf.Body["available"]) != 100 {
		t.Errorf("balance as of now: %s", asOf.Raw)
	}

	// Pending points of an order, a hold, a redemption and goodwill.
	earnOnOrder(t, env, app, "max", "o-1-earn", "o-1", 25000)
	earn(t, env, app, "max", "e-2", 300)
	hold(t, env, app, "max", "h-1", 40)
	redeem(t, env, app, "max", "r-1", 60)
	agent := env.Key(access.RoleAgent)
	must200(t, "goodwill", env.REST("POST", "/v1/members/lena:grantGoodwill", agent,
		map[string]any{"requestId": "gw-1", "points": 50, "reasonCode": "LATE_DELIVERY", "ticketId": "T-1"}))
	verifyOK(t, env)

	report := must200(t, "liability", env.REST("GET", "/v1/reports/liability", auditor, nil)).Body
	want := map[string]int64{"available": 150 + 200, "pending": 250, "held": 40, "debt": 0, "outstanding": 640,
		"membersInDebt": 0, "issued": 100 + 250 + 300, "redeemed": 60, "expired": 0, "goodwill": 50}
	for field, n := range want {
		if got := num(t, report[field]); got != n {
			t.Errorf("liability %s = %d, want %d", field, got, n)
		}
	}
	if report["consistent"] != true || report["timeZone"] != "UTC" || report["reportTime"] == nil {
		t.Errorf("liability: %v", report)
	}
	var monthsAvailable, monthsPending int64
	months := list(t, report["byExpiryMonth"])
	for _, m := range months {
		monthsAvailable += num(t, m["available"])
		monthsPending += num(t, m["pending"])
	}
	if monthsAvailable != num(t, report["available"]) || monthsPending != num(t, report["pending"]) || len(months) == 0 {
		t.Errorf("byExpiryMonth %v sums to %d available and %d pending, want %v and %v",
			months, monthsAvailable, monthsPending, report["available"], report["pending"])
	}
	accounts := map[string]int64{}
	var systemSum int64
	for _, a := range list(t, report["systemAccounts"]) {
		accounts[a["account"].(string)] = num(t, a["balance"])
		systemSum += num(t, a["balance"])
	}
	if accounts["system:issued"] != -650 || accounts["system:redeemed"] != 60 || accounts["system:goodwill:LATE_DELIVERY"] != -50 ||
		systemSum != -num(t, report["outstanding"]) {
		t.Errorf("system accounts %v, want issued -650, redeemed 60, goodwill -50, summing to -outstanding", accounts)
	}

	for _, key := range []string{app, agent, env.Key(access.RoleMarketer)} {
		if r := env.REST("GET", "/v1/reports/liability", key, nil); r.Status != http.StatusForbidden {
			t.Errorf("liability report for a non-auditor: %d, want 403", r.Status)
		}
	}
	if r := env.REST("GET", "/v1/reports/liability", apitest.AdminKey, nil); r.Status != http.StatusOK {
		t.Errorf("liability report for an admin: %d", r.Status)
	}
}
