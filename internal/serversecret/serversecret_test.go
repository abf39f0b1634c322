package serversecret_test

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"

	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/serversecret"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// Replicas starting at once all get the one secret that was stored first, and a
// restart (a later call) gets it again.
func TestASecretIsMadeOnceAndSharedByEveryReplica(t *testing.T) {
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	const replicas = 8
	got := make([][]byte, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = serversecret.Get(ctx, pool, serversecret.PageTokens)
		}()
	}
	wg.Wait()
	for i := range replicas {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		if len(got[i]) != serversecret.Bytes || !bytes.Equal(got[i], got[0]) {
			t.Fatalf("replica %d got %x, replica 0 %x", i, got[i], got[0])
		}
	}
	if bytes.Equal(got[0], make([]byte, serversecret.Bytes)) {
		t.Fatal("the secret is all zeros")
	}
	again, err := serversecret.Get(ctx, pool, serversecret.PageTokens)
	if err != nil || !bytes.Equal(again, got[0]) {
		t.Fatalf("after a restart: %x, %v; want %x", again, err, got[0])
	}
	other, err := serversecret.Get(ctx, pool, "another")
	if err != nil || bytes.Equal(other, got[0]) {
		t.Fatalf("another name shares the secret: %x, %v", other, err)
	}
}
