// Package access manages API keys and the roles they carry. Secrets are generated
// here, shown once, and stored only as SHA-256 hashes.
package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/access/internal/accessdb"
	"github.com/loyalty-engine/loyalty/internal/nullable"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
)

// Role is what a key may do.
type Role string

// The roles. What each may call is decided by the transport's role table.
const (
	RoleAdmin    Role = "admin"
	RoleApp      Role = "app"
	RoleAgent    Role = "agent"
	RoleMarketer Role = "marketer"
	RoleAuditor  Role = "auditor"
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleApp, RoleAgent, RoleMarketer, RoleAuditor}

// Errors.
var (
	ErrUnauthenticated = problem.New(problem.Unauthenticated, "UNAUTHENTICATED", "missing, unknown or revoked API key")
	ErrKeyNotFound     = problem.New(problem.NotFound, "API_KEY_NOT_FOUND", "API key not found")
)

// secretPrefix marks our secrets so they are recognisable in logs and secret scanners.
const secretPrefix = "lk_"

// Key is an API key without its secret.
type Key struct {
	ID         string
	Name       string
	Role       Role
	CreateTime time.Time
	RevokeTime *time.Time
	// OwnRateLimit is the key's own rate limit; nil: its role's default (see
	// RateLimit).
	OwnRateLimit *RateLimit
	// PublicPrefix recognises the key (see PublicPrefix); empty for keys created
	// before prefixes were stored.
	PublicPrefix string
	// LastUseTime is when the key was last used, to about TouchInterval; nil if never.
	LastUseTime *time.Time
}

// PublicPrefix is the part of a secret a key list shows so that people recognise
// a key: the first characters, never more than a quarter of the secret and at most
// 9 ("lk_" and 6 of the 52 random characters of a generated secret, 30 of its 256
// bits), so that it is useless for guessing the rest.
func PublicPrefix(secret string) string {
	return secret[:min(9, len(secret)/4)]
}

// CreateKey is the command to create a key.
type CreateKey struct {
	Name string `json:"name" validate:"required,max=100"`
	Role string `json:"role" validate:"required,oneof=admin app agent marketer auditor"`
}

// CacheTTL is how long an authenticated key is trusted without asking the database
// again. Revoking a key drops it from this replica's cache at once; other replicas
// stop accepting it within CacheTTL.
const CacheTTL = 2 * time.Second

// maxCachedKeys bounds the cache; past it the cache starts afresh.
const maxCachedKeys = 10_000

// TouchInterval is how often, at most, a replica records the use of a key: the
// last use time costs one write per key per interval, not one per call.
const TouchInterval = time.Minute

// Clock gives business time, the time of a key's last use.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Option configures a Service.
type Option func(*Service)

// WithClock sets the business clock (default: the wall clock).
func WithClock(c Clock) Option { return func(s *Service) { s.clock = c } }

// Service manages keys.
type Service struct {
	pool  *pgxpool.Pool
	q     *accessdb.Queries
	clock Clock

	mu    sync.Mutex
	cache map[[sha256.Size]byte]cachedKey
	// touched is when this replica last recorded each key's use (wall time).
	touched map[string]time.Time
	now     func() time.Time // wall time, for the cache and touched
}

type cachedKey struct {
	key     Key
	expires time.Time
}

// NewService returns a Service on the pool.
func NewService(pool *pgxpool.Pool, opts ...Option) *Service {
	s := &Service{pool: pool, q: accessdb.New(), clock: wallClock{}, cache: map[[sha256.Size]byte]cachedKey{},
		touched: map[string]time.Time{}, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Create makes a key and returns it with its secret, which is never shown again.
func (s *Service) Create(ctx context.Context, cmd CreateKey) (Key, string, error) {
	if err := validation.Struct(cmd); err != nil {
		return Key{}, "", err
	}
	secret, err := newSecret()
	if err != nil {
		return Key{}, "", err
	}
	id, err := newKeyID()
	if err != nil {
		return Key{}, "", err
	}
	row, err := s.q.CreateKey(ctx, s.pool, accessdb.CreateKeyParams{
		KeyID: id, Name: cmd.Name, Role: cmd.Role, SecretHash: hashSecret(secret), PublicPrefix: nullable.Of(PublicPrefix(secret)),
	})
	if err != nil {
		return Key{}, "", fmt.Errorf("create api key: %w", err)
	}
	return toKey(row), secret, nil
}

// EnsureAdmin guarantees that an admin key with this secret exists and is not
// revoked (the LOYALTY_ADMIN_KEY bootstrap).
func (s *Service) EnsureAdmin(ctx context.Context, secret string) (Key, error) {
	if len(secret) < 16 {
		return Key{}, errors.New("admin key: the secret must be at least 16 characters")
	}
	id, err := newKeyID()
	if err != nil {
		return Key{}, err
	}
	row, err := s.q.EnsureAdminKey(ctx, s.pool, accessdb.EnsureAdminKeyParams{
		KeyID: id, Name: "bootstrap admin", SecretHash: hashSecret(secret), PublicPrefix: nullable.Of(PublicPrefix(secret)),
	})
	if err != nil {
		return Key{}, fmt.Errorf("ensure admin key: %w", err)
	}
	return toKey(row), nil
}

// Authenticate returns the live key with this secret. Live keys are cached for
// CacheTTL, so most calls cost no database round trip; unknown and revoked secrets
// are never cached.
func (s *Service) Authenticate(ctx context.Context, secret string) (Key, error) {
	if secret == "" {
		return Key{}, ErrUnauthenticated
	}
	hash := sha256.Sum256([]byte(secret))
	now := s.now()
	s.mu.Lock()
	c, ok := s.cache[hash]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		s.touch(ctx, c.key.ID, now)
		return c.key, nil
	}
	row, err := s.q.KeyBySecretHash(ctx, s.pool, hash[:])
	if errors.Is(err, pgx.ErrNoRows) {
		return Key{}, ErrUnauthenticated
	}
	if err != nil {
		return Key{}, fmt.Errorf("look up api key: %w", err)
	}
	if row.ApiKey.RevokeTime != nil {
		return Key{}, ErrUnauthenticated
	}
	// The limit rides on the cached key, so a change reaches every replica within
	// CacheTTL without a query per call.
	key := toKey(row.ApiKey)
	key.OwnRateLimit = ownRateLimit(row.RequestsPerSecond, row.Burst)
	s.mu.Lock()
	if len(s.cache) >= maxCachedKeys {
		clear(s.cache)
	}
	s.cache[hash] = cachedKey{key: key, expires: now.Add(CacheTTL)}
	s.mu.Unlock()
	s.touch(ctx, key.ID, now)
	return key, nil
}

// touch records that the key is in use, at most once per TouchInterval on this
// replica. A failed write is not the caller's problem: the next call tries again.
func (s *Service) touch(ctx context.Context, keyID string, now time.Time) {
	s.mu.Lock()
	last, ok := s.touched[keyID]
	due := !ok || now.Sub(last) >= TouchInterval
	if due {
		if len(s.touched) >= maxCachedKeys {
			clear(s.touched)
		}
		s.touched[keyID] = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	useTime := s.clock.Now()
	if err := s.q.TouchKey(ctx, s.pool, accessdb.TouchKeyParams{KeyID: keyID, UseTime: &useTime}); err != nil {
		s.mu.Lock()
		delete(s.touched, keyID)
		s.mu.Unlock()
	}
}

// forget drops a key from this replica's cache.
func (s *Service) forget(keyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, c := range s.cache {
		if c.key.ID == keyID {
			delete(s.cache, h)
		}
	}
}

// Revoke revokes a key at once. Revoking a revoked key changes nothing.
func (s *Service) Revoke(ctx context.Context, keyID string) (Key, error) {
	if keyID == "" {
		return Key{}, problem.InvalidField("keyId", "is required")
	}
	row, err := s.q.RevokeKey(ctx, s.pool, keyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Key{}, ErrKeyNotFound.With("API key %q not found", keyID)
	}
	if err != nil {
		return Key{}, fmt.Errorf("revoke api key: %w", err)
	}
	s.forget(keyID)
	return toKey(row), nil
}

// List returns every key, newest first.
func (s *Service) List(ctx context.Context) ([]Key, error) {
	rows, err := s.q.ListKeys(ctx, s.pool)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	keys := make([]Key, len(rows))
	for i, r := range rows {
		keys[i] = toKey(r)
	}
	return keys, nil
}

func toKey(r accessdb.ApiKey) Key {
	return Key{ID: r.KeyID, Name: r.Name, Role: Role(r.Role), CreateTime: r.CreateTime, RevokeTime: r.RevokeTime,
		PublicPrefix: nullable.Value(r.PublicPrefix), LastUseTime: r.LastUseTime}
}

// newSecret returns "lk_" and 256 random bits in lower-case base32.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate secret: %w", err)
	}
	return secretPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

func newKeyID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate key id: %w", err)
	}
	return "key_" + hex.EncodeToString(b), nil
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}
