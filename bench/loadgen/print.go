package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// printTable prints one row per scenario (the name column fits rest-campaign-earn).
// Open-loop scenarios add their target rate next to the ops/s they achieved
// (closed-loop tables stay as they were). With pgbench figures it adds the ratio of
// each scenario's ops/s to its counterpart's mean tps (baselines.counterpart).
func printTable(w io.Writer, ss []summary, base baselines) {
	writeMean, _ := base.write.meanTPS()
	readMean, _ := base.read.meanTPS()
	withRatios := writeMean > 0 || readMean > 0
	paced := anyRate(ss)
	fmt.Fprintf(w, "%-18s %9s %10s", "scenario", "ops", "ops/s")
	if paced {
		fmt.Fprintf(w, " %9s", "rate")
	}
	fmt.Fprintf(w, " %10s %10s %10s %10s %7s", "p50", "p90", "p99", "max", "errors")
	if withRatios {
		fmt.Fprintf(w, " %12s", "vs pgbench")
	}
	fmt.Fprintln(w)
	for _, s := range ss {
		fmt.Fprintf(w, "%-18s %9d %10.1f", s.Name, s.Ops, s.OpsPerSec)
		if paced {
			fmt.Fprintf(w, " %9s", fmtRate(s.Rate))
		}
		fmt.Fprintf(w, " %10s %10s %10s %10s %7d",
			fmtMs(s.P50Ms), fmtMs(s.P90Ms), fmtMs(s.P99Ms), fmtMs(s.MaxMs), s.Errors+s.WarmupErrors)
		if withRatios {
			ratio := "-"
			if mean := base.counterpart(s.Name); mean > 0 {
				ratio = fmt.Sprintf("%.2fx", s.OpsPerSec/mean)
			}
			fmt.Fprintf(w, " %12s", ratio)
		}
		switch {
		case failed(s):
			fmt.Fprint(w, "  <- ERRORS, not valid")
		case s.Aborted != "":
			fmt.Fprintf(w, "  <- %s: partial", s.Aborted)
		case behind(s):
			fmt.Fprint(w, "  <- below the rate: saturated (server or -workers)")
		}
		fmt.Fprintln(w)
	}
}

// isWrite tells the write scenarios, which pgbench's tpcb-like is the counterpart of;
// the others are reads, whose counterpart is pgbench's select-only (a primary-key
// read).
func isWrite(scenario string) bool {
	return strings.HasSuffix(scenario, "-earn") || strings.HasSuffix(scenario, "-redeem") || scenario == webhookScenario ||
		scenario == "rest-activity"
}

func anyRate(ss []summary) bool {
	for _, s := range ss {
		if s.Rate > 0 {
			return true
		}
	}
	return false
}

func fmtRate(rate int) string {
	if rate == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/s", rate)
}

// behind tells whether an open-loop scenario completed clearly fewer calls than its
// schedule asked for: then the calls queued up for the whole run and its latencies
// grew with the run's length, instead of describing the server at that rate. The
// slack allows for the calls in flight at either edge of the window.
func behind(s summary) bool {
	want := float64(s.Rate) * s.DurationSeconds
	return s.Rate > 0 && float64(s.Ops) < 0.95*want-1
}

// failed tells whether calls failed (an interrupt alone is not a failure).
func failed(s summary) bool {
	return s.Errors+s.WarmupErrors > 0 || (s.Aborted != "" && s.Aborted != abortInterrupted)
}

// printErrors says loudly which scenarios had errors, with their first messages, and
// reports whether there were any.
func printErrors(w io.Writer, ss []summary) bool {
	var bad []summary
	for _, s := range ss {
		if failed(s) {
			bad = append(bad, s)
		}
	}
	if len(bad) == 0 {
		return false
	}
	bar := strings.Repeat("!", 78)
	fmt.Fprintf(w, "\n%s\n!!! ERRORS in %d of %d scenarios: their figures are NOT valid\n", bar, len(bad), len(ss))
	for _, s := range bad {
		fmt.Fprintf(w, "!!! %s: %d errors (%d during warmup)", s.Name, s.Errors+s.WarmupErrors, s.WarmupErrors)
		if s.Aborted != "" {
			fmt.Fprintf(w, ", %s", s.Aborted)
		}
		fmt.Fprintln(w)
		for i, e := range s.ErrorSamples {
			if i == 5 {
				fmt.Fprintf(w, "!!!   ... %d more kinds of error\n", len(s.ErrorSamples)-i)
				break
			}
			fmt.Fprintf(w, "!!!   %6dx %s\n", e.Count, e.Message)
		}
	}
	fmt.Fprintln(w, bar)
	return true
}

// baselines are pgbench's figures of the same run: tpcb-like for the write
// scenarios, select-only for the reads. Either may be empty.
type baselines struct {
	write, read pgbenchRuns
}

// counterpart is the mean tps a scenario's ops/s is compared with: tpcb-like's for a
// write, select-only's for a read; 0 without those figures.
func (b baselines) counterpart(scenario string) float64 {
	runs := b.read
	if isWrite(scenario) {
		runs = b.write
	}
	mean, _ := runs.meanTPS()
	return mean
}

// pgbenchRuns are pgbench's figures of the same run, in run order (before, after).
type pgbenchRuns struct {
	tps       []float64
	latencyMs []float64 // latency averages, empty if not given
	p99Ms     []float64 // latency p99s (from pgbench's transaction logs), empty if not given
}

// meanTPS is the mean tps and the spread (max − min) ÷ mean; 0, 0 without figures.
func (p pgbenchRuns) meanTPS() (mean, spread float64) {
	if len(p.tps) == 0 {
		return 0, 0
	}
	lo, hi := p.tps[0], p.tps[0]
	for _, v := range p.tps {
		mean += v
		lo, hi = min(lo, v), max(hi, v)
	}
	mean /= float64(len(p.tps))
	return mean, (hi - lo) / mean
}

// report prints an earlier run's results next to pgbench's tps figures: the text
// table, or with markdown the table for docs/BENCHMARKS.md.
func report(w io.Writer, path string, base baselines, markdown bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var res results
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if markdown {
		printMarkdown(w, res.Scenarios, base)
		return nil
	}
	printPgbench(w, "tpcb-like", base.write)
	printPgbench(w, "select-only", base.read)
	c := res.Config
	fmt.Fprintf(w, "loyaltyd (loadgen %s): %s, %d members, %s warmup + %s per scenario, %d gRPC conns\n\n",
		res.RunID, describeLoad(c.Workers, c.Rate), c.Members, c.Warmup, c.Duration, c.GRPCConns)
	printTable(w, res.Scenarios, base)
	printLags(w, res.Scenarios)
	if anyRate(res.Scenarios) {
		fmt.Fprintln(w, "\nrate = open loop's target calls/s; ops/s = achieved. Latency counts from each call's")
		fmt.Fprintln(w, "intended start, so it includes waiting for a free worker when the server falls behind.")
	}
	if len(base.write.tps)+len(base.read.tps) > 0 {
		fmt.Fprintln(w, "\nvs pgbench = scenario ops/s / mean pgbench tps: tpcb-like's for writes, select-only's for reads.")
		if anyRate(res.Scenarios) {
			// The rate caps ops/s: the ratio is then not what the server can do.
			fmt.Fprintln(w, "Open loop: ops/s is at most the rate asked for, so this ratio is not the API's capacity.")
		}
	}
	printErrors(w, res.Scenarios)
	return nil
}

// printPgbench prints one pgbench transaction's tps figures in run order, if any.
func printPgbench(w io.Writer, builtin string, runs pgbenchRuns) {
	if len(runs.tps) == 0 {
		return
	}
	mean, spread := runs.meanTPS()
	parts := make([]string, len(runs.tps))
	for i, v := range runs.tps {
		parts[i] = fmt.Sprintf("%.1f", v)
	}
	fmt.Fprintf(w, "pgbench %s tps, in run order: %s; mean %.1f", builtin, strings.Join(parts, ", "), mean)
	if len(runs.tps) > 1 {
		fmt.Fprintf(w, " (spread %.1f%% of the mean)", 100*spread)
	}
	fmt.Fprintln(w)
}
