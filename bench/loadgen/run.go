package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// worker is one client: it sends a call, waits for the answer, repeats, either at
// once (closed loop) or at the next slot of the open loop's schedule.
type worker struct {
	conn    int // which gRPC connection it uses
	rng     *rand.Rand
	members int
	prefix  string // request ids are prefix + counter
	seq     uint64
}

func (w *worker) member() int { return w.rng.IntN(w.members) }

// requestID is unique per run, scenario, worker and call; it matches the API's
// ^[A-Za-z0-9._:/+=-]{1,128}$.
func (w *worker) requestID() string {
	w.seq++
	return w.prefix + strconv.FormatUint(w.seq, 10)
}

const abortInterrupted = "interrupted"

type runParams struct {
	runID     string
	workers   int
	warmup    time.Duration
	duration  time.Duration
	maxErrors int64 // a scenario stops after this many errors; 0: never
	seed      uint64
	rate      int // open loop: calls per second for the whole scenario; 0: closed loop
}

// runScenario runs one scenario with p.workers workers for warmup plus duration,
// closed loop or, with p.rate, open loop (see schedule; the warmup is paced too).
// Only calls that complete inside the measured window count as ops; errors count
// whenever they happen (warmup errors separately). It returns when every worker has
// stopped: a worker starts no call after the window ends, and every call has the
// target's timeout.
func runScenario(parent context.Context, t *target, name string, c call, p runParams) summary {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	var (
		errCount atomic.Int64
		abortMu  sync.Mutex
		abortAt  time.Time
		abortWhy string
		elog     = newErrorLog()
	)
	abort := func(why string) {
		abortMu.Lock()
		if abortWhy == "" {
			abortAt, abortWhy = time.Now(), why
		}
		abortMu.Unlock()
		cancel()
	}
	// An interrupt (Ctrl-C) ends the scenario too.
	stopWatch := context.AfterFunc(parent, func() { abort(abortInterrupted) })
	defer stopWatch()

	start := time.Now()
	measureStart := start.Add(p.warmup)
	end := measureStart.Add(p.duration)
	var sched *schedule
	if p.rate > 0 {
		sched = newSchedule(start, end, p.rate)
	}

	type result struct {
		lat              []time.Duration
		errs, warmupErrs int64
	}
	results := make([]result, p.workers)
	var wg sync.WaitGroup
	for i := 0; i < p.workers; i++ {
		w := &worker{
			conn:    i % len(t.grpcConns),
			rng:     rand.New(rand.NewPCG(p.seed, uint64(i)<<32|uint64(len(name)))),
			members: len(t.memberIDs),
			prefix:  fmt.Sprintf("%s-%s-w%d-", p.runID, name, i),
		}
		wg.Add(1)
		go func(r *result) {
			defer wg.Done()
			r.lat = make([]time.Duration, 0, 1<<14)
			for {
				t0, ok := nextStart(ctx, sched, end)
				if !ok {
					return
				}
				err := c(ctx, t, w)
				t1 := time.Now()
				if err != nil {
					if ctx.Err() != nil {
						return // cut short by an abort or an interrupt, not the server's fault
					}
					if t1.Before(measureStart) {
						r.warmupErrs++
					} else {
						r.errs++
					}
					elog.add(err)
					if n := errCount.Add(1); p.maxErrors > 0 && n >= p.maxErrors {
						abort(fmt.Sprintf("stopped after %d errors (-max-errors)", n))
					}
					continue
				}
				if !t1.Before(measureStart) && !t1.After(end) {
					// Open loop: t0 is the intended start, so waiting for it to come
					// round (all workers busy) counts.
					r.lat = append(r.lat, t1.Sub(t0))
				}
			}
		}(&results[i])
	}
	wg.Wait()

	abortMu.Lock()
	defer abortMu.Unlock()
	window := p.duration
	if abortWhy != "" && abortAt.Before(end) {
		window = max(abortAt.Sub(measureStart), 0)
	}
	var (
		all              []time.Duration
		errs, warmupErrs int64
	)
	for _, r := range results {
		all = append(all, r.lat...)
		errs += r.errs
		warmupErrs += r.warmupErrs
	}
	s := summarize(name, all, errs, warmupErrs, window)
	s.Rate = p.rate
	s.Aborted = abortWhy
	s.ErrorSamples = elog.samples()
	return s
}

// enrollAll enrolls bench-0..N-1 over REST with the given concurrency. Enrolling is
// idempotent, so a second run finds them all. It gives up after a few errors: if
// enrolling fails, nothing else will work.
func enrollAll(ctx context.Context, t *target, concurrency int, timeout time.Duration) (created, existing int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		next, nNew, nOld, nErr atomic.Int64
		elog                   = newErrorLog()
		wg                     sync.WaitGroup
	)
	for i := 0; i < concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				m := int(next.Add(1) - 1)
				if m >= len(t.memberIDs) {
					return
				}
				isNew, err := t.enroll(ctx, m)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					elog.add(err)
					if nErr.Add(1) >= 5 {
						cancel()
					}
					continue
				}
				if isNew {
					nNew.Add(1)
				} else {
					nOld.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := nErr.Load(); n > 0 {
		var b strings.Builder
		for _, e := range elog.samples() {
			fmt.Fprintf(&b, "\n  %dx %s", e.Count, e.Message)
		}
		return nNew.Load(), nOld.Load(), fmt.Errorf("enrolling failed (%d errors):%s", n, b.String())
	}
	if got := nNew.Load() + nOld.Load(); got != int64(len(t.memberIDs)) {
		return nNew.Load(), nOld.Load(), fmt.Errorf("enrolled only %d of %d members: %w", got, len(t.memberIDs), context.Cause(ctx))
	}
	return nNew.Load(), nOld.Load(), nil
}
