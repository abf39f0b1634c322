package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/apitest"
	"github.com/loyalty-engine/loyalty/internal/app"
)

// holdMemberRowLock holds the member's balance row from another connection until the test
// ends or the returned function is called, so that writes for the member block.
func holdMemberRowLock(t *testing.T, env *apitest.Env, member string) (release func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := env.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM member_balances WHERE member_id = $1 FOR UPDATE", member); err != nil {
		t.Fatal(err)
	}
	release = func() { _ = tx.Rollback(ctx) }
	t.Cleanup(release)
	return release
}

// waitUntilNoStatementWaits fails the test unless, within a few seconds, no
// statement of the database is waiting for a lock any more.
func waitUntilNoStatementWaits(t *testing.T, env *apitest.Env) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var waiting int
		if err := env.Pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d statements still wait for the lock after the call's deadline", waiting)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Every call has the server's deadline, and it reaches the SQL: a write blocked on
// a row lock answers DEADLINE_EXCEEDED (REST 504) after the call timeout, and its
// statement no longer waits in PostgreSQL. A retry with the same requestId, once
// the lock is gone, writes the entry once.
func TestCallTimeoutCancelsTheCallAndItsStatement(t *testing.T) {
	env := apitest.Start(t, func(o *app.Options) { o.CallTimeout = time.Second })
	key := env.Key(access.RoleApp)
	for _, m := range []string{"locked", "free"} {
		if r := env.REST("POST", "/v1/members", key, map[string]any{"memberId": m}); r.Status != http.StatusOK {
			t.Fatalf("enroll: %d %s", r.Status, r.Raw)
		}
	}
	if r := env.REST("POST", "/v1/members/locked:earn", key, map[string]any{"requestId": "seed", "points": 100}); r.Status != http.StatusOK {
		t.Fatalf("seed: %d %s", r.Status, r.Raw)
	}
	release := holdMemberRowLock(t, env, "locked")

	// REST, through the group committer.
	r := env.REST("POST", "/v1/members/locked:earn", key, map[string]any{"requestId": "slow-earn", "points": 5})
	if r.Status != http.StatusGatewayTimeout {
		t.Fatalf("blocked earn: %d %s, want 504", r.Status, r.Raw)
	}
	waitUntilNoStatementWaits(t, env)

	// gRPC, through a transaction (a hold).
	points := loyaltyv1.NewPointsServiceClient(env.Conn)
	_, err := points.CreateHold(env.Ctx(key), &loyaltyv1.CreateHoldRequest{MemberId: "locked", RequestId: "slow-hold", Points: 10})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("blocked hold: %v, want DEADLINE_EXCEEDED", err)
	}
	waitUntilNoStatementWaits(t, env)

	// Other members were never blocked.
	if r := env.REST("POST", "/v1/members/free:earn", key, map[string]any{"requestId": "free-earn", "points": 1}); r.Status != http.StatusOK {
		t.Fatalf("earn for another member: %d %s", r.Status, r.Raw)
	}
	release()
	for i := 0; i < 2; i++ {
		if r := env.REST("POST", "/v1/members/locked:earn", key, map[string]any{"requestId": "slow-earn", "points": 5}); r.Status != http.StatusOK {
			t.Fatalf("retry %d of the earn: %d %s", i, r.Status, r.Raw)
		}
	}
	b := env.REST("GET", "/v1/members/locked/balance", key, nil)
	if got := num(t, b.Body["available"]); got != 105 {
		t.Fatalf("available %d after the retries, want 105 (the earn once)", got)
	}
	if v := env.REST("GET", "/v1/ledger:verify", env.Key(access.RoleAdmin), nil); v.Body["ok"] != true {
		t.Fatalf("verify: %s", v.Raw)
	}
}

// A client's shorter deadline wins over the server's: its blocked statement stops
// when the client's deadline passes, long before the server's call timeout.
func TestClientDeadlineShorterThanTheServersWins(t *testing.T) {
	env := apitest.Start(t, func(o *app.Options) { o.CallTimeout = time.Minute })
	key := env.Key(access.RoleApp)
	if r := env.REST("POST", "/v1/members", key, map[string]any{"memberId": "locked"}); r.Status != http.StatusOK {
		t.Fatalf("enroll: %d %s", r.Status, r.Raw)
	}
	holdMemberRowLock(t, env, "locked")
	ctx, cancel := context.WithTimeout(env.Ctx(key), 500*time.Millisecond)
	defer cancel()
	_, err := loyaltyv1.NewPointsServiceClient(env.Conn).Earn(ctx, &loyaltyv1.EarnRequest{MemberId: "locked", RequestId: "e", Points: 5})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("earn with a 500 ms deadline: %v", err)
	}
	waitUntilNoStatementWaits(t, env)
}
