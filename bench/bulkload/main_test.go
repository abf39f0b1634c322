package main

import (
	"testing"
	"time"
)

// A window takes the calls meant to start in it, counts failures apart from the
// latencies, and reads p50, p99 and max from the rest.
func TestWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	e := &earns{}
	for i := 1; i <= 100; i++ {
		e.calls = append(e.calls, call{at: t0.Add(time.Duration(i) * time.Millisecond), latency: time.Duration(i) * time.Millisecond})
	}
	e.calls = append(e.calls,
		call{at: t0.Add(50 * time.Millisecond), failed: true},
		call{at: t0.Add(time.Hour), latency: time.Hour}, // outside the window
	)
	w := e.window(t0, t0.Add(time.Second))
	if w.Calls != 101 || w.Errors != 1 || w.P50Ms != 51 || w.P99Ms != 100 || w.MaxMs != 100 {
		t.Fatalf("window %+v, want 101 calls, 1 error, p50 51 ms, p99 and max 100 ms", w)
	}
	if empty := e.window(t0.Add(2*time.Hour), t0.Add(3*time.Hour)); empty != (window{}) {
		t.Fatalf("an empty window is %+v", empty)
	}
}

// The schedule hands out start times 1/rate apart, without drift.
func TestScheduleTake(t *testing.T) {
	s := &schedule{start: time.Unix(0, 0), rate: 3}
	var got []time.Duration
	for i := 0; i < 7; i++ {
		got = append(got, s.take().Sub(s.start))
	}
	want := []time.Duration{0, 333333333, 666666666, time.Second, time.Second + 333333333, time.Second + 666666666, 2 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("slot %d at %v, want %v (all: %v)", i, got[i], want[i], got)
		}
	}
}

func TestGroupAndNum(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := group(n); got != want {
			t.Errorf("group(%d) = %q, want %q", n, got, want)
		}
	}
	if num("100000") != 100000 || num(float64(7)) != 7 || num(nil) != 0 {
		t.Error("num does not read protojson's int64 strings and JSON numbers")
	}
}
