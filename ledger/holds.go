package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// Hold statuses.
const (
	HoldActive   = "ACTIVE"
	HoldCaptured = "CAPTURED"
	HoldVoided   = "VOIDED"
	HoldExpired  = "EXPIRED"
)

// Hold lifetimes.
const (
	DefaultHoldTTL = 15 * time.Minute
	MaxHoldTTL     = 30 * 24 * time.Hour
)

// Errors of holds.
var (
	ErrHoldNotFound  = problem.New(problem.NotFound, "HOLD_NOT_FOUND", "hold not found")
	ErrHoldNotActive = problem.New(problem.Precondition, "HOLD_NOT_ACTIVE", "the hold is no longer active")
	ErrHoldExpired   = problem.New(problem.Precondition, "HOLD_EXPIRED", "the hold has expired")
	ErrOverCapture   = problem.New(problem.Precondition, "CAPTURE_EXCEEDS_HOLD", "cannot capture more than the hold")
)

// Hold sets points aside between checkout and payment.
type Hold struct {
	ID             int64
	MemberID       string
	Points         int64
	Status         string
	CapturedPoints int64
	OrderID        string
	CreateTime     time.Time
	ExpireTime     time.Time
}

func toHold(r ledgerdb.Hold) Hold {
	h := Hold{ID: r.HoldID, MemberID: r.MemberID, Points: r.Points, Status: r.Status,
		CapturedPoints: r.CapturedPoints, CreateTime: r.CreateTime, ExpireTime: r.ExpireTime}
	if r.OrderID != nil {
		h.OrderID = *r.OrderID
	}
	return h
}

// CreateHold is the command to place a hold.
type CreateHold struct {
	MemberID  string        `json:"memberId" validate:"required,shopid"`
	RequestID string        `json:"requestId" validate:"required,requestid"`
	Points    int64         `json:"points" validate:"gt=0,lte=1000000000000"`
	OrderID   string        `json:"orderId" validate:"omitempty,shopid"`
	TTL       time.Duration `json:"ttl" validate:"gte=0,lte=2592000000000000"`
}

// HoldResult is a hold with the entry that last moved it.
type HoldResult struct {
	Hold  Hold
	Entry Entry
}

// CreateHold moves points from available to held until captured, voided or expired.
func (s *Service) CreateHold(ctx context.Context, actor Actor, cmd CreateHold) (HoldResult, error) {
	if err := validation.Struct(cmd); err != nil {
		return HoldResult{}, err
	}
	ttl := cmd.TTL
	if ttl == 0 {
		ttl = DefaultHoldTTL
	}
	now := s.clock.Now()
	o, err := s.post(ctx, plan{
		memberID: cmd.MemberID, kind: KindHold, requestID: cmd.RequestID,
		fingerprint: fingerprint("hold", cmd), postings: holdPostings(cmd.Points),
		orderID: cmd.OrderID, actorKeyID: actor.KeyID, at: now,
		placeHold: &holdPlace{points: cmd.Points, expire: now.Add(ttl)},
	})
	switch {
	case err != nil:
		return HoldResult{}, err
	case o.err != nil:
		return HoldResult{}, o.err
	case o.replayed:
		return s.holdResult(ctx, o.entry)
	}
	return HoldResult{Hold: o.hold, Entry: o.entry}, nil
}

// CaptureHold is the command to capture a hold.
type CaptureHold struct {
	HoldID    int64  `json:"holdId" validate:"gt=0"`
	RequestID string `json:"requestId" validate:"required,requestid"`
	// Points to capture; zero captures the whole hold.
	Points int64 `json:"points" validate:"gte=0,lte=1000000000000"`
}

// CaptureHold redeems the hold's points (or part of them, releasing the rest).
func (s *Service) CaptureHold(ctx context.Context, actor Actor, cmd CaptureHold) (HoldResult, error) {
	if err := validation.Struct(cmd); err != nil {
		return HoldResult{}, err
	}
	return s.closeHold(ctx, actor, cmd.RequestID, fingerprint("capture", cmd), &holdClose{holdID: cmd.HoldID, capture: true, points: cmd.Points})
}

// VoidHold is the command to release a hold.
type VoidHold struct {
	HoldID    int64  `json:"holdId" validate:"gt=0"`
	RequestID string `json:"requestId" validate:"required,requestid"`
}

// VoidHold gives the held points back.
func (s *Service) VoidHold(ctx context.Context, actor Actor, cmd VoidHold) (HoldResult, error) {
	if err := validation.Struct(cmd); err != nil {
		return HoldResult{}, err
	}
	return s.closeHold(ctx, actor, cmd.RequestID, fingerprint("void", cmd), &holdClose{holdID: cmd.HoldID})
}

// closeHold captures or voids a hold through the write path, group-committed: the
// batch locks the hold's member and the hold, answers a repeat, checks that the
// hold is active and not expired, and posts the closing entry (decideClose).
// Released points go back to the lots the hold consumed; points it consumed from no
// lot (holds placed before lots existed) open a lot expiring by today's settings.
func (s *Service) closeHold(ctx context.Context, actor Actor, requestID string, fp []byte, c *holdClose) (HoldResult, error) {
	expire, err := s.lotExpiry(ctx, s.pool)
	if err != nil {
		return HoldResult{}, err
	}
	o, err := s.post(ctx, plan{requestID: requestID, fingerprint: fp, close: c, actorKeyID: actor.KeyID, lotExpire: expire})
	if err != nil {
		return HoldResult{}, err
	}
	if o.err != nil {
		return HoldResult{}, o.err
	}
	return HoldResult{Hold: o.hold, Entry: o.entry}, nil
}

// GetHold returns a hold.
func (s *Service) GetHold(ctx context.Context, holdID int64) (Hold, error) {
	row, err := s.q.GetHold(ctx, s.pool, holdID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Hold{}, ErrHoldNotFound.With("hold %d not found", holdID)
	}
	if err != nil {
		return Hold{}, fmt.Errorf("get hold %d: %w", holdID, err)
	}
	return toHold(row), nil
}

// holdResult rebuilds the answer of a repeated hold request.
func (s *Service) holdResult(ctx context.Context, e Entry) (HoldResult, error) {
	h, err := s.GetHold(ctx, e.HoldID)
	if err != nil {
		return HoldResult{}, err
	}
	return HoldResult{Hold: h, Entry: e}, nil
}

// ExpireHolds releases up to limit holds whose time is up and returns how many it
// released, in one batch of the write path: the batch locks each hold's member and
// then the hold (the order every closing of a hold takes, so a capture and the job
// never wait for each other in a cycle), and a hold captured, voided or expired by
// another replica meanwhile is skipped (its status, or its stored expiry entry).
func (s *Service) ExpireHolds(ctx context.Context, limit int32) (int, error) {
	ids, err := s.q.ExpiredHolds(ctx, s.pool, ledgerdb.ExpiredHoldsParams{Now: s.clock.Now(), MaxHolds: limit})
	if err != nil {
		return 0, fmt.Errorf("find expired holds: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	expire, err := s.lotExpiry(ctx, s.pool)
	if err != nil {
		return 0, err
	}
	plans := make([]plan, len(ids))
	for i, id := range ids {
		plans[i] = plan{requestID: systemRequestID("hold-expiry", id), fingerprint: fingerprint("expire", id),
			close: &holdClose{holdID: id, expire: true}, memo: "hold expired", actorKeyID: "system", lotExpire: expire}
	}
	out, err := s.sweep(ctx, plans)
	if err != nil {
		return 0, fmt.Errorf("expire holds: %w", err)
	}
	released := 0
	for _, o := range out {
		if o.err == nil && !o.replayed {
			released++
		}
	}
	return released, nil
}
