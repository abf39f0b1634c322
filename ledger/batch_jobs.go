package ledger

import (
	"context"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// queueReleaseLocks is the read step's part for the pending earnings a batch
// releases: their rows, locked after the members (LockPendingReleasesOf), as a
// refund's batch locks them. The function it returns reads them back, in the
// pipeline's order, into the state's releases.
func (s *Service) queueReleaseLocks(ctx context.Context, read *database.Pipeline, entryIDs []int64) func(fail func(string, error)) map[int64]*pendingState {
	if len(entryIDs) == 0 {
		return func(func(string, error)) map[int64]*pendingState { return nil }
	}
	rows := s.q.LockPendingReleasesOf(ctx, read, [][]int64{entryIDs})
	return func(fail func(string, error)) map[int64]*pendingState {
		out := map[int64]*pendingState{}
		rows.Query(func(_ int, rs []ledgerdb.PendingRelease, err error) {
			fail("lock pending releases", err)
			for _, r := range rs {
				out[r.EntryID] = &pendingState{memberID: r.MemberID, orderID: r.OrderID, points: r.Points,
					releaseTime: r.ReleaseTime, released: r.Released, lotExpire: r.LotExpireTime}
			}
		})
		return out
	}
}

// queueReleased is the write step's part for the pending earnings the batch
// released: one set-based update.
func (s *Service) queueReleased(ctx context.Context, write *database.Pipeline, entryIDs []int64) {
	if len(entryIDs) > 0 {
		s.q.WriteReleased(ctx, write, [][]int64{entryIDs})
	}
}

// sweep runs a job's plans as one batch of the write path on the pool, again after a
// deadlock or a serialization failure: a command refused is its outcome's err, and
// the others commit.
func (s *Service) sweep(ctx context.Context, plans []plan) ([]outcome, error) {
	var out []outcome
	err := s.retry(ctx, func() error {
		var err error
		out, err = s.appendAll(ctx, s.pool, plans)
		return err
	})
	return out, err
}
