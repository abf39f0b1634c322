package chaostest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// clients is how many REST clients put load on loyaltyd at once.
const clients = 16

// The faults the crash test injects, in the order a short round injects them.
const (
	faultKill     = "loyaltyd SIGKILL + restart"
	faultPGCrash  = "PostgreSQL crash (immediate stop) + start"
	faultSIGTERM  = "loyaltyd SIGTERM under load + restart"
	minAcksPerRun = 100
)

// chaosDuration is how long faults go on: CHAOS_DURATION (`make chaos`), or zero
// for the short round of `go test`, one fault of each kind.
func chaosDuration(t *testing.T) time.Duration {
	v := os.Getenv("CHAOS_DURATION")
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("CHAOS_DURATION=%q: want a positive duration such as 60s", v)
	}
	return d
}

// Crashes and restarts lose nothing: under a mixed load of retrying clients,
// loyaltyd is killed and restarted, PostgreSQL crashes and comes back while
// loyaltyd runs on, and loyaltyd is stopped gracefully and restarted. Every write a
// client saw acknowledged still answers the same entry when replayed, and the books
// verify.
func TestCrashesLoseNoAcknowledgedWrite(t *testing.T) {
	t.Parallel() // each test has a cluster of its own
	duration := chaosDuration(t)
	began := time.Now()
	// Build while initdb runs: both take a while on a busy machine.
	built := make(chan string, 1)
	go func() { built <- buildDaemon(t) }()
	pg := startCluster(t, true)
	bin := <-built
	if bin == "" {
		t.FailNow() // buildDaemon reported why
	}
	// Webhooks go to a receiver in this test, on loopback.
	d := newDaemon(t, bin, pg.url(), "LOYALTY_WEBHOOK_ALLOW=127.0.0.0/8")
	d.start()
	t.Logf("durable PostgreSQL and loyaltyd up after %s", time.Since(began).Round(time.Millisecond))

	// Clients stop starting writes when the faults are over, and stop retrying one
	// at giveUp (far beyond any recovery here; a write given up on was never
	// acknowledged, so it is owed nothing).
	l := newLoad(t, d.baseURL(), time.Now().Add(duration+5*time.Minute))
	l.launchCompensation()
	hooks := newReceiver(t)
	hooks.register(t, l)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() { defer wg.Done(); l.run(c) }()
	}

	survived := map[string]int{}
	// progress waits (bounded) for the load to get n more writes acknowledged, so
	// that every fault strikes a server under load and the server recovers from it.
	progress := func(after string, n int) {
		t.Helper()
		from, start := l.acked(), time.Now()
		defer func() {
			t.Logf("%d writes acknowledged in %s after %s", n, time.Since(start).Round(time.Millisecond), after)
		}()
		if err := waitFor(2*time.Minute, func() bool { return l.acked() >= from+n }); err != nil {
			t.Fatalf("after %s: no %d writes acknowledged within 2 minutes (%d so far)", after, n, l.acked()-from)
		}
	}
	inject := func(fault string) {
		t.Helper()
		start := time.Now()
		defer func() { t.Logf("%s: back in %s", fault, time.Since(start).Round(time.Millisecond)) }()
		switch fault {
		case faultKill:
			d.kill()
			d.start()
		case faultPGCrash:
			pg.crash()
			time.Sleep(time.Second) // an outage: loyaltyd answers UNAVAILABLE meanwhile
			pg.restart()
			// loyaltyd was not restarted: it reconnects by itself.
			d.waitReady(30 * time.Second)
		case faultSIGTERM:
			if err := d.terminate(); err != nil {
				t.Errorf("loyaltyd stopped on SIGTERM with %v, want a clean exit after draining", err)
			}
			d.start()
		}
		survived[fault]++
	}

	kinds := []string{faultKill, faultPGCrash, faultSIGTERM}
	progress("start", 50)
	if duration == 0 {
		for _, f := range kinds {
			inject(f)
			progress(f, 50)
		}
	} else {
		end := time.Now().Add(duration)
		for i := 0; time.Now().Before(end); i++ {
			inject(kinds[i%len(kinds)])
			progress(kinds[i%len(kinds)], 50)
			time.Sleep(time.Duration(1+i%3) * time.Second)
		}
	}
	l.stop.Store(true)
	wg.Wait()
	t.Logf("load stopped after %s", time.Since(began).Round(time.Millisecond))

	d.waitReady(30 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	lost := l.replayAll(ctx, clients)

	t.Logf("replayed %d writes after %s", l.acked(), time.Since(began).Round(time.Millisecond))
	verify := getJSON(t, d.baseURL()+"/v1/ledger:verify")
	if verify["ok"] != true {
		t.Errorf("the books do not verify after the faults: %v", verify)
	}
	// The audit trail lost nothing either: every entry a call made committed in one
	// transaction with that call's audit record (entries of the engine's own jobs
	// have no call).
	if conn, err := pgx.Connect(ctx, pg.url()); err != nil {
		t.Errorf("connect to check the audit trail: %v", err)
	} else {
		var orphans, entries int
		if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.xmin::text = e.xmin::text)), count(*)
			FROM entries e WHERE e.request_id NOT LIKE 'system#%'`).Scan(&orphans, &entries); err != nil {
			t.Errorf("check the audit trail: %v", err)
		} else if orphans != 0 || entries == 0 {
			t.Errorf("%d of %d entries made by calls committed without their call's audit record", orphans, entries)
		}
		_ = conn.Close(ctx)
	}
	// Every change has its event, and the webhooks delivered them all, in member
	// order, through the crashes.
	checkEvents(t, ctx, pg.url(), hooks)
	acked := l.acked()
	if acked < minAcksPerRun {
		t.Errorf("only %d writes acknowledged, want at least %d", acked, minAcksPerRun)
	}
	for _, kind := range []string{"earn", "redeem", "hold", "capture", "orderEarn", "refund", "goodwill"} {
		if l.byKind[kind] == 0 {
			t.Errorf("no %s was acknowledged: the load did not cover it", kind)
		}
	}
	retried := l.rest.retryCounts()
	t.Log(summary(acked, l.byKind, survived, retried, l.unacked.Load(), lost, verify["ok"] == true))
	// A fault may cost a client a retry, never an INTERNAL error: every failure a
	// fault causes is classified (UNAVAILABLE, or the gateway's own 502/503).
	if retried["500"] > 0 {
		t.Errorf("%d answers were 500 INTERNAL: a failure the server did not classify (see its log)", retried["500"])
	}
}

// summary is what `make chaos` prints.
func summary(acked int, byKind, faults, retried map[string]int, unacked int64, lost int, verified bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos summary\n  acknowledged writes: %d (%s)\n", acked, counts(byKind))
	fmt.Fprintf(&b, "  faults survived: %s\n", counts(faults))
	fmt.Fprintf(&b, "  client retries: %s; writes given up unacknowledged: %d\n", counts(retried), unacked)
	fmt.Fprintf(&b, "  ledger verifies: %v\n  lost: %d\n", verified, lost)
	return b.String()
}

func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, raw)
	}
	return body
}
