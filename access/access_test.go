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
