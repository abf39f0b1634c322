package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
)

func TestScheduleHandsOutRateTimesDuration(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSchedule(start, start.Add(2*time.Second), 500)
	var got []time.Time
	for {
		at, ok := s.take()
		if !ok {
			break
		}
		got = append(got, at)
	}
	if len(got) != 1000 {
		t.Fatalf("%d slots at 500/s over 2s, want 1000", len(got))
	}
	for i, at := range got {
		if want := start.Add(time.Duration(i) * 2 * time.Millisecond); !at.Equal(want) {
			t.Fatalf("slot %d at %v, want %v", i, at.Sub(start), want.Sub(start))
		}
	}
	if _, ok := s.take(); ok {
		t.Error("a finished schedule handed out another slot")
	}

	// Rates that do not divide a second: computed per slot, no drift.
	s = newSchedule(start, start.Add(time.Second), 3)
	for i, want := range []time.Duration{0, 333333333, 666666666} {
		if at, ok := s.take(); !ok || at.Sub(start) != want {
			t.Errorf("slot %d at %v (ok %v), want %v", i, at.Sub(start), ok, want)
		}
	}
	if _, ok := s.take(); ok {
		t.Error("3/s over 1s handed out a fourth slot")
	}
	if got, want := slotOffset(1_000_000_000_001, 1_000_000), 1_000_000*time.Second+time.Microsecond; got != want {
		t.Errorf("slotOffset far into a long run = %v, want %v", got, want)
	}
}

func TestScheduleSharedByWorkers(t *testing.T) {
	start := time.Now()
	s := newSchedule(start, start.Add(time.Second), 1000)
	var (
		mu   sync.Mutex
		seen = map[time.Duration]bool{}
		wg   sync.WaitGroup
	)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				at, ok := s.take()
				if !ok {
					return
				}
				mu.Lock()
				seen[at.Sub(start)] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 1000 {
		t.Errorf("8 workers took %d distinct slots, want each of the 1000 once", len(seen))
	}
}

func TestNextStartCountsFromTheIntendedStart(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	end := now.Add(time.Minute)

	// Behind schedule (all workers were busy): the slot is handed out at once and
	// the latency counts from it, a second ago.
	s := newSchedule(now.Add(-time.Second), end, 10)
	at, ok := nextStart(ctx, s, end)
	if !ok || !at.Equal(now.Add(-time.Second)) {
		t.Errorf("behind: got %v (ok %v), want the slot a second ago", at.Sub(now), ok)
	}
	if waited := time.Since(now); waited > 500*time.Millisecond {
		t.Errorf("behind: waited %v for a slot already due", waited)
	}

	// Ahead of schedule: it waits for the slot.
	s = newSchedule(time.Now().Add(30*time.Millisecond), end, 10)
	at, ok = nextStart(ctx, s, end)
	if !ok || time.Now().Before(at) {
		t.Errorf("ahead: returned %v before its slot (ok %v)", time.Until(at), ok)
	}

	// A slot still unsent when the scenario ends is dropped.
	s = newSchedule(now.Add(-2*time.Second), now.Add(-time.Second+time.Millisecond), 1)
	if _, ok := nextStart(ctx, s, now.Add(-time.Second+time.Millisecond)); ok {
		t.Error("sent a call after the scenario's end")
	}

	// An abort or an interrupt ends the wait.
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(20*time.Millisecond, cancel)
	s = newSchedule(time.Now().Add(time.Hour), time.Now().Add(2*time.Hour), 1)
	if _, ok := nextStart(cctx, s, time.Now().Add(2*time.Hour)); ok {
		t.Error("a cancelled wait says to send the call")
	}

	// Closed loop: now.
	if at, ok := nextStart(ctx, nil, end); !ok || time.Since(at) > 500*time.Millisecond {
		t.Errorf("closed loop: got %v ago (ok %v)", time.Since(at), ok)
	}
}

// fakeTarget is enough of a target for runScenario with a call that does not use it.
func fakeTarget() *target {
	return &target{memberIDs: make([]string, 10), grpcConns: make([]*grpc.ClientConn, 1)}
}

// A server that takes 10 ms per call, one worker, 200 calls/s asked: the schedule
// falls further behind with every call. Open loop shows it as growing latency (a
// closed loop would report 10 ms), and the row as below its rate.
func TestOpenLoopShowsQueueingAsLatency(t *testing.T) {
	slow := func(ctx context.Context, _ *target, _ *worker) error {
		time.Sleep(10 * time.Millisecond)
		return nil
	}
	p := runParams{runID: "t", workers: 1, duration: 500 * time.Millisecond, seed: 1, rate: 200}
	s := runScenario(context.Background(), fakeTarget(), "slow", slow, p)
	if s.Rate != 200 {
		t.Errorf("rate = %d, want 200", s.Rate)
	}
	if s.Ops < 10 || s.Ops > 55 {
		t.Errorf("ops = %d, want at most about 50 (one worker, 10 ms each)", s.Ops)
	}
	if s.MaxMs < 150 {
		t.Errorf("max = %.1fms: the last calls waited about 250 ms for their turn", s.MaxMs)
	}
	if !behind(s) {
		t.Errorf("%.1f ops/s at 200/s is not reported as below the rate", s.OpsPerSec)
	}
}

// Enough workers and a fast server: the achieved rate is the target and the latency
// is the call's own.
func TestOpenLoopKeepsTheRate(t *testing.T) {
	fast := func(ctx context.Context, _ *target, _ *worker) error {
		time.Sleep(2 * time.Millisecond)
		return nil
	}
	p := runParams{runID: "t", workers: 4, warmup: 100 * time.Millisecond, duration: 500 * time.Millisecond, seed: 1, rate: 100}
	s := runScenario(context.Background(), fakeTarget(), "fast", fast, p)
	if s.Ops < 45 || s.Ops > 51 {
		t.Errorf("ops = %d, want about 50 (100/s for 0.5 s, warmup not counted)", s.Ops)
	}
	if s.P50Ms < 2 || s.P50Ms > 20 {
		t.Errorf("p50 = %.2fms, want about 2 ms", s.P50Ms)
	}
	if behind(s) {
		t.Errorf("%.1f ops/s at 100/s is reported as below the rate", s.OpsPerSec)
	}
}
