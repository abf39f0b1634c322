package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/proctest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// Two replicas starting at once on an empty database: the migration lock lets one
// migrate while the other waits, and both come up and serve.
func TestTwoInstancesStartingAtOnceBothMigrateAndServe(t *testing.T) {
	dbURL := dbtest.EmptyDatabase(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	type instance struct {
		http string
		done chan error
		log  *proctest.Output
	}
	var instances []*instance
	for i := 0; i < 2; i++ {
		in := &instance{http: proctest.FreeAddr(t), done: make(chan error, 1), log: &proctest.Output{}}
		args := []string{"--database-url", dbURL, "--http-addr", in.http, "--grpc-addr", proctest.FreeAddr(t),
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
