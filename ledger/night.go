package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/internal/reminders"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// Expiry night: with the default policy every point earned in a year expires at the
// same instant, so the expiry job and the expiry reminders find every member due at
// once. They sweep in parallel, each sweeper over a share of the members of its own
// (sweepShare, a range of member ids), in chunks of one transaction, each chunk
// starting after the last member of the one before.

// NightSweep tunes a sweep of the expiry job or of the expiry reminders.
type NightSweep struct {
	// PerTx is how many members (expiry) or reminders one transaction takes.
	PerTx int32
	// Parallel is how many sweepers run at once, each over its own share of the
	// members (default 1): two never find the same member.
	Parallel int
}

// sweepShare is one sweeper's part of the members: the range (after, upto] in
// member order. Disjoint ranges keep two sweepers' chunks from waiting for each
// other's member locks; after moves past each chunk.
type sweepShare struct {
	after, upto string
}

// sharesOf splits the members owning open lots that expire in (after, until] into
// parallel ranges of about as many lots each (none when there is no such lot).
// Members whose lots come due once the shares are drawn wait for the next run.
func (s *Service) sharesOf(ctx context.Context, parallel int, after, until time.Time) ([]*sweepShare, error) {
	last, err := s.q.LastMemberWithLotExpiringIn(ctx, s.pool, ledgerdb.LastMemberWithLotExpiringInParams{After: after, Until: until})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("last member with lots expiring: %w", err)
	}
	var bounds []string
	if parallel > 1 {
		lots, err := s.q.CountLotsExpiringIn(ctx, s.pool, ledgerdb.CountLotsExpiringInParams{After: after, Until: until})
		if err != nil {
			return nil, fmt.Errorf("count lots expiring: %w", err)
		}
		for i := 1; i < parallel; i++ {
			n := lots*int64(i)/int64(parallel) - 1
			if n < 0 {
				continue
			}
			b, err := s.q.MemberOfLotExpiringIn(ctx, s.pool, ledgerdb.MemberOfLotExpiringInParams{After: after, Until: until, N: int32(n)})
			if errors.Is(err, pgx.ErrNoRows) {
				break // spent meanwhile: the last share takes the rest
			}
			if err != nil {
				return nil, fmt.Errorf("member of lot %d expiring: %w", n, err)
			}
			bounds = append(bounds, b)
		}
	}
	return splitAt(bounds, last), nil
}

// splitAt is the shares ("", b0], (b0, b1], ... (bn, last], without the empty
// ones (a bound repeated, or past last: lots spent while the bounds were drawn).
func splitAt(bounds []string, last string) []*sweepShare {
	var shares []*sweepShare
	from := ""
	for _, b := range append(bounds, last) {
		if b <= from && from != "" || b > last {
			continue
		}
		shares = append(shares, &sweepShare{after: from, upto: b})
		from = b
	}
	return shares
}

// sweepChunk runs one chunk of a sweep over a share and moves the share past it:
// how many members it did something for, and done once the share has nothing more.
type sweepChunk func(ctx context.Context, share *sweepShare, limit int32) (n int, done bool, err error)

// sweepInParallel runs a sweeper a share at once, each chunk after chunk of perTx
// until its share is done, and answers the sum of their counts. The first error
// stops the others (their chunks in flight roll back or commit whole; what is left
// is the next run's).
func sweepInParallel(ctx context.Context, shares []*sweepShare, perTx int32, chunk sweepChunk) (int, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu    sync.Mutex
		total int
		wg    sync.WaitGroup
	)
	for _, share := range shares {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, done, err := chunk(ctx, share, perTx)
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
	shares, err := s.dueShares(ctx, max(o.Parallel, 1))
	if err != nil {
		return 0, err
	}
	return sweepInParallel(ctx, shares, o.PerTx, s.expireChunk)
}

// dueShares splits the members with due lots (sharesOf).
func (s *Service) dueShares(ctx context.Context, parallel int) ([]*sweepShare, error) {
	return s.sharesOf(ctx, parallel, dueFrom, s.clock.Now())
}

// dueFrom bounds the due lots from below: lots expire after they are created, none
// before the zero time.
var dueFrom = time.Time{}

// RemindAllExpiring is the expiry reminders' job: every reminder due is sent
// (RemindExpiring's rules), o.Parallel sweepers at once, o.PerTx reminders a
// transaction. It answers how many it sent.
func (s *Service) RemindAllExpiring(ctx context.Context, o NightSweep) (int, error) {
	shares, err := s.remindShares(ctx, max(o.Parallel, 1))
	if err != nil {
		return 0, err
	}
	return sweepInParallel(ctx, shares, o.PerTx, s.remindChunk)
}

// remindShares splits the members with lots expiring in the widest reminder window
// (sharesOf); none when the program sends no reminders.
func (s *Service) remindShares(ctx context.Context, parallel int) ([]*sweepShare, error) {
	prog, err := s.programOn(ctx, s.pool)
	if err != nil {
		return nil, err
	}
	w := reminders.WindowsAt(prog.ExpiryReminderDays, s.clock.Now())
	if len(w.After) == 0 {
		return nil, nil
	}
	after, until := widest(w)
	return s.sharesOf(ctx, parallel, after, until)
}

// widest is the span of the reminder windows.
func widest(w reminders.Windows) (after, until time.Time) {
	return slices.MinFunc(w.After, time.Time.Compare), slices.MaxFunc(w.Until, time.Time.Compare)
}
