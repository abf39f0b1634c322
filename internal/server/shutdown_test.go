package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// A call in flight when the server is told to stop is finished and answered, and
// its effect is kept.
func TestGracefulShutdownFinishesInFlightCalls(t *testing.T) {
	env := apitest.Start(t)
	app := env.Key(access.RoleApp)
	if r := env.REST("POST", "/v1/members", app, map[string]any{"memberId": "slow"}); r.Status != http.StatusOK {
		t.Fatalf("enroll: %d", r.Status)
	}
	// Hold the member's balance row so that an earn blocks inside the server.
	ctx := context.Background()
	tx, err := env.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM member_balances WHERE member_id = 'slow' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	answered := make(chan apitest.Response, 1)
	go func() {
		answered <- env.REST("POST", "/v1/members/slow:earn", app, map[string]any{"requestId": "in-flight", "points": 5})
	}()
	// Wait until the earn is inside the server, blocked on the row lock.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the earn never reached the database")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- env.Shutdown() }()
	time.Sleep(300 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("the server stopped with a call in flight")
	default:
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	resp := <-answered
	if resp.Status != http.StatusOK {
		t.Fatalf("in-flight earn answered %d: %s", resp.Status, resp.Raw)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	var available int64
	if err := env.Pool.QueryRow(ctx, "SELECT available FROM member_balances WHERE member_id = 'slow'").Scan(&available); err != nil || available != 5 {
		t.Fatalf("available %d (%v), want the acknowledged 5", available, err)
	}
}
