package tiers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/audit"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/idempotency"
	"github.com/loyalty-engine/loyalty/internal/nullable"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/tiers/internal/tiersdb"
)

// Reasons of tier history rows about paid memberships.
const (
	ReasonMembershipPurchased = "MEMBERSHIP_PURCHASED"
	ReasonMembershipCancelled = "MEMBERSHIP_CANCELLED"
	ReasonMembershipEnded     = "MEMBERSHIP_ENDED"
)

// Errors of memberships.
var (
	ErrMembershipNotFound = problem.New(problem.NotFound, "MEMBERSHIP_NOT_FOUND", "membership not found")
	ErrMembershipEnded    = problem.New(problem.Precondition, "MEMBERSHIP_ENDED", "the membership has already ended")
	// ErrIdempotencyConflict is the module's one idempotency refusal, named here
	// for callers of the tiers.
	ErrIdempotencyConflict = idempotency.ErrConflict
)

// maxMembership bounds a paid membership's length.
const maxMembership = 10 * 366 * 24 * time.Hour

// BuyMembership records a paid tier for a period, bought by the member (the shop
// charges for it, and may name the order).
type BuyMembership struct {
	MemberID  string    `json:"memberId" validate:"required,shopid"`
	RequestID string    `json:"requestId" validate:"required,requestid"`
	TierID    string    `json:"tierId" validate:"required,max=32"`
	StartTime time.Time `json:"startTime"` // zero: now
	EndTime   time.Time `json:"endTime"`
	OrderID   string    `json:"orderId" validate:"omitempty,shopid"`
}

// BuyMembership records a paid membership, once per requestId: a repeat answers
// the membership it created. The member has its tier from StartTime to EndTime
// whenever that is better than the qualified one.
func (s *Service) BuyMembership(ctx context.Context, actorKeyID string, cmd BuyMembership) (Membership, error) {
	if err := validation.Struct(cmd); err != nil {
		return Membership{}, err
	}
	fp := idempotency.Fingerprint("membership", cmd)
	now := s.clock.Now()
	start := cmd.StartTime
	if start.IsZero() {
		start = now
	}
	p, err := s.Policy(ctx)
	if err != nil {
		return Membership{}, err
	}
	if err := checkMembership(p, cmd, start, now); err != nil {
		return Membership{}, err
	}
	var m Membership
	err = audit.RunInTx(ctx, s.tx, s.pool, func(tx pgx.Tx) error {
		if stored, found, err := s.storedMembership(ctx, tx, cmd, fp); found || err != nil {
			m = stored
			return err
		}
		before, err := s.StandingAt(ctx, tx, p, cmd.MemberID, now)
		if err != nil {
			return err
		}
		row, err := s.q.InsertMembership(ctx, tx, tiersdb.InsertMembershipParams{
			MemberID: cmd.MemberID, RequestID: cmd.RequestID, Fingerprint: fp, TierID: cmd.TierID,
			StartTime: start, EndTime: cmd.EndTime, OrderID: nullable.Of(cmd.OrderID), ActorKeyID: actorKeyID, CreateTime: now,
		})
		if err != nil {
			return fmt.Errorf("record membership: %w", err)
		}
		m = toMembership(row)
		return s.recordWithEvent(ctx, tx, p, cmd.MemberID, before.TierID, cmd.TierID, ReasonMembershipPurchased, m.ID, now)
	})
	if database.IsUniqueViolation(err, "memberships_member_id_request_id_key") {
		// A racing duplicate of this request created it first.
		var found bool
		if m, found, err = s.storedMembership(ctx, s.pool, cmd, fp); !found && err == nil {
			err = fmt.Errorf("membership request %q vanished", cmd.RequestID)
		}
	}
	return m, err
}

// checkMembership refuses what the tags cannot say, naming the field.
func checkMembership(p Policy, cmd BuyMembership, start, now time.Time) error {
	var fields []problem.FieldViolation
	if i := p.Index(cmd.TierID); i < 0 {
		fields = append(fields, problem.FieldViolation{Field: "tierId", Description: "is not a tier of the policy"})
	} else if i == 0 {
		fields = append(fields, problem.FieldViolation{Field: "tierId", Description: "is the bottom tier, which every member has"})
	}
	switch {
	case cmd.EndTime.IsZero():
		fields = append(fields, problem.FieldViolation{Field: "endTime", Description: "is required"})
	case !cmd.EndTime.After(start):
		fields = append(fields, problem.FieldViolation{Field: "endTime", Description: "must be after startTime"})
	case !cmd.EndTime.After(now):
		fields = append(fields, problem.FieldViolation{Field: "endTime", Description: "must be in the future"})
	case cmd.EndTime.Sub(start) > maxMembership:
		fields = append(fields, problem.FieldViolation{Field: "endTime", Description: "a membership lasts 10 years at most"})
	}
	if len(fields) > 0 {
		return problem.InvalidFields(fields...)
	}
	return nil
}

func (s *Service) storedMembership(ctx context.Context, db tiersdb.DBTX, cmd BuyMembership, fp []byte) (Membership, bool, error) {
	row, err := s.q.MembershipByRequest(ctx, db, tiersdb.MembershipByRequestParams{MemberID: cmd.MemberID, RequestID: cmd.RequestID})
	if errors.Is(err, pgx.ErrNoRows) {
		return Membership{}, false, nil
	}
	if err != nil {
		return Membership{}, false, fmt.Errorf("look up membership request %q: %w", cmd.RequestID, err)
	}
	if err := idempotency.Check(row.Fingerprint, fp, cmd.RequestID); err != nil {
		return Membership{}, true, err
	}
	return toMembership(row), true, nil
}

// CancelMembership ends a paid membership now (or before it starts). Cancelling a
// cancelled membership answers it as it is.
func (s *Service) CancelMembership(ctx context.Context, memberID string, membershipID int64) (Membership, error) {
	if err := validation.Struct(memberRef{MemberID: memberID}); err != nil {
		return Membership{}, err
	}
	p, err := s.Policy(ctx)
	if err != nil {
		return Membership{}, err
	}
	now := s.clock.Now()
	var m Membership
	err = audit.RunInTx(ctx, s.tx, s.pool, func(tx pgx.Tx) error {
		row, err := s.q.LockMembership(ctx, tx, tiersdb.LockMembershipParams{MemberID: memberID, MembershipID: membershipID})
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrMembershipNotFound.With("member %q has no membership %d", memberID, membershipID)
		}
		if err != nil {
			return fmt.Errorf("lock membership %d: %w", membershipID, err)
		}
		m = toMembership(row)
		switch {
		case row.CancelTime != nil:
			return nil
		case !now.Before(row.EndTime):
			return ErrMembershipEnded.With("membership %d ended at %s", membershipID, row.EndTime.Format(time.RFC3339))
		}
		before, err := s.StandingAt(ctx, tx, p, memberID, now)
		if err != nil {
			return err
		}
		if row, err = s.q.CancelMembership(ctx, tx, tiersdb.CancelMembershipParams{MembershipID: membershipID, CancelTime: &now}); err != nil {
			return fmt.Errorf("cancel membership %d: %w", membershipID, err)
		}
		m = toMembership(row)
		after, err := s.StandingAt(ctx, tx, p, memberID, now)
		if err != nil {
			return err
		}
		return s.recordWithEvent(ctx, tx, p, memberID, before.TierID, after.TierID, ReasonMembershipCancelled, m.ID, now)
	})
	return m, err
}

// Memberships lists a member's paid memberships, newest first (the last 100).
func (s *Service) Memberships(ctx context.Context, memberID string) ([]Membership, error) {
	if err := s.checkMember(ctx, s.pool, memberID); err != nil {
		return nil, err
	}
	rows, err := s.q.ListMemberships(ctx, s.pool, memberID)
	if err != nil {
		return nil, fmt.Errorf("memberships of %q: %w", memberID, err)
	}
	out := make([]Membership, len(rows))
	for i, r := range rows {
		out[i] = toMembership(r)
	}
	return out, nil
}

// EndMemberships records in the tier history the end of memberships whose period
// is over, up to limit of them in one transaction; it answers how many.
func (s *Service) EndMemberships(ctx context.Context, limit int32) (int, error) {
	p, err := s.Policy(ctx)
	if err != nil {
		return 0, err
	}
	now := s.clock.Now()
	var n int
	err = s.tx.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := s.q.EndingMemberships(ctx, tx, tiersdb.EndingMembershipsParams{Now: now, MaxRows: limit})
		if err != nil {
			return fmt.Errorf("ending memberships: %w", err)
		}
		n = len(rows)
		var evs []events.Event
		for _, r := range rows {
			if err := s.q.MarkMembershipEnded(ctx, tx, r.MembershipID); err != nil {
				return fmt.Errorf("end membership %d: %w", r.MembershipID, err)
			}
			after, err := s.StandingAt(ctx, tx, p, r.MemberID, now)
			if err != nil {
				return err
			}
			ev, ok, err := s.record(ctx, tx, p, r.MemberID, r.TierID, after.TierID, ReasonMembershipEnded, r.MembershipID, now)
			if err != nil {
				return err
			}
			if ok {
				evs = append(evs, ev)
			}
		}
		return events.AppendTx(ctx, tx, evs...)
	})
	return n, err
}

// checkMember answers ErrMemberNotFound for an unknown member.
func (s *Service) checkMember(ctx context.Context, db tiersdb.DBTX, memberID string) error {
	if err := validation.Struct(memberRef{MemberID: memberID}); err != nil {
		return err
	}
	_, err := s.q.MemberExists(ctx, db, memberID)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrMemberNotFound.With("member %q not found", memberID)
	}
	if err != nil {
		return fmt.Errorf("member %q: %w", memberID, err)
	}
	return nil
}

func toMembership(r tiersdb.Membership) Membership {
	return Membership{ID: r.MembershipID, MemberID: r.MemberID, RequestID: r.RequestID, TierID: r.TierID,
		StartTime: r.StartTime, EndTime: r.EndTime, CancelTime: nullable.Value(r.CancelTime), OrderID: nullable.Value(r.OrderID),
		CreateTime: r.CreateTime}
}
