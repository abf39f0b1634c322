package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// printMarkdown prints the run as the tables of docs/BENCHMARKS.md: pgbench's rows,
// then per scenario ops/s, p50, p99 and the ratio to its counterpart's mean tps
// (tpcb-like for writes, select-only for reads); below it, campaign earnings against plain order earnings when both ran.
// Open-loop scenarios add their target rate; a scenario with errors or cut short is
// marked in its first cell, so that its figures are not pasted as valid.
func printMarkdown(w io.Writer, ss []summary, base baselines) {
	paced := anyRate(ss)
	rateHead, rateAlign := "", ""
	if paced {
		rateHead, rateAlign = " rate |", "---:|"
	}
	fmt.Fprintf(w, "| scenario | ops/s (tps) |%s p50 | p99 | vs pgbench |\n", rateHead)
	fmt.Fprintf(w, "|---|---:|%s---:|---:|---:|\n", rateAlign)
	for _, b := range []struct {
		builtin string
		runs    pgbenchRuns
	}{{"tpcb-like", base.write}, {"select-only", base.read}} {
		if mean, spread := b.runs.meanTPS(); mean > 0 {
			fmt.Fprintln(w, pgbenchMarkdownRow(b.builtin, b.runs, mean, spread, paced))
		}
	}
	for _, s := range ss {
		rate := ""
		if paced {
			rate = " " + mdRate(s.Rate) + " |"
		}
		fmt.Fprintf(w, "| %s | %s |%s %s | %s | %s |\n",
			mdScenario(s), thousands(s.OpsPerSec), rate, mdMs(s.P50Ms), mdMs(s.P99Ms), mdRatio(s, base.counterpart(s.Name)))
	}
	if line := campaignRatioLine(ss); line != "" {
		fmt.Fprintf(w, "\n%s\n", line)
	}
	for _, line := range webhookMarkdownLines(ss) {
		fmt.Fprintf(w, "\n%s\n", line)
	}
	if lines := commitLines(ss, true); len(lines) > 0 {
		fmt.Fprintf(w, "\n%s\n", strings.Join(lines, "\n\n"))
	}
}

// pgbenchMarkdownRow is "| pgbench tpcb-like, before / after | 2,542 / 1,936 | avg
// 12.6 / 16.5 ms | – | mean 2,239 (spread 27%) |".
func pgbenchMarkdownRow(builtin string, pgb pgbenchRuns, mean, spread float64, paced bool) string {
	label := "pgbench " + builtin
	if len(pgb.tps) == 2 {
		label += ", before / after"
	}
	tps := make([]string, len(pgb.tps))
	for i, v := range pgb.tps {
		tps[i] = thousands(v)
	}
	lat := "–"
	if len(pgb.latencyMs) > 0 {
		lat = "avg " + joinMs(pgb.latencyMs) + " ms"
	}
	p99 := "–"
	if len(pgb.p99Ms) > 0 {
		p99 = joinMs(pgb.p99Ms) + " ms"
	}
	vs := "mean " + thousands(mean)
	if len(pgb.tps) > 1 {
		vs += fmt.Sprintf(" (spread %.0f%%)", 100*spread)
	}
	rate := ""
	if paced {
		rate = " – |"
	}
	return fmt.Sprintf("| %s | %s |%s %s | %s | %s |", label, strings.Join(tps, " / "), rate, lat, p99, vs)
}

// joinMs is "12.6 / 16.5": latencies in ms, one decimal, in run order.
func joinMs(ms []float64) string {
	parts := make([]string, len(ms))
	for i, v := range ms {
		parts[i] = strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strings.Join(parts, " / ")
}

// mdScenario is the scenario's name, marked when its figures are not valid.
func mdScenario(s summary) string {
	switch {
	case failed(s):
		return s.Name + " (ERRORS: not valid)"
	case s.Aborted != "":
		return s.Name + " (" + s.Aborted + ": partial)"
	case behind(s):
		return s.Name + " (below the rate)"
	}
	return s.Name
}

// mdRatio is the scenario's ops/s ÷ its pgbench counterpart's mean tps, in bold as
// in docs/BENCHMARKS.md; "–" without those figures.
func mdRatio(s summary, pgbenchMean float64) string {
	if pgbenchMean <= 0 {
		return "–"
	}
	return fmt.Sprintf("**%.2fx**", s.OpsPerSec/pgbenchMean)
}

// campaignRatioLine compares earnings under a campaign with plain order earnings of
// the same run: what the campaign's grant costs. Empty unless both ran.
func campaignRatioLine(ss []summary) string {
	var order *summary
	var lines []string
	for i := range ss {
		if ss[i].Name == "rest-order-earn" {
			order = &ss[i]
		}
	}
	if order == nil || order.OpsPerSec <= 0 {
		return ""
	}
	// rest-activity: what an activity's earning costs next to an order's.
	for _, name := range []string{"rest-campaign-earn", "rest-activity"} {
		for i := range ss {
			if ss[i].Name == name {
				lines = append(lines, fmt.Sprintf("%s ÷ rest-order-earn (ops/s, same run): **%.2fx**", name, ss[i].OpsPerSec/order.OpsPerSec))
			}
		}
	}
	return strings.Join(lines, "\n\n")
}

// mdMs is a latency as docs/BENCHMARKS.md writes it: "0.812 ms", "4.80 ms", "28.0 ms",
// "588 ms"; "–" if there is none.
func mdMs(v float64) string {
	switch {
	case v == 0:
		return "–"
	case v < 1:
		return fmt.Sprintf("%.3f ms", v)
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.0f ms", v)
	}
}

func mdRate(rate int) string {
	if rate == 0 {
		return "–"
	}
	return thousands(float64(rate)) + "/s"
}

// thousands rounds v to a whole number and groups its digits: 2811.4 is "2,811".
func thousands(v float64) string {
	digits := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(digits, "-")
	digits = strings.TrimPrefix(digits, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return b.String()
}
