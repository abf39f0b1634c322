package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// printTable prints one row per scenario. With pgbenchTPS > 0 it adds the ratio of
// each write scenario's ops/s to pgbench's tps (reads have no counterpart there).
func printTable(w io.Writer, ss []summary, pgbenchTPS float64) {
	fmt.Fprintf(w, "%-15s %9s %10s %10s %10s %10s %10s %7s", "scenario", "ops", "ops/s", "p50", "p90", "p99", "max", "errors")
	if pgbenchTPS > 0 {
		fmt.Fprintf(w, " %12s", "vs pgbench")
	}
	fmt.Fprintln(w)
	for _, s := range ss {
		fmt.Fprintf(w, "%-15s %9d %10.1f %10s %10s %10s %10s %7d", s.Name, s.Ops, s.OpsPerSec,
			fmtMs(s.P50Ms), fmtMs(s.P90Ms), fmtMs(s.P99Ms), fmtMs(s.MaxMs), s.Errors+s.WarmupErrors)
		if pgbenchTPS > 0 {
			ratio := "-"
			if strings.HasSuffix(s.Name, "-earn") || strings.HasSuffix(s.Name, "-redeem") {
				ratio = fmt.Sprintf("%.2fx", s.OpsPerSec/pgbenchTPS)
			}
			fmt.Fprintf(w, " %12s", ratio)
		}
		switch {
		case failed(s):
			fmt.Fprint(w, "  <- ERRORS, not valid")
		case s.Aborted != "":
			fmt.Fprintf(w, "  <- %s: partial", s.Aborted)
		}
		fmt.Fprintln(w)
	}
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

// report prints an earlier run's results next to pgbench's tps figures.
func report(w io.Writer, path string, tps []float64) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var res results
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var mean float64
	if len(tps) > 0 {
		lo, hi := tps[0], tps[0]
		for _, v := range tps {
			mean += v
			lo, hi = min(lo, v), max(hi, v)
		}
		mean /= float64(len(tps))
		parts := make([]string, len(tps))
		for i, v := range tps {
			parts[i] = fmt.Sprintf("%.1f", v)
		}
		fmt.Fprintf(w, "pgbench tpcb-like tps, in run order: %s; mean %.1f", strings.Join(parts, ", "), mean)
		if len(tps) > 1 {
			fmt.Fprintf(w, " (spread %.1f%% of the mean)", 100*(hi-lo)/mean)
		}
		fmt.Fprintln(w)
	}
	c := res.Config
	fmt.Fprintf(w, "loyaltyd (loadgen %s): %d workers, %d members, %s warmup + %s per scenario, %d gRPC conns\n\n",
		res.RunID, c.Workers, c.Members, c.Warmup, c.Duration, c.GRPCConns)
	printTable(w, res.Scenarios, mean)
	if mean > 0 {
		fmt.Fprintln(w, "\nvs pgbench = scenario ops/s / mean pgbench tps (write scenarios only).")
	}
	printErrors(w, res.Scenarios)
	return nil
}
