package server_test

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/internal/app"
)

type importReport struct {
	DryRun    bool  `json:"dryRun"`
	Rows      int64 `json:"rows"`
	Imported  int64 `json:"imported"`
	Unchanged int64 `json:"unchanged"`
	Failed    int64 `json:"failed"`
	Errors    []struct {
		Line   int    `json:"line"`
		Column string `json:"column"`
		Reason string `json:"reason"`
	} `json:"errors"`
}

func postImport(t *testing.T, env *apitest.Env, key, query, body string) (int, importReport, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.BaseURL+"/v1/imports"+query, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "text/csv")
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var rep importReport
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &rep); err != nil {
			t.Fatalf("report %s: %v", raw, err)
		}
		slices.SortFunc(rep.Errors, func(a, b struct {
			Line   int    `json:"line"`
			Column string `json:"column"`
			Reason string `json:"reason"`
		}) int {
			return a.Line - b.Line
		})
	}
	return resp.StatusCode, rep, raw
}

// importFile: 2,000 good members and four bad rows.
func importFile() string {
	var b strings.Builder
	b.WriteString("memberId,displayName,joinTime,openingBalance,openingExpiry,tierId,tierMetric\n")
	for i := range 2000 {
		if i == 10 {
			b.WriteString("bad one,X,2024-01-01,10,2030-12-31,,\n") // line 12
		}
		if i == 500 {
			b.WriteString("m-bad-2,X,2024-01-01,ten,2030-12-31,,\n")       // line 503
			b.WriteString("m-bad-3,X,2024-01-01,10,2030-12-31,diamond,\n") // line 504
			b.WriteString("m-bad-4,X,2024-13-01,10,2030-12-31,,\n")        // line 505
		}
		tier := ""
		if i%100 == 0 {
			tier = "gold"
		}
		fmt.Fprintf(&b, "m%05d,Member %d,2024-03-01T08:00:00Z,%d,2030-12-31,%s,%d\n", i, i, i+1, tier, i)
	}
	return b.String()
}

func TestImportReportsBadRowsImportsTheRestOnceAndTheBooksAgree(t *testing.T) {
	env := apitest.Start(t)
	file := importFile()
	wantErrors := "[{12 memberId} {503 openingBalance} {504 tierId} {505 joinTime}]"
	errorsOf := func(rep importReport) string {
		var s []string
		for _, e := range rep.Errors {
			if e.Reason == "" {
				t.Errorf("line %d has no reason", e.Line)
			}
			s = append(s, fmt.Sprintf("{%d %s}", e.Line, e.Column))
		}
		return "[" + strings.Join(s, " ") + "]"
	}

	// A dry run answers every bad row and writes nothing.
	before := countRows(t, env)
	code, rep, raw := postImport(t, env, apitest.AdminKey, "?dryRun=true", file)
	if code != http.StatusOK || !rep.DryRun || rep.Rows != 2004 || rep.Imported != 2000 || rep.Failed != 4 || errorsOf(rep) != wantErrors {
		t.Fatalf("dry run: %d %+v %s", code, rep, raw[:min(len(raw), 500)])
	}
	if !sameCounts(before, countRows(t, env)) {
		t.Fatal("a dry run wrote rows")
	}

	// The real run imports the good rows and reports the same bad ones.
	code, rep, raw = postImport(t, env, apitest.AdminKey, "", file)
	if code != http.StatusOK || rep.DryRun || rep.Rows != 2004 || rep.Imported != 2000 || rep.Unchanged != 0 || rep.Failed != 4 || errorsOf(rep) != wantErrors {
		t.Fatalf("import: %d %+v %s", code, rep, raw[:min(len(raw), 500)])
	}
	const opened = 2000 * 2001 / 2
	auditor := env.Key(access.RoleAuditor)
	if v := env.REST("GET", "/v1/ledger:verify", auditor, nil); v.Status != 200 || v.Body["ok"] != true {
		t.Fatalf("verify: %d %s", v.Status, v.Raw)
	}
	l := env.REST("GET", "/v1/reports/liability", auditor, nil)
	if !strings.Contains(string(l.Raw), `"system:opening"`) || !strings.Contains(string(l.Raw), strconv.Itoa(-opened)) {
		t.Fatalf("liability does not show system:opening at %d: %s", -opened, l.Raw)
	}
	if m := env.REST("GET", "/v1/members/m00100/perks", apitest.AdminKey, nil); !strings.Contains(string(m.Raw), `"gold"`) {
		t.Fatalf("m00100 should start gold: %s", m.Raw)
	}

	// Each member's import is one member.imported event in the feed, with its opening
	// and its start tier.
	feed, _ := feedREST(t, env, auditor, url.Values{"memberId": {"m00100"}}, 1)
	if len(feed) != 1 || feed[0]["type"] != "member.imported" {
		t.Fatalf("m00100's events %v, want its member.imported alone", feed)
	}
	d := obj(t, feed[0]["data"])
	od, started := obj(t, d["opening"]), obj(t, d["started"])
	if d["memberId"] != "m00100" || d["displayName"] != "Member 100" || d["created"] != true || d["tierId"] != "gold" || num(t, d["metric"]) != 100 ||
		num(t, od["points"]) != 101 || num(t, od["available"]) != 101 || od["lotId"] == "" ||
		!strings.HasPrefix(fmt.Sprint(od["expireTime"]), "2031-01-01T00:00:00") ||
		started["fromTierId"] != "member" || started["reason"] != "IMPORTED" {
		t.Fatalf("m00100's member.imported data %v", d)
	}

	// Both runs are audited, with their counts.
	var audited int64
	if err := env.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE method = '/rest/ImportMembers'
		AND target = 'imports' AND outcome = 'OK' AND reason LIKE '%imported=2000 unchanged=0 failed=4'`).Scan(&audited); err != nil || audited != 2 {
		t.Fatalf("%d audit records of the imports (%v), want 2", audited, err)
	}

	// The same file again changes nothing.
	after := countRows(t, env)
	code, rep, _ = postImport(t, env, apitest.AdminKey, "", file)
	if code != http.StatusOK || rep.Imported != 0 || rep.Unchanged != 2000 || rep.Failed != 4 {
		t.Fatalf("again: %d %+v", code, rep)
	}
	if !sameCounts(after, countRows(t, env)) {
		t.Fatal("importing the same file again wrote rows")
	}

	// The month's entries, exported, sum to the liability; the liability export
	// shows the opening account.
	from := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	to := time.Now().UTC().AddDate(0, 0, 2).Format(time.DateOnly)
	rows := exportCSV(t, env, auditor, "/v1/exports/entries?from="+from+"&to="+to)
	var sum, openingSum int64
	for _, r := range rows[1:] {
		a, _ := strconv.ParseInt(r[4], 10, 64)
		sum += a
		if r[3] == "OPENING" && strings.Contains(r[10], "system:opening:") {
			openingSum += a
		}
	}
	if len(rows)-1 != 2000 || sum != opened || openingSum != opened {
		t.Fatalf("entries export: %d rows summing to %d (%d opening), want 2000 summing to %d", len(rows)-1, sum, openingSum, opened)
	}
	var total, opening string
	for _, r := range exportCSV(t, env, auditor, "/v1/exports/liability") {
		switch {
		case r[0] == "total":
			total = r[5]
		case r[0] == "systemAccount" && r[1] == "system:opening":
			opening = r[5]
		}
	}
	if total != strconv.Itoa(opened) || opening != strconv.Itoa(-opened) {
		t.Fatalf("liability export: total %s, system:opening %s", total, opening)
	}
	// A member's statement as JSON Lines.
	resp := env.REST("GET", "/v1/exports/members/m00007/statement?format=jsonl", auditor, nil)
	var line map[string]any
	if resp.Status != 200 || json.Unmarshal(resp.Raw, &line) != nil || line["kind"] != "OPENING" || line["available"] != float64(8) {
		t.Fatalf("statement: %d %s", resp.Status, resp.Raw)
	}
}

func exportCSV(t *testing.T, env *apitest.Env, key, path string) [][]string {
	t.Helper()
	resp := env.REST("GET", path, key, nil)
	if resp.Status != 200 {
		t.Fatalf("%s: %d %s", path, resp.Status, resp.Raw)
	}
	rows, err := csv.NewReader(strings.NewReader(string(resp.Raw))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// Two identical imports at once: each member is opened once.
func TestConcurrentIdenticalImportsDoNotDouble(t *testing.T) {
	env := apitest.Start(t)
	file := importFile()
	var wg sync.WaitGroup
	reps := make([]importReport, 3)
	for i := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, rep, raw := postImport(t, env, apitest.AdminKey, "", file)
			if code != http.StatusOK {
				t.Errorf("import %d: %d %s", i, code, raw)
			}
			reps[i] = rep
		}()
	}
	wg.Wait()
	var imported, unchanged int64
	for _, r := range reps {
		imported += r.Imported
		unchanged += r.Unchanged
	}
	if imported != 2000 || unchanged != 4000 {
		t.Fatalf("imported %d, unchanged %d; want 2000 and 4000", imported, unchanged)
	}
	var n int64
	if err := env.Pool.QueryRow(t.Context(), `SELECT count(*) FROM entries WHERE kind = 'OPENING'`).Scan(&n); err != nil || n != 2000 {
		t.Fatalf("%d OPENING entries: %v", n, err)
	}
	// One event a member opened once, whoever opened it.
	if err := env.Pool.QueryRow(t.Context(), `SELECT count(*) FROM events WHERE type = 'member.imported'`).Scan(&n); err != nil || n != 2000 {
		t.Fatalf("%d member.imported events: %v", n, err)
	}
	if err := env.Pool.QueryRow(t.Context(), `SELECT count(*) FROM events`).Scan(&n); err != nil || n != 2000 {
		t.Fatalf("%d events, want 2000: %v", n, err)
	}
	if v := env.REST("GET", "/v1/ledger:verify", apitest.AdminKey, nil); v.Body["ok"] != true {
		t.Fatalf("verify: %s", v.Raw)
	}
}

// An upload without a valid key is refused before a byte of its body is read:
// the request announces 1 MB and sends none of it, and the answer comes anyway.
func TestImportAuthenticatesBeforeReadingTheBody(t *testing.T) {
	env := apitest.Start(t)
	for _, auth := range []string{"", "Authorization: Bearer lk_wrong\r\n"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(env.BaseURL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "POST /v1/imports HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 1048576\r\n%s\r\n", auth)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer before the body: %v", err)
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", resp.StatusCode)
		}
		_ = conn.Close()
	}
	// A key whose role may not import is refused the same way (403).
	app := env.Key(access.RoleApp)
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.BaseURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /v1/imports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 1048576\r\n\r\n", app)
	if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("app key: %v %v", resp, err)
	}
}

// Bad input is a 4xx naming the field, never a 5xx.
func TestImportAndExportRefuseBadInputNamingTheField(t *testing.T) {
	env := apitest.Start(t, func(o *app.Options) { o.MaxImportBytes = 4096 })
	auditor := env.Key(access.RoleAuditor)
	cases := []struct {
		name, method, path, key, body string
		status                        int
		field                         string
	}{
		{"unknown column", "POST", "/v1/imports", apitest.AdminKey, "memberId,points\nm1,5\n", 400, "header"},
		{"no memberId column", "POST", "/v1/imports", apitest.AdminKey, "displayName\nx\n", 400, "header"},
		{"empty file", "POST", "/v1/imports", apitest.AdminKey, "", 400, "header"},
		{"dryRun not a boolean", "POST", "/v1/imports?dryRun=maybe", apitest.AdminKey, "memberId\nm1\n", 400, "dryRun"},
		{"unknown parameter", "POST", "/v1/imports?force=1", apitest.AdminKey, "memberId\nm1\n", 400, "force"},
		{"over the limit", "POST", "/v1/imports", apitest.AdminKey, "memberId\n" + strings.Repeat("m1\n", 2000), 413, ""},
		{"export: bad format", "GET", "/v1/exports/liability?format=xml", auditor, "", 400, "format"},
		{"export: no from", "GET", "/v1/exports/entries?to=2026-12-01", auditor, "", 400, "from"},
		{"export: bad to", "GET", "/v1/exports/entries?from=2026-11-01&to=soon", auditor, "", 400, "to"},
		{"export: to before from", "GET", "/v1/exports/entries?from=2026-11-01&to=2026-10-01", auditor, "", 400, "to"},
		{"export: unknown member", "GET", "/v1/exports/members/nobody/statement", auditor, "", 404, ""},
		{"export: unknown campaign", "GET", "/v1/exports/campaigns/cmp_none/coupons", auditor, "", 404, ""},
		{"export: role", "GET", "/v1/exports/entries?from=2026-11-01&to=2026-12-01", env.Key(access.RoleApp), "", 403, ""},
		{"export: method", "POST", "/v1/exports/liability", auditor, "", 405, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.body != "" {
				body = c.body
			}
			r := env.REST(c.method, c.path, c.key, body)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Raw)
			}
			if c.field != "" && !slices.Contains(r.FieldViolations(), c.field) {
				t.Fatalf("fields %v, want %s: %s", r.FieldViolations(), c.field, r.Raw)
			}
		})
	}
}
