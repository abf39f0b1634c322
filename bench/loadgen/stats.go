package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// summary is what one scenario measured: successful calls completed inside the
// measured window, their latencies (open loop: from their intended start), and the
// calls that failed.
type summary struct {
	Name            string          `json:"name"`
	Ops             int64           `json:"ops"`
	Errors          int64           `json:"errors"`
	WarmupErrors    int64           `json:"warmupErrors"`
	DurationSeconds float64         `json:"durationSeconds"`
	OpsPerSec       float64         `json:"opsPerSec"`
	MeanMs          float64         `json:"meanMs"`
	P50Ms           float64         `json:"p50Ms"`
	P90Ms           float64         `json:"p90Ms"`
	P99Ms           float64         `json:"p99Ms"`
	P999Ms          float64         `json:"p999Ms"`
	MaxMs           float64         `json:"maxMs"`
	Rate            int             `json:"rate,omitempty"` // open loop's target calls/s; absent: closed loop
	Aborted         string          `json:"aborted,omitempty"`
	ErrorSamples    []errorSample   `json:"errorSamples,omitempty"`
	Webhook         *webhookLag     `json:"webhook,omitempty"` // rest-earn-webhook's deliveries
	Commits         *commitRate     `json:"commits,omitempty"` // a write scenario's group commits (from /metrics)
	latencies       []time.Duration // sorted
}

// summarize sorts the latencies and computes the figures. window is the length of
// the measured window (shorter than asked for if the scenario was cut short).
func summarize(name string, lat []time.Duration, errs, warmupErrs int64, window time.Duration) summary {
	slices.Sort(lat)
	s := summary{
		Name: name, Ops: int64(len(lat)), Errors: errs, WarmupErrors: warmupErrs,
		DurationSeconds: window.Seconds(), latencies: lat,
	}
	if window > 0 {
		s.OpsPerSec = float64(len(lat)) / window.Seconds()
	}
	if len(lat) == 0 {
		return s
	}
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	s.MeanMs = ms(sum / time.Duration(len(lat)))
	s.P50Ms = ms(percentile(lat, 50))
	s.P90Ms = ms(percentile(lat, 90))
	s.P99Ms = ms(percentile(lat, 99))
	s.P999Ms = ms(percentile(lat, 99.9))
	s.MaxMs = ms(lat[len(lat)-1])
	return s
}

// percentile is the nearest-rank percentile of sorted: the smallest value such that
// at least p% of the values are less than or equal to it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fmtMs prints a latency in milliseconds with a precision that suits its size.
func fmtMs(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v < 1:
		return fmt.Sprintf("%.3fms", v)
	case v < 100:
		return fmt.Sprintf("%.2fms", v)
	default:
		return fmt.Sprintf("%.0fms", v)
	}
}
