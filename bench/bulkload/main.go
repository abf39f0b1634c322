// Command bulkload is the bulk-credit scenario of `make bench` (scripts/bench.sh,
// docs/BENCHMARKS.md): against a running loyaltyd it imports -members members
// (bulk-0000000, ...; once: an import of the same rows again changes nothing), runs
// REST earns of those members open loop at -rate calls/s, first alone for -baseline,
// then while a bulk credit of all of them runs, and reports the bulk credit's members/s
// and the earns' latency in both windows (from each call's intended start, so a stalled
// server shows as latency, not as calls never sent).
//
//	bulkload -rest http://127.0.0.1:18380 -key KEY -members 100000 -rate 100 -label 'yield 20ms' -json out.json
//	bulkload -report a.json,b.json [-markdown]
//
// Exit status: 0; 1 if something failed; 2 if earns failed (the figures are printed,
// marked as not valid).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// result is one run, as -json writes it and -report reads it.
type result struct {
	Label          string  `json:"label"`
	Members        int64   `json:"members"`
	PrepareSeconds float64 `json:"prepareSeconds"` // listing the rule's members
	CreditSeconds  float64 `json:"creditSeconds"`  // from RUNNING (the server's time) to the end (seen)
	MembersPerSec  float64 `json:"membersPerSec"`
	EarnRate       int     `json:"earnRate"`
	EarnMembers    string  `json:"earnMembers"` // inside or outside the bulk credit
	Baseline       window  `json:"baseline"`    // earns alone
	During         window  `json:"during"`      // earns while the bulk credit runs
	LoadBefore     string  `json:"loadBefore"`
	LoadAfter      string  `json:"loadAfter"`
}

// window is the earns' latency in a window of time.
type window struct {
	Calls  int     `json:"calls"`
	Errors int     `json:"errors"`
	P50Ms  float64 `json:"p50Ms"`
	P99Ms  float64 `json:"p99Ms"`
	MaxMs  float64 `json:"maxMs"`
}

func main() {
	rest := flag.String("rest", "http://127.0.0.1:18080", "loyaltyd's REST address")
	key := flag.String("key", "", "an admin API key")
	members := flag.Int("members", 100000, "members of the bulk credit")
	rate := flag.Int("rate", 100, "REST earns per second, open loop")
	workers := flag.Int("workers", 32, "earn callers (enough for the rate's calls in flight)")
	baseline := flag.Duration("baseline", 10*time.Second, "earns alone, before the bulk credit")
	earnMembers := flag.String("earn-members", "inside", "whom the earns are for: inside (random members of the bulk credit: some wait for a chunk's commit) or outside (members the bulk credit leaves out)")
	label := flag.String("label", "", "what this run is (the loyaltyd flags that differ)")
	jsonOut := flag.String("json", "", "write the result here")
	report := flag.String("report", "", "print the results of these -json files (comma-separated), the first the reference")
	markdown := flag.Bool("markdown", false, "with -report: a markdown table")
	flag.Parse()
	if *report != "" {
		if err := printReport(strings.Split(*report, ","), *markdown); err != nil {
			fmt.Fprintln(os.Stderr, "bulkload:", err)
			os.Exit(1)
		}
		return
	}
	if *key == "" || *members < 1 || *rate < 1 || *workers < 1 || (*earnMembers != "inside" && *earnMembers != "outside") {
		fmt.Fprintln(os.Stderr, "bulkload: -key, positive -members, -rate and -workers, and -earn-members inside or outside are needed")
		os.Exit(1)
	}
	c := &client{base: strings.TrimRight(*rest, "/"), key: *key, http: &http.Client{Timeout: 10 * time.Minute}}
	r, err := run(c, *members, *rate, *workers, *baseline, *label, *earnMembers == "outside")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bulkload:", err)
		os.Exit(1)
	}
	fmt.Println(line(r, nil))
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(r, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bulkload:", err)
			os.Exit(1)
		}
	}
	if r.Baseline.Errors+r.During.Errors > 0 {
		fmt.Fprintln(os.Stderr, "bulkload: EARNS FAILED: the figures are not valid")
		os.Exit(2)
	}
}

func memberID(i int) string { return fmt.Sprintf("bulk-%07d", i) }

// outsiders are the members of -earn-members outside: as many as an earn scenario
// of loadgen has, none of them in the bulk credit.
const outsiders = 10000

func outsiderID(i int) string { return fmt.Sprintf("other-%07d", i) }

func run(c *client, members, rate, workers int, baseline time.Duration, label string, outside bool) (result, error) {
	r := result{Label: label, EarnRate: rate, EarnMembers: "inside", LoadBefore: loadAverage()}
	var csv strings.Builder
	csv.WriteString("memberId\n")
	for i := 0; i < members; i++ {
		csv.WriteString(memberID(i))
		csv.WriteByte('\n')
	}
	want := int64(members)
	if outside {
		r.EarnMembers = "outside"
		for i := 0; i < outsiders; i++ {
			csv.WriteString(outsiderID(i))
			csv.WriteByte('\n')
		}
		want += outsiders
	}
	imported, err := c.call(http.MethodPost, "/v1/imports", "text/csv", csv.String())
	if err != nil {
		return r, fmt.Errorf("import the members: %w", err)
	}
	if got := num(imported["imported"]) + num(imported["unchanged"]); got != want {
		return r, fmt.Errorf("import: %v, want %d members imported or unchanged", imported, want)
	}

	e := &earns{c: c, members: members, member: memberID, run: strconv.FormatInt(time.Now().UnixNano(), 36)}
	if outside {
		e.members, e.member = outsiders, outsiderID
	}
	stop := func() { e.stopAt.Store(time.Now().UnixNano()) }
	sched := &schedule{start: time.Now(), rate: int64(rate)}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() { defer wg.Done(); e.work(sched) }()
	}
	time.Sleep(baseline)
	baseEnd := time.Now()

	// The members imported, and no more: an earlier run with more members left them
	// in the database.
	created, err := c.call(http.MethodPost, "/v1/bulkCredits", "application/json", fmt.Sprintf(
		`{"requestId":"bench-%s","points":500,"reason":"bench","target":{"rule":"member.memberId.startsWith('bulk-') && member.memberId < '%s'"}}`,
		e.run, memberID(members)))
	if err != nil {
		stop()
		wg.Wait()
		return r, fmt.Errorf("create the bulk credit: %w", err)
	}
	b, _ := created["bulkCredit"].(map[string]any)
	id := num(b["bulkCreditId"])
	var runningAt time.Time
	for {
		got, err := c.call(http.MethodGet, "/v1/bulkCredits/"+strconv.FormatInt(id, 10), "", "")
		if err != nil {
			stop()
			wg.Wait()
			return r, err
		}
		b, _ = got["bulkCredit"].(map[string]any)
		if runningAt.IsZero() && b["status"] != "PREPARING" {
			runningAt = time.Now()
		}
		if s := b["status"]; s == "SUCCEEDED" || s == "CANCELLED" || s == "BUDGET_EXHAUSTED" || s == "PAUSED" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	endedAt := time.Now()
	// Every call meant to start while it ran is sent, however far behind the
	// schedule is: dropping the late ones would hide the latency they had.
	e.stopAt.Store(endedAt.UnixNano())
	wg.Wait()
	if b["status"] != "SUCCEEDED" || num(b["done"]) != int64(members) {
		return r, fmt.Errorf("the bulk credit ended %v with %d of %d members done", b["status"], num(b["done"]), members)
	}
	// The end as seen here: the server's endTime is its last chunk's start, not its
	// commit (a chunk of 5,000 is a good part of a second).
	created0, start, end := timeOf(b["createTime"]), timeOf(b["startTime"]), endedAt
	r.Members = num(b["done"])
	r.PrepareSeconds = start.Sub(created0).Seconds()
	r.CreditSeconds = end.Sub(start).Seconds()
	if r.CreditSeconds > 0 {
		r.MembersPerSec = float64(r.Members) / r.CreditSeconds
	}
	r.Baseline = e.window(time.Time{}, baseEnd)
	r.During = e.window(runningAt, endedAt)
	r.LoadAfter = loadAverage()
	return r, nil
}

// schedule is the open loop's intended start times, 1/rate apart; workers take
// them in order.
type schedule struct {
	start time.Time
	rate  int64
	next  atomic.Int64
}

func (s *schedule) take() time.Time {
	i := s.next.Add(1) - 1
	return s.start.Add(time.Duration(i/s.rate)*time.Second + time.Duration((i%s.rate)*int64(time.Second)/s.rate))
}

// earns calls REST earn for random bulk members and keeps every call's latency.
type earns struct {
	c       *client
	members int
	member  func(int) string
	run     string
	seq     atomic.Int64
	// stopAt: no call meant to start at or after it is sent (unix ns; 0: none yet).
	stopAt atomic.Int64

	mu    sync.Mutex
	calls []call
}

type call struct {
	at      time.Time // intended start
	latency time.Duration
	failed  bool
}

func (e *earns) work(sched *schedule) {
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(e.seq.Add(1))))
	for {
		at := sched.take()
		for {
			if stop := e.stopAt.Load(); stop != 0 && at.UnixNano() >= stop {
				return
			}
			wait := time.Until(at)
			if wait <= 0 {
				break
			}
			time.Sleep(min(wait, 50*time.Millisecond)) // and look at stopAt again
		}
		member := e.member(rnd.IntN(e.members))
		_, err := e.c.call(http.MethodPost, "/v1/members/"+member+":earn", "application/json",
			fmt.Sprintf(`{"requestId":"bench-earn-%s-%d","points":10}`, e.run, e.seq.Add(1)))
		c := call{at: at, latency: time.Since(at), failed: err != nil}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bulkload: earn:", err)
		}
		e.mu.Lock()
		e.calls = append(e.calls, c)
		e.mu.Unlock()
	}
}

// window is the latency of the calls meant to start in [from, to).
func (e *earns) window(from, to time.Time) window {
	e.mu.Lock()
	defer e.mu.Unlock()
	var w window
	var lat []time.Duration
	for _, c := range e.calls {
		if c.at.Before(from) || !c.at.Before(to) {
			continue
		}
		w.Calls++
		if c.failed {
			w.Errors++
			continue
		}
		lat = append(lat, c.latency)
	}
	if len(lat) == 0 {
		return w
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	at := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	w.P50Ms, w.P99Ms, w.MaxMs = ms(at(0.50)), ms(at(0.99)), ms(lat[len(lat)-1])
	return w
}

type client struct {
	base, key string
	http      *http.Client
}

// call sends a request as the admin; anything but a 200 is an error.
func (c *client) call(method, path, contentType, body string) (map[string]any, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader([]byte(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return out, nil
}

// num reads a JSON number, or an int64 as protojson writes it (a string).
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

func timeOf(v any) time.Time {
	s, _ := v.(string)
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// line is one run in words, with its ratios to the reference run when there is one.
func line(r result, ref *result) string {
	s := fmt.Sprintf("bulk-credit [%s]: %d members in %.1f s (listing %.1f s): %.0f members/s; REST earn (members %s it) at %d/s: p99 %.1f ms alone, %.1f ms beside it (p50 %.1f, max %.1f, %d calls, %d errors); load %s -> %s",
		r.Label, r.Members, r.CreditSeconds, r.PrepareSeconds, r.MembersPerSec, r.EarnMembers, r.EarnRate, r.Baseline.P99Ms, r.During.P99Ms,
		r.During.P50Ms, r.During.MaxMs, r.During.Calls, r.Baseline.Errors+r.During.Errors, r.LoadBefore, r.LoadAfter)
	if ref != nil && ref.MembersPerSec > 0 && ref.During.P99Ms > 0 {
		s += fmt.Sprintf("; against [%s]: members/s %.2fx, earn p99 beside it %.2fx", ref.Label, r.MembersPerSec/ref.MembersPerSec, r.During.P99Ms/ref.During.P99Ms)
	}
	return s
}

func printReport(files []string, markdown bool) error {
	var rs []result
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var r result
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return errors.New("no results")
	}
	if !markdown {
		for i, r := range rs {
			var ref *result
			if i > 0 {
				ref = &rs[0]
			}
			fmt.Println(line(r, ref))
		}
		return nil
	}
	fmt.Printf("| bulk-credit, %d members, REST earn at %d/s beside it (members %s it) | members/s | ratio | earn p99 alone, ms | earn p99 beside it, ms | ratio | earn p50 beside it, ms | load |\n", rs[0].Members, rs[0].EarnRate, rs[0].EarnMembers)
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range rs {
		ratio := func(a, b float64) string {
			if b == 0 {
				return "–"
			}
			return fmt.Sprintf("%.2fx", a/b)
		}
		fmt.Printf("| %s | %s | %s | %.1f | %.1f | %s | %.1f | %s -> %s |\n", r.Label, group(int64(r.MembersPerSec)), ratio(r.MembersPerSec, rs[0].MembersPerSec),
			r.Baseline.P99Ms, r.During.P99Ms, ratio(r.During.P99Ms, rs[0].During.P99Ms), r.During.P50Ms, r.LoadBefore, r.LoadAfter)
	}
	return nil
}

// group writes 12345 as 12,345.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
