package ledger

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// ReleasePending makes available, with a PENDING_RELEASE entry each, up to limit
// pending earnings whose return window is over, and returns how many it released.
// Replicas may run it at once: each earning is locked and skipped by the others.
func (s *Service) ReleasePending(ctx context.Context, limit int32) (int, error) {
	released := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		released = 0
		rows, err := s.q.LockDueReleases(ctx, tx, ledgerdb.LockDueReleasesParams{Now: s.clock.Now(), MaxReleases: limit})
		if err != nil {
			return fmt.Errorf("find due pending points: %w", err)
		}
		for _, r := range rows {
			p := plan{memberID: r.MemberID, kind: KindPendingRelease, requestID: systemRequestID("release", r.EntryID),
				fingerprint: fingerprint("release", r.EntryID), postings: releasePendingPostings(r.Points),
				orderID: r.OrderID, memo: "return window over (entry " + strconv.FormatInt(r.EntryID, 10) + ")", actorKeyID: "system"}
			if _, err := s.append(ctx, tx, p); err != nil {
				return err
			}
			if err := s.q.MarkReleased(ctx, tx, r.EntryID); err != nil {
				return fmt.Errorf("mark entry %d released: %w", r.EntryID, err)
			}
			released++
		}
		return nil
	})
	return released, err
}
