package chaostest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/ledger"
)

// bulkMembers is how many members the bulk credit crash test credits:
// CHAOS_BULK_MEMBERS (`make chaos`: 100,000), or 5,000 for the short round of
// `go test`.
func bulkMembers(t *testing.T) int {
	v := os.Getenv("CHAOS_BULK_MEMBERS")
	if v == "" {
		return 5000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 100 || n > 1_000_000 {
		t.Fatalf("CHAOS_BULK_MEMBERS=%q: want a number of members from 100 to 1000000", v)
	}
	return n
}

// bulkKills is how many times the test kills loyaltyd while the bulk credit runs.
const bulkKills = 2

// A bulk credit of every member, and a campaign-funded one beside it whose budget
// runs out half-way, survive SIGKILLs of loyaltyd in the middle (some chunks
// committed, others not, one maybe in flight): after each restart the job takes
// them up again, and at the end every member has exactly one credit of the first,
// its done count is the members, the funded one spent its budget exactly and no
// more, and the books verify.
func TestBulkCreditSurvivesSIGKILL(t *testing.T) {
	t.Parallel() // a cluster of its own
	n := bulkMembers(t)
	// About 20 chunks whatever n, so that a kill lands between the first and the
	// last; 5,000 (the default) at most.
	chunk := min(max(n/20, 100), 5000)
	began := time.Now()
	built := make(chan string, 1)
	go func() { built <- buildDaemon(t) }()
	pg := startCluster(t, true)
	bin := <-built
	if bin == "" {
		t.FailNow()
	}
	d := newDaemon(t, bin, pg.url(), "LOYALTY_BULK_CHUNK="+strconv.Itoa(chunk))
	d.start()
	api := &bulkAPI{t: t, d: d}

	// Members through the import, as a shop moving to the engine would bring them.
	var csv strings.Builder
	csv.WriteString("memberId\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&csv, "b%07d\n", i)
	}
	imported := api.call(http.MethodPost, "/v1/imports", "text/csv", csv.String())
	if num(imported["imported"]) != int64(n) {
		t.Fatalf("import: %v, want %d imported", imported, n)
	}
	t.Logf("%d members imported after %s (chunks of %d)", n, time.Since(began).Round(time.Millisecond), chunk)

	// The funded one: 7 points a member from a budget that gives half the members
	// their 7 and the next one 3.
	const fundedPoints = 7
	budget := int64(fundedPoints*(n/2) + 3)
	camp := api.post("/v1/campaigns", map[string]any{"displayName": "Thank-you", "type": "POINTS_BONUS", "bonusPoints": 1,
		"budget": map[string]any{"points": budget}})
	campaignID, _ := camp["campaignId"].(string)
	api.post("/v1/campaigns/"+campaignID+":activate", map[string]any{})

	all := bulkCredit(api.post("/v1/bulkCredits", map[string]any{"requestId": "chaos-all", "points": 500,
		"reason": "Double 11 thank-you", "target": map[string]any{"all": true}}))
	funded := bulkCredit(api.post("/v1/bulkCredits", map[string]any{"requestId": "chaos-funded", "points": fundedPoints,
		"reason": "from the budget", "campaignId": campaignID, "target": map[string]any{"all": true}}))

	// Kill it at a third and at two thirds of the way, each time while chunks
	// remain: the kill must strike the middle, not before or after.
	for k := 1; k <= bulkKills; k++ {
		at := int64(n * k / (bulkKills + 1))
		var seen map[string]any
		if err := waitFor(3*time.Minute, func() bool {
			seen = api.bulk(all)
			return num(seen["done"]) >= at
		}); err != nil {
			t.Fatalf("kill %d: the bulk credit did not reach %d members done within 3 minutes: %v", k, at, seen)
		}
		d.kill()
		if done := num(seen["done"]); done >= int64(n) || seen["status"] != "RUNNING" {
			t.Fatalf("kill %d came too late: the bulk credit was %v when loyaltyd was killed (done %d of %d)", k, seen["status"], done, n)
		}
		t.Logf("kill %d: SIGKILL with %d of %d members done, after %s", k, num(seen["done"]), n, time.Since(began).Round(time.Millisecond))
		d.start()
	}

	var last, lastFunded map[string]any
	if err := waitFor(5*time.Minute, func() bool {
		last, lastFunded = api.bulk(all), api.bulk(funded)
		return ended(last) && ended(lastFunded)
	}); err != nil {
		t.Fatalf("not finished within 5 minutes of the last restart: %v and %v", last, lastFunded)
	}
	t.Logf("both ended after %s", time.Since(began).Round(time.Millisecond))
	if last["status"] != "SUCCEEDED" || num(last["done"]) != int64(n) || num(last["failed"]) != 0 || num(last["pointsCredited"]) != 500*int64(n) {
		t.Errorf("bulk credit %v, want SUCCEEDED with %d done, none failed, %d points", last, n, 500*n)
	}
	wantDone := int64(n/2 + 1)
	if lastFunded["status"] != "BUDGET_EXHAUSTED" || num(lastFunded["pointsCredited"]) != budget || num(lastFunded["done"]) != wantDone || num(lastFunded["failed"]) != 0 {
		t.Errorf("funded bulk credit %v, want BUDGET_EXHAUSTED with %d points to %d members", lastFunded, budget, wantDone)
	}
	spent := api.call(http.MethodGet, "/v1/campaigns/"+campaignID, "", "")
	if s, _ := spent["spent"].(map[string]any); num(s["points"]) != budget {
		t.Errorf("campaign spent %v, want %d points", spent["spent"], budget)
	}

	// The books themselves, not only the progress counters.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.url())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, c := range []struct {
		name            string
		id              int64
		members, points int64
	}{{"every member", all, int64(n), 500 * int64(n)}, {"funded", funded, wantDone, budget}} {
		var members, wrong, points int64
		if err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE n <> 1), coalesce(sum(p), 0)::bigint FROM (
			SELECT member_id, count(*) AS n, sum(a) AS p FROM entries, unnest(amounts) a
			WHERE kind = 'BULK_CREDIT' AND request_id = $1 AND a > 0 GROUP BY member_id) x`,
			ledger.BulkRequestID(c.id)).Scan(&members, &wrong, &points); err != nil {
			t.Fatal(err)
		}
		if members != c.members || wrong != 0 || points != c.points {
			t.Errorf("%s: %d members credited (%d of them not exactly once), %d points; want %d members once each, %d points",
				c.name, members, wrong, points, c.members, c.points)
		}
	}
	// Every credit has its one event (written in the chunk's transaction), and no
	// member's events have a gap or a repeat.
	var credits, withOne, gappy int64
	if err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE n = 1),
		(SELECT count(*) FROM (SELECT member_id FROM events WHERE member_id IS NOT NULL GROUP BY member_id
		                       HAVING max(member_seq) <> count(*) OR count(DISTINCT member_seq) <> count(*)) g)
		FROM (SELECT e.entry_id, count(v.id) AS n FROM entries e LEFT JOIN events v ON v.data->>'entryId' = e.entry_id::text
		      WHERE e.kind = 'BULK_CREDIT' GROUP BY e.entry_id) x`).Scan(&credits, &withOne, &gappy); err != nil {
		t.Fatal(err)
	}
	if withOne != credits || gappy != 0 {
		t.Errorf("%d of %d bulk credits have exactly one event; %d members' events have gaps or repeats", withOne, credits, gappy)
	}
	if verify := getJSON(t, d.baseURL()+"/v1/ledger:verify"); verify["ok"] != true {
		t.Errorf("the books do not verify: %v", verify)
	}
	t.Logf("bulk credit crash summary: %d members, %d SIGKILLs, exactly once, budget %d spent exactly, in %s",
		n, bulkKills, budget, time.Since(began).Round(time.Millisecond))
}

// bulkAPI calls loyaltyd's REST API as the admin, failing the test on anything
// but a 200.
type bulkAPI struct {
	t *testing.T
	d *daemon
}

func (a *bulkAPI) post(path string, body map[string]any) map[string]any {
	raw, err := json.Marshal(body)
	if err != nil {
		a.t.Fatal(err)
	}
	return a.call(http.MethodPost, path, "application/json", string(raw))
}

func (a *bulkAPI) call(method, path, contentType, body string) map[string]any {
	a.t.Helper()
	req, err := http.NewRequest(method, a.d.baseURL()+path, bytes.NewReader([]byte(body)))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminKey)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != http.StatusOK {
		a.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return out
}

// bulk reads a bulk credit's progress.
func (a *bulkAPI) bulk(id int64) map[string]any {
	return bulkCreditOf(a.t, a.call(http.MethodGet, "/v1/bulkCredits/"+strconv.FormatInt(id, 10), "", ""))
}

func bulkCreditOf(t *testing.T, resp map[string]any) map[string]any {
	b, ok := resp["bulkCredit"].(map[string]any)
	if !ok {
		t.Fatalf("no bulkCredit in %v", resp)
	}
	return b
}

// ended tells whether a bulk credit is over (SUCCEEDED, CANCELLED or
// BUDGET_EXHAUSTED).
func ended(b map[string]any) bool {
	switch b["status"] {
	case "SUCCEEDED", "CANCELLED", "BUDGET_EXHAUSTED":
		return true
	}
	return false
}

// bulkCredit is the id of the bulk credit a create answered.
func bulkCredit(resp map[string]any) int64 {
	b, _ := resp["bulkCredit"].(map[string]any)
	return num(b["bulkCreditId"])
}

// num reads a JSON number, or an int64 as protojson writes it (a string); 0 when
// absent.
func num(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}
