package access

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/access/internal/accessdb"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
)

// RateLimit is a key's token bucket: it refills at RequestsPerSecond and holds at
// most Burst requests, so a key may send Burst calls at once and RequestsPerSecond
// calls a second for as long as it likes.
type RateLimit struct {
	RequestsPerSecond int
	Burst             int
}

// MaxRateLimit bounds both numbers of a key's own rate limit.
const MaxRateLimit = 1_000_000

// DefaultRateLimit is the rate limit of a key of this role that has none of its
// own. Admin and app keys carry machine traffic (the admin key drives `make bench`
// at several thousand calls a second, an app key serves a whole shop), so their
// defaults only stop a runaway client; agent, marketer and auditor keys are behind
// people and consoles.
func DefaultRateLimit(role Role) RateLimit {
	switch role {
	case RoleAdmin:
		return RateLimit{RequestsPerSecond: 50_000, Burst: 50_000}
	case RoleApp:
		return RateLimit{RequestsPerSecond: 20_000, Burst: 20_000}
	case RoleAgent:
		return RateLimit{RequestsPerSecond: 200, Burst: 400}
	case RoleAuditor:
		return RateLimit{RequestsPerSecond: 100, Burst: 200}
	default: // marketer, and any role added without a thought for its traffic
		return RateLimit{RequestsPerSecond: 50, Burst: 100}
	}
}

// RateLimit is the limit the key gets: its own, or its role's default.
func (k Key) RateLimit() RateLimit {
	if k.OwnRateLimit != nil {
		return *k.OwnRateLimit
	}
	return DefaultRateLimit(k.Role)
}

// KeyRateLimit is the rate limit a key gets, and whether it is its role's default.
type KeyRateLimit struct {
	KeyID       string
	Limit       RateLimit
	RoleDefault bool
}

// SetRateLimit is the command to set a key's rate limit. RequestsPerSecond 0 returns
// the key to its role's default; Burst 0 means as many as RequestsPerSecond.
type SetRateLimit struct {
	KeyID             string `json:"keyId" validate:"required"`
	RequestsPerSecond int    `json:"requestsPerSecond" validate:"min=0,max=1000000"`
	Burst             int    `json:"burst" validate:"min=0,max=1000000"`
}

// SetRateLimit sets a key's rate limit, or with RequestsPerSecond 0 drops it so the
// role's default applies. This replica applies it at once, the others when their
// cached key expires (CacheTTL).
func (s *Service) SetRateLimit(ctx context.Context, cmd SetRateLimit) (KeyRateLimit, error) {
	if err := validation.Struct(cmd); err != nil {
		return KeyRateLimit{}, err
	}
	if cmd.RequestsPerSecond == 0 && cmd.Burst != 0 {
		return KeyRateLimit{}, problem.InvalidField("burst", "must be 0 when requestsPerSecond is 0, which returns the key to its role's default")
	}
	key, err := s.keyByID(ctx, cmd.KeyID)
	if err != nil {
		return KeyRateLimit{}, err
	}
	if cmd.RequestsPerSecond == 0 {
		if err := s.q.ClearRateLimit(ctx, s.pool, cmd.KeyID); err != nil {
			return KeyRateLimit{}, fmt.Errorf("clear rate limit of %s: %w", cmd.KeyID, err)
		}
		s.forget(cmd.KeyID)
		return KeyRateLimit{KeyID: key.ID, Limit: DefaultRateLimit(key.Role), RoleDefault: true}, nil
	}
	burst := cmd.Burst
	if burst == 0 {
		burst = cmd.RequestsPerSecond
	}
	row, err := s.q.SetRateLimit(ctx, s.pool, accessdb.SetRateLimitParams{
		KeyID: cmd.KeyID, RequestsPerSecond: int32(cmd.RequestsPerSecond), Burst: int32(burst),
	})
	if err != nil {
		return KeyRateLimit{}, fmt.Errorf("set rate limit of %s: %w", cmd.KeyID, err)
	}
	s.forget(cmd.KeyID)
	return KeyRateLimit{KeyID: key.ID, Limit: RateLimit{RequestsPerSecond: int(row.RequestsPerSecond), Burst: int(row.Burst)}}, nil
}

// RateLimitOf answers the rate limit the key gets.
func (s *Service) RateLimitOf(ctx context.Context, keyID string) (KeyRateLimit, error) {
	if keyID == "" {
		return KeyRateLimit{}, problem.InvalidField("keyId", "is required")
	}
	key, err := s.keyByID(ctx, keyID)
	if err != nil {
		return KeyRateLimit{}, err
	}
	return KeyRateLimit{KeyID: key.ID, Limit: key.RateLimit(), RoleDefault: key.OwnRateLimit == nil}, nil
}

// Key reads a key (revoked ones too): whether it exists and its role, for the
// reads about a key that other domains answer (its goodwill limits).
func (s *Service) Key(ctx context.Context, keyID string) (Key, error) {
	if keyID == "" {
		return Key{}, problem.InvalidField("keyId", "is required")
	}
	return s.keyByID(ctx, keyID)
}

// keyByID reads a key with its own rate limit.
func (s *Service) keyByID(ctx context.Context, keyID string) (Key, error) {
	row, err := s.q.KeyByID(ctx, s.pool, keyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Key{}, ErrKeyNotFound.With("API key %q not found", keyID)
	}
	if err != nil {
		return Key{}, fmt.Errorf("look up api key %s: %w", keyID, err)
	}
	key := toKey(row.ApiKey)
	key.OwnRateLimit = ownRateLimit(row.RequestsPerSecond, row.Burst)
	return key, nil
}

// ownRateLimit is the key's own limit from its row's joined columns; nil (no row
// in api_key_rate_limits): its role's default applies.
func ownRateLimit(requestsPerSecond, burst *int32) *RateLimit {
	if requestsPerSecond == nil || burst == nil {
		return nil
	}
	return &RateLimit{RequestsPerSecond: int(*requestsPerSecond), Burst: int(*burst)}
}
