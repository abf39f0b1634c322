package main

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
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

// When the bulk credit ends, every call meant to start before the end is still sent
// and counted, even with the schedule far behind; none meant after it is.
func TestEarnsSendEveryCallOfTheWindow(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		got.Add(1)
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	e := &earns{c: &client{base: srv.URL, key: "k", http: srv.Client()}, members: 10, member: memberID, run: "t"}
	// 1,000 calls/s, started a second ago: a whole second behind.
	sched := &schedule{start: time.Now().Add(-time.Second), rate: 1000}
	e.stopAt.Store(sched.start.Add(300 * time.Millisecond).UnixNano())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() { defer wg.Done(); e.work(sched) }()
	}
	wg.Wait()
	w := e.window(sched.start, sched.start.Add(time.Hour))
	if got.Load() != 300 || w.Calls != 300 || w.Errors != 0 {
		t.Fatalf("%d calls sent, %d counted (%d errors), want the 300 meant for the first 300 ms", got.Load(), w.Calls, w.Errors)
	}
}
