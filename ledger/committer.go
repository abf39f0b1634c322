package ledger

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/loyalty-engine/loyalty/internal/audit"
)

// committer is group commit for the single-statement writes (earn, redeem,
// reversal). Concurrent posts queue up; while fewer than maxFlushers batches are in
// flight, a flusher goroutine takes everything queued, up to maxBatch entries, and
// sends it as one pipelined round trip that PostgreSQL runs as one transaction: one
// commit and one WAL flush for the whole batch instead of one per entry. Under light
// load a batch holds one entry and nothing waits. Flushers are goroutines of their
// own, never a caller, so no caller waits for other callers' batches.
//
// Within a batch entries are ordered by member, so batches lock member rows in the
// same order and cannot deadlock each other. If any statement fails (a duplicate
// request id racing in, say), the batch rolls back as a whole and its entries are
// run again one by one, so each caller gets its own answer.
type committer struct {
	s           *Service
	maxBatch    int
	maxFlushers int

	mu       sync.Mutex
	queue    []*pendingPost
	flushers int

	beforeFlush func() // tests only
}

type pendingPost struct {
	p     plan
	entry Entry
	err   error
	done  chan struct{}
}

func newCommitter(s *Service, maxBatch, maxFlushers int) *committer {
	return &committer{s: s, maxBatch: maxBatch, maxFlushers: maxFlushers}
}

// submit queues a plan and returns its outcome once its batch is committed: the
// entry, errNotApplied, or the error of running it alone.
func (c *committer) submit(ctx context.Context, p plan) (Entry, error) {
	mine := &pendingPost{p: p, done: make(chan struct{})}
	c.mu.Lock()
	c.queue = append(c.queue, mine)
	if c.flushers < c.maxFlushers {
		c.flushers++
		// The work of a batch belongs to every caller in it: one caller giving up
		// must not cancel the others' writes, and no caller's audit record is the
		// batch's (each plan carries its own).
		go c.drain(audit.Detach(context.WithoutCancel(ctx)))
	}
	c.mu.Unlock()
	select {
	case <-mine.done:
		return mine.entry, mine.err
	case <-ctx.Done():
		// The write may still commit; a retry with the same request id answers it.
		return Entry{}, ctx.Err()
	}
}

// drain flushes batches until the queue is empty, then ends.
func (c *committer) drain(ctx context.Context) {
	for {
		c.mu.Lock()
		n := min(len(c.queue), c.maxBatch)
		if n == 0 {
			c.flushers--
			c.mu.Unlock()
			return
		}
		batch := slices.Clone(c.queue[:n])
		c.queue = slices.Delete(c.queue, 0, n)
		c.mu.Unlock()
		c.flush(ctx, batch)
	}
}

func (c *committer) flush(ctx context.Context, batch []*pendingPost) {
	if c.beforeFlush != nil {
		c.beforeFlush()
	}
	slices.SortStableFunc(batch, func(a, b *pendingPost) int { return strings.Compare(a.p.memberID, b.p.memberID) })
	plans := make([]plan, len(batch))
	for i, b := range batch {
		plans[i] = b.p
	}
	var (
		entries []Entry
		applied []bool
	)
	err := c.s.retry(ctx, func() error {
		var err error
		entries, applied, err = c.s.appendAll(ctx, c.s.pool, plans)
		return err
	})
	c.s.batchSize.Observe(float64(len(batch)))
	if err == nil {
		for i, b := range batch {
			if applied[i] {
				b.entry = entries[i]
			} else {
				b.err = errNotApplied
			}
			close(b.done)
		}
		return
	}
	if len(batch) == 1 {
		batch[0].err = err
		close(batch[0].done)
		return
	}
	for _, b := range batch {
		b.err = c.s.retry(ctx, func() error {
			var err error
			b.entry, err = c.s.append(ctx, c.s.pool, b.p)
			return err
		})
		close(b.done)
	}
}
