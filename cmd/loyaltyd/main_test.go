package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer collects a server's log safely across goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Two replicas starting at once on an empty database: the migration lock lets one
// migrate while the other waits, and both come up and serve.
func TestTwoInstancesStartingAtOnceBothMigrateAndServe(t *testing.T) {
	dbURL := dbtest.EmptyDatabase(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	type instance struct {
		http string
		done chan error
		log  *syncBuffer
	}
	var instances []*instance
	for i := 0; i < 2; i++ {
		in := &instance{http: freeAddr(t), done: make(chan error, 1), log: &syncBuffer{}}
		args := []string{"--database-url", dbURL, "--http-addr", in.http, "--grpc-addr", freeAddr(t),
			"--admin-key", "lk_test_admin_secret_0123456789", "--shutdown-timeout", "5s"}
		go func() { in.done <- run(ctx, args, func(string) string { return "" }, &bytes.Buffer{}, in.log) }()
		instances = append(instances, in)
	}

	for i, in := range instances {
		if !waitReady(t, "http://"+in.http, 60*time.Second) {
			t.Fatalf("instance %d never became ready; log:\n%s", i, in.log.String())
		}
		req, _ := http.NewRequest("GET", "http://"+in.http+"/v1/members/nobody", nil)
		req.Header.Set("Authorization", "Bearer lk_test_admin_secret_0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("instance %d: GET unknown member = %d, want 404 (schema in place)", i, resp.StatusCode)
		}
	}

	cancel()
	for i, in := range instances {
		select {
		case err := <-in.done:
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("instance %d did not shut down", i)
		}
	}
}

func waitReady(t *testing.T, base string, within time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
