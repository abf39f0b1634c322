package ledger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// expiryPostings moves what is left of expired lots to breakage.
func expiryPostings(points int64) []Posting {
	return []Posting{{AccountAvailable, -points}, {AccountBreakage, points}}
}

// ExpireLots posts, for up to limit members owning lots past their expiry, one
// EXPIRY entry each moving what is left of those lots to breakage, and returns how
// many members it expired points of. Each member is settled in a transaction of its
// own under the member's row lock, so replicas running it at once, or a redemption
// racing it, never expire a point twice or a point already spent: whoever comes
// second finds nothing left to expire.
func (s *Service) ExpireLots(ctx context.Context, limit int32) (int, error) {
	now := s.clock.Now()
	members, err := s.q.MembersWithDueLots(ctx, s.pool, ledgerdb.MembersWithDueLotsParams{Now: now, MaxMembers: limit})
	if err != nil {
		return 0, fmt.Errorf("find due lots: %w", err)
	}
	expired := 0
	for _, memberID := range members {
		var posted bool
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			posted = false
			if _, err := s.q.LockMemberBalance(ctx, tx, memberID); err != nil {
				return fmt.Errorf("lock member %s: %w", memberID, err)
			}
			due, err := s.q.DuePoints(ctx, tx, ledgerdb.DuePointsParams{MemberID: memberID, Now: now})
			if err != nil {
				return fmt.Errorf("due points of %s: %w", memberID, err)
			}
			if due.Points == 0 {
				return nil // another replica was first
			}
			// Due lots expire before any other, so consuming earliest expiry first
			// takes exactly them.
			_, err = s.append(ctx, tx, plan{
				memberID: memberID, kind: KindExpiry,
				requestID:   expiryRequestID(due.FirstLotID),
				fingerprint: fingerprint("expiry", due), postings: expiryPostings(due.Points),
				memo:       fmt.Sprintf("%d lot(s) expired", due.Lots),
				actorKeyID: "system",
				// Stamped no earlier than the instant its lots were found due.
				at: now,
			})
			posted = err == nil
			return err
		})
		if errors.Is(err, ErrInsufficientPoints) {
			// Cannot happen while lots hold max(available, 0); verify would say.
			return expired, fmt.Errorf("expire lots of %s: due points exceed the available balance", memberID)
		}
		if err != nil {
			return expired, fmt.Errorf("expire lots of %s: %w", memberID, err)
		}
		if posted {
			expired++
		}
	}
	return expired, nil
}

// expiryRequestID names an expiry entry. A lot can expire more than once (a hold
// voided after expiry gives points back to it), and what makes an expiry happen once
// is the member's lock and the lots' state, not this id, which only has to be new.
func expiryRequestID(firstLotID int64) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return systemRequestID("expiry", firstLotID) + "." + hex.EncodeToString(b[:])
}
