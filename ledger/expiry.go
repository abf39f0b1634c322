package ledger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// expiryPostings moves what is left of expired lots to breakage.
func expiryPostings(points int64) []Posting {
	return []Posting{{AccountAvailable, -points}, {AccountBreakage, points}}
}

// ExpireLots posts, for up to limit members owning lots past their expiry, one
// EXPIRY entry each moving what is left of those lots to breakage, and returns how
// many members it expired points of. The members are found without a lock and
// expired in one batch of the write path, which locks them and reads their open
// lots: what is due is decided under the member's lock (lotsDueAt), so replicas
// running it at once, or a redemption racing it, never expire a point twice or a
// point already spent: whoever comes second finds nothing left to expire.
// ExpireAllDue runs it to the end, in parallel.
func (s *Service) ExpireLots(ctx context.Context, limit int32) (int, error) {
	shares, err := s.dueShares(ctx, 1)
	if err != nil || len(shares) == 0 {
		return 0, err
	}
	expired, _, err := s.expireChunk(ctx, shares[0], limit)
	return expired, err
}

// expireChunk is ExpireLots for the next limit members of a share with due lots;
// the share moves past them. done: the share had fewer than limit left.
func (s *Service) expireChunk(ctx context.Context, share *sweepShare, limit int32) (expired int, done bool, err error) {
	now := s.clock.Now()
	members, err := s.q.MembersWithLotsExpiringIn(ctx, s.pool, ledgerdb.MembersWithLotsExpiringInParams{
		After: dueFrom, Until: now, AfterMember: share.after, Upto: share.upto, MaxMembers: limit})
	if err != nil {
		return 0, false, fmt.Errorf("find due lots: %w", err)
	}
	done = len(members) < int(limit)
	if len(members) == 0 {
		return 0, done, nil
	}
	plans := make([]plan, len(members))
	for i, memberID := range members {
		plans[i] = plan{memberID: memberID, kind: KindExpiry, actorKeyID: "system",
			// Stamped no earlier than the instant its lots were found due.
			at:         now,
			expireLots: &lotsDue{now: now, nonce: expiryNonce()}}
	}
	out, err := s.sweep(ctx, plans)
	if err != nil {
		return 0, false, fmt.Errorf("expire lots: %w", err)
	}
	share.after = members[len(members)-1]
	// The batch committed the others: a refusal is reported after counting them.
	var refused error
	for i, o := range out {
		switch {
		case o.err != nil && refused == nil && errors.Is(o.err, ErrInsufficientPoints):
			// Cannot happen while lots hold max(available, 0); verify would say.
			refused = fmt.Errorf("expire lots of %s: due points exceed the available balance", plans[i].memberID)
		case o.err != nil && refused == nil:
			refused = fmt.Errorf("expire lots of %s: %w", plans[i].memberID, o.err)
		case o.err == nil && !o.skipped && !o.replayed:
			expired++
		}
	}
	return expired, done, refused
}

// expiryRequestID names an expiry entry: the first lot it expires and a nonce. A
// lot can expire more than once (a hold voided after expiry gives points back to
// it), and what makes an expiry happen once is the member's lock and the lots'
// state, not this id, which only has to be new. The nonce is drawn when the job
// builds its plans (expiryNonce), so the apply step stays free of I/O.
func expiryRequestID(firstLotID int64, nonce string) string {
	return systemRequestID("expiry", firstLotID) + "." + nonce
}

// expiryNonce is a random nonce for expiryRequestID.
func expiryNonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}
