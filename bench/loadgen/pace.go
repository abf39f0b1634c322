package main

import (
	"context"
	"sync/atomic"
	"time"
)

// schedule is the open loop's shared list of intended start times, 1/rate apart from
// start until end. Workers take them in order, so idle workers wait for the next
// slot and, when all of them are busy, the slots wait for a worker. Either way a
// call's latency counts from its slot, not from when it was sent: a stalled server
// (or too few workers) shows up as latency instead of as calls that were never sent
// (coordinated omission).
type schedule struct {
	start, end time.Time
	rate       int64 // calls per second
	next       atomic.Int64
}

func newSchedule(start, end time.Time, rate int) *schedule {
	return &schedule{start: start, end: end, rate: int64(rate)}
}

// take hands out the next intended start time; false once the schedule has reached
// end. Safe for concurrent use.
func (s *schedule) take() (time.Time, bool) {
	at := s.start.Add(slotOffset(s.next.Add(1)-1, s.rate))
	return at, at.Before(s.end)
}

// slotOffset is when slot i starts: i/rate seconds after the schedule's start, in
// whole nanoseconds without drift (each slot is computed, not summed) and without
// overflowing i*1e9 on long runs at high rates.
func slotOffset(i, rate int64) time.Duration {
	return time.Duration(i/rate)*time.Second + time.Duration((i%rate)*int64(time.Second)/rate)
}

// nextStart waits until a worker's next call is due and returns the time its latency
// counts from; false when the worker should stop (the scenario is over or cut short).
// Closed loop (sched nil): now. Open loop: the next slot of the shared schedule,
// waited for if it is ahead, at once if the schedule is behind; a slot still unsent
// when the scenario ends is dropped, as a closed-loop worker sends nothing after it.
func nextStart(ctx context.Context, sched *schedule, end time.Time) (time.Time, bool) {
	if sched == nil {
		now := time.Now()
		return now, now.Before(end) && ctx.Err() == nil
	}
	at, ok := sched.take()
	if !ok || !sleepUntil(ctx, at) {
		return at, false
	}
	return at, time.Now().Before(end)
}

// sleepUntil waits until at, or less if ctx ends first; it tells whether ctx is still
// live.
func sleepUntil(ctx context.Context, at time.Time) bool {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
