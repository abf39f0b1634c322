package ledger

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loyalty-engine/loyalty/internal/audit"
)

// committer is group commit for the write path's commands: every command that
// moves member points (earn, campaign earnings included, redeem, reversal, holds,
// refunds, goodwill and its approvals, compensations; the jobs
// send each sweep as one batch of their own). Concurrent posts queue up; while
// fewer than maxFlushers batches are in flight, a flusher goroutine takes
// everything queued, up to maxBatch entries, and sends it as one pipelined round trip that PostgreSQL runs as one transaction: one
// commit and one WAL flush for the whole batch instead of one per entry. Under light
// load a batch holds one entry and nothing waits. Flushers are goroutines of their
// own, never a caller, so no caller waits for other callers' batches.
//
// A batch locks its member rows in member order, so batches cannot deadlock each
// other; within it, commands apply in the order they came. Each flusher has a lane
// of campaign budget slices of its own (BudgetLane), so two batches of earnings
// under one campaign run side by side instead of one waiting for the other's
// commit. A command refused (an
// overdraft, a repeat) is answered on its own and does not fail the others. If
// the batch fails as a whole (a constraint the rules should have kept, say), it
// rolls back and its commands run again one by one, so each caller gets its own
// answer.
//
// A batch waits at most lockWait for a lock. Another transaction may hold a
// member for long: a bulk credit's chunk locks thousands of members until it
// commits. Without the bound, every command of a batch that holds one of them
// would wait with it, and both flushers soon would. With it, the batch rolls back;
// the commands of the members held now are handed to waiters of their own, which
// wait for the lock as long as their callers do, outside the flushers, and the
// others run again at once (with the bound), so the queue keeps moving. A lock
// that is not a member's row splits the batch in halves instead, until the
// command that waits for it is alone.
//
// A batch is one transaction, so a caller that gives up (its deadline passed)
// never leaves it half done: the batch goes on for the callers still waiting, and
// its entry may commit with theirs. Once every caller of a batch has given up, the
// batch is cancelled, which cancels its statement in PostgreSQL and rolls it all
// back. Either way a retry with the same request id answers what was done.
type committer struct {
	s           *Service
	maxBatch    int
	maxFlushers int
	lockWait    time.Duration // 0: batches wait for locks as long as it takes
	// waiters bounds the commands waiting alone for a lock (each holds a
	// connection while it waits).
	waiters chan struct{}

	mu       sync.Mutex
	queue    []*pendingPost
	flushers int
	// lanes[i]: a flusher runs in lane i.
	lanes []bool

	beforeFlush func(batch int) // tests only: called with the batch's size before it is written
}

type pendingPost struct {
	ctx  context.Context // the caller's
	p    plan
	out  outcome
	err  error
	done chan struct{}
}

func newCommitter(s *Service, maxBatch, maxFlushers int, lockWait time.Duration) *committer {
	return &committer{s: s, maxBatch: maxBatch, maxFlushers: maxFlushers, lockWait: lockWait,
		waiters: make(chan struct{}, maxLockWaiters), lanes: make([]bool, maxFlushers)}
}

// maxLockWaiters is how many commands may wait alone for a held lock at once.
// They are the commands of members a bulk chunk holds: at 100 earnings/s on a
// bulk credit's members, some five arrive during each chunk, and all of them are
// released together by its commit. Two (one per flusher) made them queue for the
// waiters, chunk after chunk (p50 4.7 s beside a bulk credit in make bench); each
// waiter holds a connection, so not many more.
const maxLockWaiters = 8

// submit queues a plan and returns its outcome once its batch is committed, or the
// error of running it alone.
func (c *committer) submit(ctx context.Context, p plan) (outcome, error) {
	mine := &pendingPost{ctx: ctx, p: p, done: make(chan struct{})}
	c.mu.Lock()
	c.queue = append(c.queue, mine)
	if c.flushers < c.maxFlushers {
		c.flushers++
		lane := slices.Index(c.lanes, false)
		c.lanes[lane] = true
		// The flusher outlives this caller; each batch gets a context of its own
		// (see batchContext), and no caller's audit record is the batch's (each
		// plan carries its own).
		go c.drain(audit.Detach(context.WithoutCancel(ctx)), BudgetLane{Lane: lane, Lanes: c.maxFlushers})
	}
	c.mu.Unlock()
	select {
	case <-mine.done:
		return mine.out, mine.err
	case <-ctx.Done():
		// The write may still commit; a retry with the same request id answers it.
		return outcome{}, ctx.Err()
	}
}

// drain flushes batches in its lane until the queue is empty, then ends.
func (c *committer) drain(ctx context.Context, lane BudgetLane) {
	for {
		c.mu.Lock()
		n := min(len(c.queue), c.maxBatch)
		if n == 0 {
			c.flushers--
			c.lanes[lane.Lane] = false
			c.mu.Unlock()
			return
		}
		batch := slices.Clone(c.queue[:n])
		c.queue = slices.Delete(c.queue, 0, n)
		c.mu.Unlock()
		c.flush(ctx, batch, lane)
	}
}

// batchContext is done once every caller of the batch has given up: the work of a
// batch belongs to all of them, so one caller leaving must not cancel the others'
// writes, but nobody waits for a batch nobody is waiting for.
func batchContext(base context.Context, batch []*pendingPost) (context.Context, func()) {
	ctx, cancel := context.WithCancel(base)
	var mu sync.Mutex
	waiting := len(batch)
	stops := make([]func() bool, len(batch))
	for i, b := range batch {
		stops[i] = context.AfterFunc(b.ctx, func() {
			mu.Lock()
			defer mu.Unlock()
			if waiting--; waiting == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

func (c *committer) flush(base context.Context, batch []*pendingPost, lane BudgetLane) {
	if c.beforeFlush != nil {
		c.beforeFlush(len(batch))
	}
	ctx, release := batchContext(base, batch)
	defer release()
	plans := make([]plan, len(batch))
	for i, b := range batch {
		plans[i] = b.p
	}
	var hook *batchHook
	if c.lockWait > 0 {
		hook = &batchHook{lockWait: c.lockWait}
	}
	var out []outcome
	err := c.s.retry(ctx, func() error {
		var err error
		out, err = c.s.appendInLane(ctx, c.s.pool, plans, lane, hook)
		return err
	})
	if isLockTimeout(err) {
		c.s.lockSplits.Inc()
		if len(batch) == 1 {
			go c.waitAlone(batch[0], lane)
			return
		}
		held, free := c.heldApart(ctx, batch)
		if len(held) == 0 {
			// The held lock is not a member's row, or it was released meanwhile:
			// halves, until the command that waits is alone.
			half := len(batch) / 2
			c.flush(base, batch[:half], lane)
			c.flush(base, batch[half:], lane)
			return
		}
		for _, b := range held {
			go c.waitAlone(b, lane)
		}
		if len(free) > 0 {
			c.flush(base, free, lane)
		}
		return
	}
	c.s.batchSize.Observe(float64(len(batch)))
	if err == nil {
		for i, b := range batch {
			b.out = out[i]
			close(b.done)
		}
		return
	}
	if len(batch) == 1 {
		batch[0].err = err
		close(batch[0].done)
		return
	}
	// One by one, each on its caller's context: a caller who has left needs no
	// answer, and its entry is not written behind its back.
	for _, b := range batch {
		c.runAlone(b, lane)
		close(b.done)
	}
}

// runAlone runs one command as a batch of its own on its caller's context,
// waiting for its locks as long as the caller waits.
func (c *committer) runAlone(b *pendingPost, lane BudgetLane) {
	b.err = c.s.retry(b.ctx, func() error {
		out, err := c.s.appendInLane(b.ctx, c.s.pool, []plan{b.p}, lane, nil)
		if err == nil {
			b.out = out[0]
		}
		return err
	})
}

// heldApart asks which of the batch's members another transaction holds now
// (one statement that skips locked rows) and parts the commands of those members
// from the others; nothing is held apart if it cannot tell. One question instead
// of halving the batch until the held members' commands are alone: with a bulk
// credit's chunk holding thousands of members, halving took a lock wait per level
// for nearly every batch, and the queue outgrew the flushers.
func (c *committer) heldApart(ctx context.Context, batch []*pendingPost) (held, free []*pendingPost) {
	var ids []string
	for _, b := range batch {
		if b.p.memberID != "" {
			ids = append(ids, b.p.memberID)
		}
	}
	lockable, err := c.s.q.LockableMembers(ctx, c.s.pool, ids)
	if err != nil {
		return nil, batch
	}
	open := make(map[string]bool, len(lockable))
	for _, id := range lockable {
		open[id] = true
	}
	for _, b := range batch {
		if b.p.memberID != "" && !open[b.p.memberID] {
			held = append(held, b)
		} else {
			free = append(free, b)
		}
	}
	return held, free
}

// waitAlone runs a command whose lock another transaction holds for long, on its
// caller's context and without the bound: it waits for the lock (the chunk's
// commit, say) as long as its caller waits for the answer.
func (c *committer) waitAlone(b *pendingPost, lane BudgetLane) {
	defer close(b.done)
	select {
	case c.waiters <- struct{}{}:
		defer func() { <-c.waiters }()
	case <-b.ctx.Done():
		b.err = b.ctx.Err()
		return
	}
	c.runAlone(b, lane)
	c.s.batchSize.Observe(1)
}

// isLockTimeout tells a batch that gave up waiting for a lock (lock_timeout).
func isLockTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03"
}
