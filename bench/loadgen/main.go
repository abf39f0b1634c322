// Command loadgen drives loyaltyd's REST and gRPC APIs with concurrent workers and
// reports throughput and latency percentiles per scenario. scripts/bench.sh (make
// bench) runs it next to pgbench on the same PostgreSQL; see docs/BENCHMARKS.md.
//
// It enrolls bench-0..N-1 (idempotent), then runs the scenarios one after the other:
// every worker picks a random member, sends one call, records the latency, repeats,
// until the scenario's warmup plus duration is over. It only talks to loopback
// addresses.
//
// By default the workers are closed loop: each sends its next call as soon as the
// previous one answers, so enough of them saturate the server and the latency is
// mostly queueing. With -rate N they are open loop: they take the calls from a shared
// schedule of N per second and each call's latency counts from its intended start,
// which gives the latency at a given load (see schedule).
//
// With -report, it sends nothing: it reads the -json file of an earlier run and
// prints the scenarios next to pgbench's tps (-pgbench-tps) with their ratios.
package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1 // bad flags, or the setup (enrolling) failed
	exitCallErrors  = 2 // the run finished but some calls failed: its figures are not valid
	exitInterrupted = 130
)

type options struct {
	rest, grpc   string
	key          string
	members      int
	workers      int
	rate         int
	grpcConns    int
	duration     time.Duration
	warmup       time.Duration
	scenarios    []string
	points       int64
	timeout      time.Duration
	maxErrors    int64
	enrollTO     time.Duration
	hookDrain    time.Duration
	jsonOut      string
	report       string
	pgbenchTPS   []float64
	pgbenchLat   []float64
	markdown     bool
	seed         uint64
	scenarioList string
	pgbenchList  string
	pgbenchLats  string
	selectTPS    []float64
	selectLat    []float64
	selectList   string
	selectLats   string
	pgbenchP99   []float64
	selectP99    []float64
	pgbenchP99s  string
	selectP99s   string
}

// results is the -json file.
type results struct {
	RunID     string    `json:"runId"`
	StartTime time.Time `json:"startTime"`
	Config    struct {
		REST      string  `json:"rest"`
		GRPC      string  `json:"grpc"`
		Members   int     `json:"members"`
		Workers   int     `json:"workers"`
		Rate      int     `json:"rate"` // open loop's calls/s per scenario; 0: closed loop
		GRPCConns int     `json:"grpcConns"`
		Duration  string  `json:"duration"`
		Warmup    string  `json:"warmup"`
		Points    int64   `json:"points"`
		Timeout   string  `json:"timeout"`
		MaxErrors int64   `json:"maxErrors"`
		Seed      uint64  `json:"seed"`
		Enroll    float64 `json:"enrollSeconds"`
	} `json:"config"`
	Scenarios []summary `json:"scenarios"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(stderr, "loadgen:", err)
		return exitFailed
	}
	if o.report != "" {
		if err := report(stdout, o.report, baselines{
			write: pgbenchRuns{tps: o.pgbenchTPS, latencyMs: o.pgbenchLat, p99Ms: o.pgbenchP99},
			read:  pgbenchRuns{tps: o.selectTPS, latencyMs: o.selectLat, p99Ms: o.selectP99},
		}, o.markdown); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return exitFailed
		}
		return exitOK
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var res results
	res.RunID = newRunID()
	res.StartTime = time.Now().UTC()
	c := &res.Config
	c.REST, c.GRPC, c.Members, c.Workers, c.GRPCConns = o.rest, o.grpc, o.members, o.workers, o.grpcConns
	c.Rate = o.rate
	c.Duration, c.Warmup, c.Points, c.Timeout = o.duration.String(), o.warmup.String(), o.points, o.timeout.String()
	c.MaxErrors, c.Seed = o.maxErrors, o.seed

	t, err := newTarget(o.rest, o.grpc, o.key, o.points, o.members, o.workers, o.grpcConns, o.timeout)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return exitFailed
	}
	defer t.close()

	fmt.Fprintf(stdout, "loadgen %s: REST %s, gRPC %s (%d conns), %s, %d members, %s warmup + %s per scenario\n",
		res.RunID, o.rest, o.grpc, o.grpcConns, describeLoad(o.workers, o.rate), o.members, o.warmup, o.duration)
	enrollStart := time.Now()
	created, existing, err := enrollAll(ctx, t, o.workers, o.enrollTO)
	c.Enroll = time.Since(enrollStart).Seconds()
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "enrolled %d members (%d new, %d already there) in %.1fs\n", o.members, created, existing, c.Enroll)

	p := runParams{
		runID: res.RunID, workers: o.workers, warmup: o.warmup, duration: o.duration,
		maxErrors: o.maxErrors, seed: o.seed, rate: o.rate,
	}
	for _, name := range o.scenarios {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(stdout, "%-18s running...", name)
		teardown, err := setUp(ctx, t, name, o.warmup+o.duration)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: set up %s: %v\n", name, err)
			return exitFailed
		}
		// A write scenario's commits: /metrics read as its measured window starts
		// and as it ends (a failed read only leaves the figure out).
		var commitsAt commitCounters
		var commitsErr error
		var commitsDone chan struct{}
		if isWrite(name) {
			commitsDone = make(chan struct{})
			go func() {
				defer close(commitsDone)
				select {
				case <-time.After(o.warmup):
					commitsAt, commitsErr = t.scrapeCommits(ctx)
				case <-ctx.Done():
					commitsErr = ctx.Err()
				}
			}()
		}
		runStart := time.Now()
		s := runScenario(ctx, t, name, scenarios[name], p)
		if commitsDone != nil {
			<-commitsDone
			if commitsErr == nil {
				var after commitCounters
				if after, commitsErr = t.scrapeCommits(ctx); commitsErr == nil {
					s.Commits = rateBetween(commitsAt, after)
				}
			}
			if commitsErr != nil {
				fmt.Fprintf(stderr, "loadgen: %s: commits not measured: %v\n", name, commitsErr)
			}
		}
		if t.hooks != nil {
			// The earns answered in the measured window (runScenario's starts within
			// microseconds of runStart).
			measureStart := runStart.Add(o.warmup)
			s.Webhook = t.hooks.finish(ctx, measureStart, measureStart.Add(o.duration), o.hookDrain)
		}
		teardown()
		res.Scenarios = append(res.Scenarios, s)
		fmt.Fprintf(stdout, " %d ops, %.1f ops/s, p50 %s, p99 %s, %d errors", s.Ops, s.OpsPerSec, fmtMs(s.P50Ms), fmtMs(s.P99Ms), s.Errors+s.WarmupErrors)
		if s.Aborted != "" {
			fmt.Fprintf(stdout, " (%s)", s.Aborted)
		}
		if s.Webhook != nil {
			fmt.Fprintf(stdout, "; webhooks: %s", fmtLag(s.Webhook))
		}
		fmt.Fprintln(stdout)
	}

	fmt.Fprintln(stdout)
	printTable(stdout, res.Scenarios, baselines{})
	printLags(stdout, res.Scenarios)
	bad := printErrors(stdout, res.Scenarios)

	if o.jsonOut != "" {
		if err := writeJSON(o.jsonOut, &res); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return exitFailed
		}
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(stdout, "loadgen: interrupted")
		return exitInterrupted
	case bad:
		return exitCallErrors
	}
	return exitOK
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.rest, "rest", "http://127.0.0.1:18080", "REST base URL (loopback only)")
	fs.StringVar(&o.grpc, "grpc", "127.0.0.1:19090", "gRPC address host:port (loopback only)")
	fs.StringVar(&o.key, "key", os.Getenv("LOYALTY_KEY"), "API key (bearer secret; default $LOYALTY_KEY)")
	fs.IntVar(&o.members, "members", 10000, "members bench-0..N-1, enrolled first (idempotent)")
	fs.IntVar(&o.workers, "workers", 32, "concurrent workers (with -rate: the most calls in flight)")
	fs.IntVar(&o.rate, "rate", 0, "open loop: calls per second for the whole scenario, latency from each call's intended start (0: closed loop)")
	fs.IntVar(&o.grpcConns, "grpc-conns", 4, "gRPC connections the workers share (round robin)")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "measured time per scenario")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured time before each scenario's measurement")
	fs.StringVar(&o.scenarioList, "scenarios", "rest-earn,grpc-earn,rest-balance,grpc-balance",
		"comma-separated, run in this order; one of: "+strings.Join(scenarioOrder, ", "))
	fs.Int64Var(&o.points, "points", 10, "points per earn")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "timeout of one call")
	fs.Int64Var(&o.maxErrors, "max-errors", 1000, "stop a scenario after this many errors (0: never)")
	fs.DurationVar(&o.enrollTO, "enroll-timeout", 5*time.Minute, "time allowed to enroll the members")
	fs.DurationVar(&o.hookDrain, "webhook-drain", time.Minute, "rest-earn-webhook: how long to wait after the load for the last deliveries")
	fs.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	fs.Uint64Var(&o.seed, "seed", 0, "seed of the member choice (0: random)")
	fs.StringVar(&o.report, "report", "", "send nothing: print the results in this -json file next to -pgbench-tps")
	fs.StringVar(&o.pgbenchList, "pgbench-tps", "", "with -report: pgbench tps figures of the same run, comma-separated")
	fs.StringVar(&o.pgbenchLats, "pgbench-latency", "", "with -report -markdown: pgbench's latency averages in ms, in the order of -pgbench-tps")
	fs.StringVar(&o.selectList, "pgbench-select-tps", "", "with -report: pgbench select-only tps figures of the same run (the reads' counterpart), comma-separated")
	fs.StringVar(&o.selectLats, "pgbench-select-latency", "", "with -report -markdown: select-only's latency averages in ms, in the order of -pgbench-select-tps")
	fs.StringVar(&o.pgbenchP99s, "pgbench-p99", "", "with -report -markdown: tpcb-like's latency p99s in ms, in the order of -pgbench-tps")
	fs.StringVar(&o.selectP99s, "pgbench-select-p99", "", "with -report -markdown: select-only's latency p99s in ms, in the order of -pgbench-select-tps")
	fs.BoolVar(&o.markdown, "markdown", false, "with -report: print the summary as a markdown table (docs/BENCHMARKS.md) instead")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.pgbenchTPS, err = positiveNumbers(o.pgbenchList); err != nil {
		return o, fmt.Errorf("-pgbench-tps: %w", err)
	}
	if o.selectTPS, err = positiveNumbers(o.selectList); err != nil {
		return o, fmt.Errorf("-pgbench-select-tps: %w", err)
	}
	for _, f := range []struct {
		into       *[]float64
		list, name string
		runs       []float64
		runsName   string
	}{
		{&o.pgbenchLat, o.pgbenchLats, "-pgbench-latency", o.pgbenchTPS, "-pgbench-tps"},
		{&o.pgbenchP99, o.pgbenchP99s, "-pgbench-p99", o.pgbenchTPS, "-pgbench-tps"},
		{&o.selectLat, o.selectLats, "-pgbench-select-latency", o.selectTPS, "-pgbench-select-tps"},
		{&o.selectP99, o.selectP99s, "-pgbench-select-p99", o.selectTPS, "-pgbench-select-tps"},
	} {
		if *f.into, err = positiveNumbers(f.list); err != nil {
			return o, fmt.Errorf("%s: %w", f.name, err)
		}
		if len(*f.into) > 0 && len(*f.into) != len(f.runs) {
			return o, fmt.Errorf("%s needs one figure per %s figure", f.name, f.runsName)
		}
	}
	if o.report != "" {
		return o, nil
	}

	for _, name := range strings.Split(o.scenarioList, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if _, ok := scenarios[name]; !ok {
			return o, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(scenarioOrder, ", "))
		}
		o.scenarios = append(o.scenarios, name)
	}
	switch {
	case len(o.scenarios) == 0:
		return o, errors.New("-scenarios: none given")
	case o.key == "":
		return o, errors.New("-key (or $LOYALTY_KEY) is required")
	case o.members < 1 || o.members > 10_000_000:
		return o, errors.New("-members must be 1..10000000")
	case o.workers < 1 || o.workers > 4096:
		return o, errors.New("-workers must be 1..4096")
	case o.rate < 0 || o.rate > 1_000_000:
		return o, errors.New("-rate must be 0..1000000")
	case o.grpcConns < 1 || o.grpcConns > 64:
		return o, errors.New("-grpc-conns must be 1..64")
	case o.duration <= 0 || o.warmup < 0 || o.timeout <= 0 || o.enrollTO <= 0 || o.hookDrain <= 0:
		return o, errors.New("-duration, -timeout, -enroll-timeout and -webhook-drain must be positive, -warmup not negative")
	case o.points < 1:
		return o, errors.New("-points must be positive")
	case o.maxErrors < 0:
		return o, errors.New("-max-errors must not be negative")
	}
	u, err := url.Parse(o.rest)
	if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return o, fmt.Errorf("-rest %q: want http://host:port", o.rest)
	}
	o.rest = strings.TrimSuffix(o.rest, "/")
	if !isLoopback(u.Hostname()) {
		return o, fmt.Errorf("-rest %q: only loopback addresses are allowed", o.rest)
	}
	host, _, err := net.SplitHostPort(o.grpc)
	if err != nil {
		return o, fmt.Errorf("-grpc %q: want host:port: %w", o.grpc, err)
	}
	if !isLoopback(host) {
		return o, fmt.Errorf("-grpc %q: only loopback addresses are allowed", o.grpc)
	}
	if o.seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.seed = binary.LittleEndian.Uint64(b[:]) | 1
	}
	return o, nil
}

// positiveNumbers parses a list separated by commas or spaces.
func positiveNumbers(list string) ([]float64, error) {
	var out []float64
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// describeLoad says how the workers send: "32 workers" (closed loop) or
// "32 workers at 500 calls/s (open loop)".
func describeLoad(workers, rate int) string {
	if rate == 0 {
		return fmt.Sprintf("%d workers", workers)
	}
	return fmt.Sprintf("%d workers at %d calls/s (open loop)", workers, rate)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newRunID is unique enough to keep request ids apart across runs on the same data:
// the start time and a random suffix.
func newRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "lg" + strconv.FormatInt(time.Now().Unix(), 36) + hex.EncodeToString(b[:])
}

func writeJSON(path string, res *results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}
