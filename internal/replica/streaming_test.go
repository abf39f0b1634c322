package replica_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/internal/app"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/pgcluster"
	"github.com/loyalty-engine/loyalty/internal/replica"
)

// streaming is a primary and its streaming replica, both started by the test.
type streaming struct {
	primary, standby         *pgcluster.Cluster
	primaryPool, replicaPool *pgxpool.Pool
}

// startStreaming starts a primary with a migrated loyalty database and a hot
// standby of it made by pg_basebackup -R; everything is stopped and removed
// when the test ends.
func startStreaming(t *testing.T) *streaming {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "loyalty-replica-test-")
	if err != nil {
		t.Fatal(err)
	}
	// The clusters run as the postgres user when the test runs as root: it
	// must be able to enter.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &streaming{}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, c := range []*pgcluster.Cluster{s.standby, s.primary} {
			if c != nil {
				_ = c.Stop(stopCtx) // the standby may be stopped already
			}
		}
		_ = os.RemoveAll(dir)
	})
	// Commits are synchronous (fsync stays off): a committed write's WAL is
	// sent to the standby at once, not at the WAL writer's next round.
	s.primary, err = pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(dir, "primary"), Settings: []string{"synchronous_commit=on"}})
	if err != nil {
		t.Fatalf("start primary: %v", err)
	}
	admin, err := database.Open(ctx, s.primary.URL("postgres"), 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.Exec(ctx, "CREATE DATABASE loyalty")
	admin.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := database.Migrate(ctx, s.primary.URL("loyalty"), nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	s.standby, err = pgcluster.StartStandby(ctx, s.primary, pgcluster.Options{Dir: filepath.Join(dir, "standby")})
	if err != nil {
		t.Fatalf("start standby: %v", err)
	}
	if s.primaryPool, err = database.Open(ctx, s.primary.URL("loyalty"), 8); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.primaryPool.Close)
	if s.replicaPool, err = database.OpenLazy(ctx, s.standby.URL("loyalty"), 8); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.replicaPool.Close)
	return s
}

// onStandby runs a statement on the standby as the superuser.
func (s *streaming) onStandby(t *testing.T, sql string) {
	t.Helper()
	if _, err := s.replicaPool.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s on the standby: %v", sql, err)
	}
}

// TestReadsFromAStreamingReplica runs loyaltyd's server on a primary with a real
// streaming replica: statements come from the replica (a paused replay hides a
// fresh write from them while the balance, on the primary, shows it), a read with
// the write's position sees it, the lag metric follows the replay, and a stopped
// replica sends the reads to the primary without an error until it is back.
func TestReadsFromAStreamingReplica(t *testing.T) {
	s := startStreaming(t)
	const maxLag = 1500 * time.Millisecond
	env := apitest.StartOn(t, s.primaryPool, func(o *app.Options) {
		o.ReadPool = s.replicaPool
		o.Replica = replica.Options{MaxLag: maxLag, Wait: 300 * time.Millisecond, PollEvery: 50 * time.Millisecond}
	})
	key := env.Key(access.RoleApp)
	ok := func(what string, r apitest.Response) apitest.Response {
		t.Helper()
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", what, r.Status, r.Raw)
		}
		return r
	}
	entries := func(headers ...string) int {
		t.Helper()
		r := ok("statement", env.REST("GET", "/v1/members/ann/activity", key, nil, headers...))
		list, _ := r.Body["entries"].([]any)
		return len(list)
	}
	metric := func(name string) float64 {
		t.Helper()
		v, _ := env.Metric(name) // a counter not yet incremented is not printed
		return v
	}
	replicaReads := func() float64 { return metric(`loyalty_replica_routed_reads_total{reason="replica",target="replica"}`) }
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}

	ok("enroll", env.REST("POST", "/v1/members", key, map[string]any{"memberId": "ann"}))
	ok("earn", env.REST("POST", "/v1/members/ann:earn", key, map[string]any{"requestId": "e1", "points": 100}))
	eventually("the replica to have the first entry", func() bool { return entries() == 1 })
	if replicaReads() == 0 {
		t.Fatal("no statement was read from the replica")
	}

	// Replay paused: the replica keeps what it had.
	s.onStandby(t, "SELECT pg_wal_replay_pause()")
	eventually("the replay to pause", func() bool {
		var state string
		_ = s.replicaPool.QueryRow(context.Background(), "SELECT pg_get_wal_replay_pause_state()").Scan(&state)
		return state == "paused"
	})
	write := ok("earn", env.REST("POST", "/v1/members/ann:earn", key, map[string]any{"requestId": "e2", "points": 50},
		"Loyalty-Want-Position", "true"))
	position := write.Header.Get("Loyalty-Position")
	if _, err := replica.ParsePosition(position); err != nil {
		t.Fatalf("the write answered position %q: %v", position, err)
	}
	if r := ok("enroll", env.REST("POST", "/v1/members", key, map[string]any{"memberId": "bob"})); r.Header.Get("Loyalty-Position") != "" {
		t.Errorf("a write that did not ask answered a position: %q", r.Header.Get("Loyalty-Position"))
	}
	bal := ok("balance", env.REST("GET", "/v1/members/ann/balance", key, nil))
	if bal.Body["available"] != "150" {
		t.Errorf("current balance (primary) %v, want 150", bal.Body["available"])
	}
	if n := entries(); n != 1 {
		t.Errorf("statement with the replay paused: %d entries, want the replica's 1", n)
	}
	asOf := ok("balance as of", env.REST("GET", "/v1/members/ann/balance?asOfTime="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339), key, nil))
	if asOf.Body["available"] != "100" {
		t.Errorf("balance as of now (replica, paused) %v, want 100", asOf.Body["available"])
	}
	if n := entries("Loyalty-Min-Position", position); n != 2 {
		t.Errorf("statement with the write's position, replay paused: %d entries, want 2 (from the primary)", n)
	}
	if n := entries("Loyalty-Read-Primary", "1"); n != 2 {
		t.Errorf("statement asking for the primary: %d entries, want 2", n)
	}
	if r := env.REST("GET", "/v1/members/ann/activity", key, nil, "Loyalty-Min-Position", "nonsense"); r.Status != http.StatusBadRequest {
		t.Errorf("a malformed position: %d %s", r.Status, r.Raw)
	}
	// The replica's pool is on /metrics beside the primary's.
	if got, want := metric(`pgxpool_max_conns{pool="replica"}`), float64(s.replicaPool.Config().MaxConns); got != want {
		t.Errorf("pgxpool_max_conns of the replica = %v, want %v", got, want)
	}

	// The lag grows while the replay is paused; beyond the bound the reads go to
	// the primary.
	eventually("the lag metric to pass the bound", func() bool {
		return metric("loyalty_replica_lag_seconds") > maxLag.Seconds() && metric("loyalty_replica_lag_bytes") > 0
	})
	if n := entries(); n != 2 {
		t.Errorf("statement past the lag bound: %d entries, want the primary's 2", n)
	}

	// Replay resumed: the lag falls back, and a read with the position is
	// served by the replica.
	s.onStandby(t, "SELECT pg_wal_replay_resume()")
	eventually("the lag metric to fall back to zero", func() bool { return metric("loyalty_replica_lag_seconds") == 0 })
	before := replicaReads()
	if n := entries("Loyalty-Min-Position", position); n != 2 {
		t.Errorf("statement with the write's position, replay resumed: %d entries, want 2", n)
	}
	if replicaReads() != before+1 {
		t.Errorf("the read with a replayed position did not go to the replica")
	}

	// The replica stops: reads go on, on the primary, without an error.
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.standby.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if n := entries(); n != 2 {
			t.Errorf("statement %d after the replica stopped: %d entries, want 2", i, n)
		}
		ok("lots", env.REST("GET", "/v1/members/ann/lots", key, nil))
		ok("liability", env.REST("GET", "/v1/reports/liability", apitest.AdminKey, nil))
	}
	eventually("the replica to be seen down", func() bool { return metric("loyalty_replica_up") == 0 })
	if n := entries(); n != 2 {
		t.Errorf("statement with the replica down: %d entries, want 2", n)
	}

	// Back up: the reads return to it.
	restarted, err := pgcluster.Start(stopCtx, s.standby.Options())
	if err != nil {
		t.Fatalf("restart standby: %v", err)
	}
	s.standby = restarted
	eventually("the replica to be seen up", func() bool { return metric("loyalty_replica_up") == 1 })
	before = replicaReads()
	if n := entries(); n != 2 {
		t.Errorf("statement with the replica back: %d entries, want 2", n)
	}
	if replicaReads() != before+1 {
		t.Errorf("the read after the replica came back did not go to it")
	}
}
