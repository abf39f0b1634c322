package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/validation"
)

// Reverse corrects an entry by posting its exact opposite, once. Reversing a
// redemption gives the points back; reversing an earning takes them away and fails
// with ErrInsufficientPoints if they were spent.
func (s *Service) Reverse(ctx context.Context, actor Actor, cmd Reverse) (Entry, error) {
	if err := validation.Struct(cmd); err != nil {
		return Entry{}, err
	}
	original, err := s.Entry(ctx, cmd.EntryID)
	if err != nil {
		return Entry{}, err
	}
	postings := original.Postings
	if original.Delta(AccountPending) > 0 {
		// An order's earning: reversible once its points are available.
		rel, err := s.q.GetPendingRelease(ctx, s.pool, original.ID)
		if err != nil {
			return Entry{}, fmt.Errorf("pending state of entry %d: %w", original.ID, err)
		}
		if !rel.Released {
			return Entry{}, ErrNotReversible.With("entry %d's points are still pending: refund the order instead", original.ID)
		}
		postings = settled(postings)
	}
	p := plan{
		memberID: original.MemberID, kind: KindReversal, requestID: cmd.RequestID,
		fingerprint: fingerprint("reverse", cmd), postings: reversalPostings(postings),
		orderID: original.OrderID, reverses: original.ID, memo: cmd.Reason, actorKeyID: actor.KeyID,
	}
	// A repeat answers its first result even though the entry is reversed by now.
	if e, found, err := s.stored(ctx, s.pool, p); found || err != nil {
		return e, err
	}
	if !reversible(original.Kind) {
		return Entry{}, ErrNotReversible.With("a %s entry cannot be reversed", original.Kind)
	}
	if _, err := s.q.GetReversal(ctx, s.pool, &original.ID); err == nil {
		return Entry{}, ErrAlreadyReversed.With("entry %d is already reversed", original.ID)
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return Entry{}, fmt.Errorf("look up reversal of %d: %w", original.ID, err)
	}
	e, err := s.post(ctx, p)
	if database.IsUniqueViolation(err, "entries_reversed_once") {
		// Reversed meanwhile: by a racing duplicate of this request (answer its
		// result) or by another request.
		if e, found, err := s.stored(ctx, s.pool, p); found || err != nil {
			return e, err
		}
		return Entry{}, ErrAlreadyReversed.With("entry %d is already reversed", original.ID)
	}
	return e, err
}
