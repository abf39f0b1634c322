package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
	// Whether it is reversed already the batch reads under the member's lock.
	if err := s.reversalLots(ctx, original, &p); err != nil {
		return Entry{}, err
	}
	if err := s.reversalQualification(ctx, original, &p); err != nil {
		return Entry{}, err
	}
	if original.OrderID != "" {
		// Refunds of the order take back its earning and give back its
		// redemptions too: the batch locks the order and decides the reversal
		// against it (refundedBefore), and the campaigns get their points back.
		p.reverseOrder = &orderReversal{original: original.Kind, campaigns: campaignGiveBacks(original)}
	}
	e, err := s.postEntry(ctx, p)
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

// reversalLots settles which lots a reversal moves: points it gives back return to
// the lots the original consumed (a capture's come from its hold); points it takes
// away come out of the original's own lot first.
func (s *Service) reversalLots(ctx context.Context, original Entry, p *plan) error {
	if d, _, _ := split(p.postings); d.available <= 0 {
		p.preferLotOrigin = original.ID
		return nil
	}
	source := original.ID
	if original.Kind == KindHoldCapture {
		var err error
		if source, err = s.q.HoldEntryID(ctx, s.pool, &original.HoldID); err != nil {
			return fmt.Errorf("entry of hold %d: %w", original.HoldID, err)
		}
	}
	p.restoreFrom = []int64{source}
	var err error
	p.lotExpire, err = s.lotExpiry(ctx, s.pool)
	return err
}

// reversalQualification takes off the qualifying metric what the original added to
// it, on the day it added it.
func (s *Service) reversalQualification(ctx context.Context, original Entry, p *plan) error {
	move, err := s.q.MetricMoveOfEntry(ctx, s.pool, &original.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("qualifying metric of entry %d: %w", original.ID, err)
	}
	policy, err := s.tiers.Policy(ctx)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	p.qualify = &qualifying{day: move.Day, points: -move.Points, spend: -move.SpendMinor, policy: policy, at: now}
	return nil
}

// campaignGiveBacks is what campaigns gave an earning on an order (its bonuses,
// debited from their accounts), which its reversal gives back to them.
func campaignGiveBacks(original Entry) []CampaignGiveBack {
	if original.Kind != KindEarn && original.Kind != KindCampaign {
		return nil
	}
	var out []CampaignGiveBack
	for _, p := range original.Postings {
		if id, ok := strings.CutPrefix(p.Account, campaignAccountPrefix); ok && p.Amount < 0 {
			out = append(out, CampaignGiveBack{MemberID: original.MemberID, OrderID: original.OrderID, CampaignID: id, Points: -p.Amount})
		}
	}
	return out
}
