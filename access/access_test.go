package access

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// Two replicas share a database: a key revoked on one stops working there at once,
// and on the other as soon as its cache entry expires (CacheTTL).
func TestRevocationReachesOtherReplicasWithinTheCacheTTL(t *testing.T) {
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
		if got, err := s.Authenticate(ctx, secret); err != nil || got.ID != key.ID || got.Role != RoleApp {
			t.Fatalf("authenticate: %+v %v", got, err)
		}
	}
	if _, err := one.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := one.Authenticate(ctx, secret); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("the revoking replica still accepts the key: %v", err)
	}
	now = now.Add(CacheTTL)
	if _, err := two.Authenticate(ctx, secret); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("the other replica accepts the key after the cache TTL: %v", err)
	}
	if _, err := two.Authenticate(ctx, "lk_unknown"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("unknown secret: %v", err)
	}
	if _, err := two.Authenticate(ctx, ""); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("empty secret: %v", err)
	}
}

func TestSecretsAreRandomAndOnlyTheirHashIsStored(t *testing.T) {
	pool := dbtest.NewPool(t)
	s := NewService(pool)
	ctx := context.Background()
	_, a, err := s.Create(ctx, CreateKey{Name: "a", Role: "auditor"})
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := s.Create(ctx, CreateKey{Name: "b", Role: "auditor"})
	if err != nil {
		t.Fatal(err)
	}
	if a == b || len(a) < 50 {
		t.Fatalf("weak secrets %q %q", a, b)
	}
	var plain int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE encode(secret_hash, 'escape') LIKE '%' || $1 || '%'`, a[3:20]).Scan(&plain); err != nil || plain != 0 {
		t.Fatalf("secret found in storage (%d, %v)", plain, err)
	}
	if _, _, err := s.Create(ctx, CreateKey{Name: "", Role: "root"}); err == nil {
		t.Fatal("invalid key accepted")
	}
}

func TestPublicPrefix(t *testing.T) {
	for _, tc := range []struct{ secret, want string }{
		{"lk_3fa9c2qzd5m7kx2rdlwxqh6nh4oygpzbl6rbh3iy4vnyyxdbwfkq", "lk_3fa9c2"},
		{"a-bootstrap-secret", "a-bo"},                 // 18 characters: a quarter, 4
		{"0123456789abcdef", "0123"},                   // the shortest bootstrap secret
		{"lk_test_admin_secret_0123456789", "lk_test"}, // 31 characters: a quarter, 7
		{"", ""},
	} {
		if got := PublicPrefix(tc.secret); got != tc.want {
			t.Errorf("PublicPrefix(%q) = %q, want %q", tc.secret, got, tc.want)
		}
	}
}

// A created key shows its public prefix; its use is recorded at the first call and
// then at most once per TouchInterval.
func TestKeysShowPrefixAndLastUse(t *testing.T) {
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	wall := time.Now()
	business := time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC)
	s := NewService(pool, WithClock(clockFunc(func() time.Time { return business })))
	s.now = func() time.Time { return wall }

	key, secret, err := s.Create(ctx, CreateKey{Name: "shop", Role: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if key.PublicPrefix != secret[:9] || len(key.PublicPrefix) != 9 {
		t.Fatalf("prefix %q of secret %q", key.PublicPrefix, secret)
	}
	lastUse := func() *time.Time {
		t.Helper()
		keys, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k.ID == key.ID {
				if k.PublicPrefix != key.PublicPrefix {
					t.Errorf("listed prefix %q, want %q", k.PublicPrefix, key.PublicPrefix)
				}
				return k.LastUseTime
			}
		}
		t.Fatal("key not listed")
		return nil
	}
	if lastUse() != nil {
		t.Fatal("an unused key has a last use time")
	}
	if _, err := s.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if got := lastUse(); got == nil || !got.Equal(business) {
		t.Fatalf("last use %v, want %v", got, business)
	}
	// Within the interval a use writes nothing (even past the cache TTL)...
	first := business
	wall, business = wall.Add(TouchInterval-time.Second), business.Add(TouchInterval-time.Second)
	if _, err := s.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if got := lastUse(); !got.Equal(first) {
		t.Fatalf("last use rewritten within the interval: %v", got)
	}
	// ... after it, one does.
	wall, business = wall.Add(time.Second), business.Add(time.Second)
	if _, err := s.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if got := lastUse(); !got.Equal(business) {
		t.Fatalf("last use %v, want %v", got, business)
	}
}

type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }
