package tiers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/nullable"
	"github.com/loyalty-engine/loyalty/internal/pagetoken"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/settingscache"
	"github.com/loyalty-engine/loyalty/tiers/internal/tiersdb"
)

// ErrMemberNotFound is returned for an unknown member id.
var ErrMemberNotFound = problem.New(problem.NotFound, "MEMBER_NOT_FOUND", "member not found")

// Clock gives business time. Tests move it; production uses the wall clock.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Service stores the tier policy and the members' tiers, memberships and
// entitlements. The qualifying metric is moved by the ledger's write statement (see
// tier_qualify in the migrations), which this service reads.
type Service struct {
	pool *pgxpool.Pool
	// tx runs the transactions, again after a deadlock or serialization failure.
	tx       database.Runner
	q        *tiersdb.Queries
	clock    Clock
	policies settingscache.Cache[Policy]
	// pageTokens sign the tier history's page tokens.
	pageTokens *pagetoken.Codec
}

// Option configures the Service.
type Option func(*Service)

// WithClock sets the business clock.
func WithClock(c Clock) Option { return func(s *Service) { s.clock = c } }

// WithPageTokens sets the key of the tier history's page tokens. It must be the
// same on every replica and outlive restarts; without it tokens are good only
// within this process.
func WithPageTokens(c *pagetoken.Codec) Option { return func(s *Service) { s.pageTokens = c } }

// NewService returns the tiers on the pool.
func NewService(pool *pgxpool.Pool, opts ...Option) *Service {
	s := &Service{pool: pool, tx: database.NewRunner("tiers"), q: tiersdb.New(), clock: wallClock{}, pageTokens: pagetoken.Ephemeral()}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Now is the business time.
func (s *Service) Now() time.Time { return s.clock.Now() }

// Policy returns the tier policy in force.
func (s *Service) Policy(ctx context.Context) (Policy, error) { return s.PolicyOn(ctx, s.pool) }

// PolicyOn returns the policy in force, read on db (a transaction's own connection)
// unless recently read. A fresh install has the default policy, as version 0.
func (s *Service) PolicyOn(ctx context.Context, db tiersdb.DBTX) (Policy, error) {
	if p, fresh := s.policies.Get(); fresh {
		return p, nil
	}
	row, err := s.q.CurrentPolicy(ctx, db)
	var p Policy
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		p = DefaultPolicy()
	case err != nil:
		return Policy{}, fmt.Errorf("read tier policy: %w", err)
	default:
		if p, err = toPolicy(row); err != nil {
			return Policy{}, err
		}
	}
	s.policies.Put(p, p.Version)
	return p, nil
}

// UpdatePolicy puts a new policy in force, as a new version. Members keep the tier
// they have; the new thresholds apply from their next earning (upgrades) and at the
// end of their period (renewal or downgrade).
func (s *Service) UpdatePolicy(ctx context.Context, actorKeyID string, p Policy) (Policy, error) {
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	body, err := json.Marshal(p)
	if err != nil {
		return Policy{}, fmt.Errorf("encode tier policy: %w", err)
	}
	var row tiersdb.TierPolicy
	err = s.tx.Retry(ctx, func() (err error) {
		row, err = s.q.InsertPolicy(ctx, s.pool, tiersdb.InsertPolicyParams{Policy: body, ActorKeyID: actorKeyID, CreateTime: s.clock.Now()})
		return err
	})
	if err != nil {
		return Policy{}, fmt.Errorf("update tier policy: %w", err)
	}
	updated, err := toPolicy(row)
	if err != nil {
		return Policy{}, err
	}
	s.policies.Put(updated, updated.Version)
	return updated, nil
}

func toPolicy(r tiersdb.TierPolicy) (Policy, error) {
	var p Policy
	if err := json.Unmarshal(r.Policy, &p); err != nil {
		return Policy{}, fmt.Errorf("decode tier policy version %d: %w", r.Version, err)
	}
	p.Version, p.UpdateTime = r.Version, r.CreateTime
	return p, nil
}

// Standing is a member's effective tier at an instant, as an earning applies it
// and an order records it.
type Standing struct {
	TierID string
	// Paid: the tier comes from a paid membership, not from qualification.
	Paid  bool
	Perks Perks
	// JoinTime is when the member joined (quota cycles and rules use it).
	JoinTime time.Time
}

// StandingAt is the member's effective tier at t: the better of the qualified tier
// and the paid memberships active then (Effective), in one read. db is the pool or
// a transaction.
func (s *Service) StandingAt(ctx context.Context, db tiersdb.DBTX, p Policy, memberID string, t time.Time) (Standing, error) {
	rows, err := s.q.MemberTierAt(ctx, db, tiersdb.MemberTierAtParams{MemberID: memberID, At: t})
	if err != nil {
		return Standing{}, fmt.Errorf("tier of member %q: %w", memberID, err)
	}
	if len(rows) == 0 {
		return Standing{}, ErrMemberNotFound.With("member %q not found", memberID)
	}
	var candidates []Membership
	for _, r := range rows {
		if r.PaidTierID != nil {
			candidates = append(candidates, Membership{MemberID: memberID, TierID: *r.PaidTierID,
				StartTime: *r.PaidStartTime, EndTime: *r.PaidEndTime, CancelTime: nullable.Value(r.PaidCancelTime)})
		}
	}
	id, paid := Effective(p, nullable.Value(rows[0].TierID), candidates, t)
	return Standing{TierID: id, Paid: paid, Perks: p.Tier(id).Perks, JoinTime: rows[0].JoinTime}, nil
}
