package ledger

import (
	"context"
	"sync"
)

// Expiry night: with the default policy every point earned in a year expires at the
// same instant, so the expiry job and the expiry reminders find every member due at
// once. They sweep in parallel, each sweeper over a share of the members of its own
// (sweepShare), in chunks of one transaction, each chunk starting after the last
// member of the one before.

// NightSweep tunes a sweep of the expiry job or of the expiry reminders.
type NightSweep struct {
	// PerTx is how many members (expiry) or reminders one transaction takes.
	PerTx int32
	// Parallel is how many sweepers run at once, each over its own share of the
	// members (default 1). Two share members by no lock and find no member twice.
	Parallel int
}

// sweepShare is one sweeper's part of the members: those whose member-id hash is
// shard modulo shards (the statements' `(hashtext(member_id) & 2147483647) %
// shards = shard`), taken in member order from after on. Disjoint shares keep two
// sweepers' chunks from waiting for each other's member locks.
type sweepShare struct {
	shard, shards int32
	// after is the last member the sweeper's previous chunk reached.
	after string
}

// allMembers is the share of a lone sweeper: every member, from the first.
func allMembers() *sweepShare { return &sweepShare{shard: 0, shards: 1} }

// sweepChunk runs one chunk of a sweep over a share and moves the share past it:
// how many members it did something for, and done once the share has nothing more.
type sweepChunk func(ctx context.Context, share *sweepShare, limit int32) (n int, done bool, err error)

// sweepInParallel runs o.Parallel sweepers, one a share, each chunk after chunk
// until its share is done, and answers the sum of their counts. The first error
// stops the others (their chunks in flight roll back or commit whole; what is left
// is the next run's).
func sweepInParallel(ctx context.Context, o NightSweep, chunk sweepChunk) (int, error) {
	parallel := max(o.Parallel, 1)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu    sync.Mutex
		total int
		wg    sync.WaitGroup
	)
	for shard := range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			share := &sweepShare{shard: int32(shard), shards: int32(parallel)}
			for {
				n, done, err := chunk(ctx, share, o.PerTx)
				mu.Lock()
				total += n
				mu.Unlock()
				if err != nil {
					cancel(err)
					return
				}
				if done || ctx.Err() != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return total, context.Cause(ctx)
}

// ExpireAllDue is the expiry job: every member's due lots expire (ExpireLots'
// rules), o.Parallel sweepers at once, o.PerTx members a transaction. It answers
// how many members it expired points of.
func (s *Service) ExpireAllDue(ctx context.Context, o NightSweep) (int, error) {
	return sweepInParallel(ctx, o, s.expireChunk)
}

// RemindAllExpiring is the expiry reminders' job: every reminder due is sent
// (RemindExpiring's rules), o.Parallel sweepers at once, o.PerTx reminders a
// transaction. It answers how many it sent.
func (s *Service) RemindAllExpiring(ctx context.Context, o NightSweep) (int, error) {
	return sweepInParallel(ctx, o, s.remindChunk)
}
