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
	return sweepDue(ctx, s,
		func(tx pgx.Tx) ([]ledgerdb.PendingRelease, error) {
			rows, err := s.q.LockDueReleases(ctx, tx, ledgerdb.LockDueReleasesParams{Now: s.clock.Now(), MaxReleases: limit})
			if err != nil {
				return nil, fmt.Errorf("find due pending points: %w", err)
			}
			return rows, nil
		},
		func(tx pgx.Tx, r ledgerdb.PendingRelease) error {
			p := plan{memberID: r.MemberID, kind: KindPendingRelease, requestID: systemRequestID("release", r.EntryID),
				fingerprint: fingerprint("release", r.EntryID), postings: releasePendingPostings(r.Points),
				orderID: r.OrderID, memo: "return window over (entry " + strconv.FormatInt(r.EntryID, 10) + ")", actorKeyID: "system",
				lotExpire: r.LotExpireTime, lotOrigin: r.EntryID}
			if _, err := s.append(ctx, tx, p); err != nil {
				return err
			}
			if err := s.q.MarkReleased(ctx, tx, r.EntryID); err != nil {
				return fmt.Errorf("mark entry %d released: %w", r.EntryID, err)
			}
			return nil
		})
}

// sweepDue is the shape of the ledger's jobs: in one transaction, lock what is due
// (rows locked by another replica are skipped) and settle each; it returns how many
// it settled.
func sweepDue[T any](ctx context.Context, s *Service, lockDue func(pgx.Tx) ([]T, error), settle func(pgx.Tx, T) error) (int, error) {
	settled := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		settled = 0
		rows, err := lockDue(tx)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := settle(tx, r); err != nil {
				return err
			}
			settled++
		}
		return nil
	})
	return settled, err
}
