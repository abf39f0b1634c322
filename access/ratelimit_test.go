package access

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/problem"
)

func TestDefaultRateLimitsPerRole(t *testing.T) {
	for _, tc := range []struct {
		role Role
		want RateLimit
	}{
		{RoleAdmin, RateLimit{50_000, 50_000}},
		{RoleApp, RateLimit{20_000, 20_000}},
		{RoleAgent, RateLimit{200, 400}},
		{RoleAuditor, RateLimit{100, 200}},
		{RoleMarketer, RateLimit{50, 100}},
	} {
		if got := DefaultRateLimit(tc.role); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.role, got, tc.want)
		}
		if got := (Key{Role: tc.role}).RateLimit(); got != tc.want {
			t.Errorf("a %s key without its own limit gets %+v", tc.role, got)
		}
	}
	own := RateLimit{RequestsPerSecond: 3, Burst: 7}
	if got := (Key{Role: RoleAdmin, OwnRateLimit: &own}).RateLimit(); got != own {
		t.Errorf("a key with its own limit gets %+v", got)
	}
	// Every default is a usable bucket, within what an admin may set.
	for _, r := range Roles {
		if l := DefaultRateLimit(r); l.RequestsPerSecond < 1 || l.Burst < 1 || l.RequestsPerSecond > MaxRateLimit || l.Burst > MaxRateLimit {
			t.Errorf("%s default %+v out of bounds", r, l)
		}
	}
}

// Two replicas share a database: a limit set on one applies there at once, and on
// the other as soon as its cached key expires (CacheTTL), as revocation does.
func TestARateLimitReachesOtherReplicasWithinTheCacheTTL(t *testing.T) {
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	one, two := NewService(pool), NewService(pool)
	one.now, two.now = clock, clock

	key, secret, err := one.Create(ctx, CreateKey{Name: "shop", Role: "app"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Service{one, two} {
		if got, err := s.Authenticate(ctx, secret); err != nil || got.RateLimit() != DefaultRateLimit(RoleApp) {
			t.Fatalf("before: %+v %v", got, err)
		}
	}
	set, err := one.SetRateLimit(ctx, SetRateLimit{KeyID: key.ID, RequestsPerSecond: 5})
	want := RateLimit{RequestsPerSecond: 5, Burst: 5}
	if err != nil || set.Limit != want || set.RoleDefault {
		t.Fatalf("set: %+v %v", set, err)
	}
	if got, _ := one.Authenticate(ctx, secret); got.RateLimit() != want {
		t.Fatalf("the replica that set it still has %+v", got.RateLimit())
	}
	if got, _ := two.Authenticate(ctx, secret); got.RateLimit() != DefaultRateLimit(RoleApp) {
		t.Fatalf("the other replica's cached key changed before its TTL: %+v", got.RateLimit())
	}
	now = now.Add(CacheTTL)
	if got, _ := two.Authenticate(ctx, secret); got.RateLimit() != want {
		t.Fatalf("the other replica after the cache TTL: %+v", got.RateLimit())
	}

	cleared, err := two.SetRateLimit(ctx, SetRateLimit{KeyID: key.ID})
	if err != nil || !cleared.RoleDefault || cleared.Limit != DefaultRateLimit(RoleApp) {
		t.Fatalf("clear: %+v %v", cleared, err)
	}
	now = now.Add(CacheTTL)
	if got, _ := one.Authenticate(ctx, secret); got.OwnRateLimit != nil {
		t.Fatalf("cleared limit still on the key: %+v", got.OwnRateLimit)
	}
}

func TestSetRateLimitRefusesBadInputNamingTheField(t *testing.T) {
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	s := NewService(pool)
	key, _, err := s.Create(ctx, CreateKey{Name: "shop", Role: "app"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cmd   SetRateLimit
		field string
	}{
		{SetRateLimit{RequestsPerSecond: 5}, "keyId"},
		{SetRateLimit{KeyID: key.ID, RequestsPerSecond: -1}, "requestsPerSecond"},
		{SetRateLimit{KeyID: key.ID, RequestsPerSecond: MaxRateLimit + 1}, "requestsPerSecond"},
		{SetRateLimit{KeyID: key.ID, RequestsPerSecond: 5, Burst: -1}, "burst"},
		{SetRateLimit{KeyID: key.ID, RequestsPerSecond: 5, Burst: MaxRateLimit + 1}, "burst"},
		{SetRateLimit{KeyID: key.ID, Burst: 5}, "burst"},
	} {
		_, err := s.SetRateLimit(ctx, tc.cmd)
		p, ok := problem.As(err)
		if !ok || p.Kind != problem.Invalid || len(p.Fields) != 1 || p.Fields[0].Field != tc.field {
			t.Errorf("%+v: %v, want a violation of %s", tc.cmd, err, tc.field)
		}
	}
	if _, err := s.SetRateLimit(ctx, SetRateLimit{KeyID: "key_nope", RequestsPerSecond: 5}); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("unknown key: %v", err)
	}
	if got, err := s.RateLimitOf(ctx, key.ID); err != nil || !got.RoleDefault {
		t.Errorf("after refused changes: %+v %v", got, err)
	}
}
