package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMarkdownTable(t *testing.T) {
	ss := []summary{
		{Name: "rest-earn", OpsPerSec: 2811.4, P50Ms: 10.64, P99Ms: 28.01},
		{Name: "rest-order-earn", OpsPerSec: 1742, P50Ms: 9.5, P99Ms: 130.2},
		{Name: "rest-campaign-earn", OpsPerSec: 830, P50Ms: 0.8125, P99Ms: 588},
		{Name: "rest-balance", OpsPerSec: 5661, P50Ms: 4.8, P99Ms: 19.3},
	}
	var out bytes.Buffer
	printMarkdown(&out, ss, baselines{
		write: pgbenchRuns{tps: []float64{2542, 1936}, latencyMs: []float64{12.6, 16.5}},
		read:  pgbenchRuns{tps: []float64{36000, 38000}, latencyMs: []float64{0.9, 0.8}, p99Ms: []float64{4.25, 3.5}},
	})
	want := `| scenario | ops/s (tps) | p50 | p99 | vs pgbench |
|---|---:|---:|---:|---:|
| pgbench tpcb-like, before / after | 2,542 / 1,936 | avg 12.6 / 16.5 ms | – | mean 2,239 (spread 27%) |
| pgbench select-only, before / after | 36,000 / 38,000 | avg 0.9 / 0.8 ms | 4.2 / 3.5 ms | mean 37,000 (spread 5%) |
| rest-earn | 2,811 | 10.6 ms | 28.0 ms | **1.26x** |
| rest-order-earn | 1,742 | 9.50 ms | 130 ms | **0.78x** |
| rest-campaign-earn | 830 | 0.812 ms | 588 ms | **0.37x** |
| rest-balance | 5,661 | 4.80 ms | 19.3 ms | **0.15x** |

rest-campaign-earn ÷ rest-order-earn (ops/s, same run): **0.48x**
`
	if out.String() != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestMarkdownMarksInvalidRowsAndSkipsMissingRatios(t *testing.T) {
	ss := []summary{
		{Name: "rest-earn", OpsPerSec: 100, P50Ms: 1, P99Ms: 2, Errors: 3},
		{Name: "rest-campaign-earn", OpsPerSec: 50, P50Ms: 1, P99Ms: 2, Aborted: abortInterrupted},
	}
	var out bytes.Buffer
	printMarkdown(&out, ss, baselines{})
	got := out.String()
	for _, want := range []string{
		"| rest-earn (ERRORS: not valid) | 100 | 1.00 ms | 2.00 ms | – |",
		"| rest-campaign-earn (" + abortInterrupted + ": partial) |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	// No pgbench figures: no pgbench row; no rest-order-earn: no campaign line.
	if strings.Contains(got, "pgbench tpcb-like") || strings.Contains(got, "÷") {
		t.Errorf("unexpected pgbench row or campaign line:\n%s", got)
	}
}

func TestMarkdownOpenLoopAddsRate(t *testing.T) {
	var out bytes.Buffer
	printMarkdown(&out, []summary{{Name: "rest-perks", OpsPerSec: 1000, Rate: 1000, DurationSeconds: 10, Ops: 10000, P50Ms: 1.2, P99Ms: 3.86}}, baselines{})
	want := "| scenario | ops/s (tps) | rate | p50 | p99 | vs pgbench |\n|---|---:|---:|---:|---:|---:|\n" +
		"| rest-perks | 1,000 | 1,000/s | 1.20 ms | 3.86 ms | – |\n"
	if out.String() != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestThousands(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999.4: "999", 999.5: "1,000", 1234567: "1,234,567", -4321: "-4,321"} {
		if got := thousands(v); got != want {
			t.Errorf("thousands(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestReportMarkdownFlags goes through the command line as scripts/bench.sh does.
func TestReportMarkdownFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	b, err := json.Marshal(results{Scenarios: []summary{{Name: "grpc-earn", OpsPerSec: 3000, P50Ms: 9, P99Ms: 30}, {Name: "grpc-balance", OpsPerSec: 20000, P50Ms: 1, P99Ms: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"-report", path, "-markdown", "-pgbench-tps", "2000,2000", "-pgbench-latency", "16,16",
		"-pgbench-select-tps", "40000,40000", "-pgbench-select-p99", "5,6"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{
		"| grpc-earn | 3,000 | 9.00 ms | 30.0 ms | **1.50x** |",
		"| avg 16.0 / 16.0 ms |",
		"| pgbench select-only, before / after | 40,000 / 40,000 | – | 5.0 / 6.0 ms |",
		"| grpc-balance | 20,000 | 1.00 ms | 4.00 ms | **0.50x** |",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report -markdown: no %q in\n%s", want, stdout.String())
		}
	}
	code = run([]string{"-report", path, "-markdown", "-pgbench-tps", "2000,2000", "-pgbench-latency", "16"}, &stdout, &stderr)
	if code != exitFailed || !strings.Contains(stderr.String(), "-pgbench-latency") {
		t.Errorf("one latency for two tps: exit %d, stderr %q", code, stderr.String())
	}
}
