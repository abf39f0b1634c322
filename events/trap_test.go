package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
)

func begin(t *testing.T, pool *pgxpool.Pool) pgx.Tx {
	t.Helper()
	tx, err := pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

func takeXid(t *testing.T, tx pgx.Tx) {
	t.Helper()
	if _, err := tx.Exec(context.Background(), "SELECT pg_current_xact_id()"); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, tx pgx.Tx, evs ...events.Event) {
	t.Helper()
	if err := events.AppendTx(context.Background(), tx, evs...); err != nil {
		t.Fatal(err)
	}
}

func commit(t *testing.T, tx pgx.Tx) {
	t.Helper()
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// follower is a consumer that keeps only its last position, as a real one does.
type follower struct {
	pool *pgxpool.Pool
	pos  events.Position
	seen []events.Stored
}

// poll reads once from the follower's position (twice, a moment apart, so that a
// page that lags behind other tests' transactions is not taken for the end).
func (f *follower) poll(t *testing.T) []events.Stored {
	t.Helper()
	var got []events.Stored
	for range 2 {
		page, err := events.NewStore(f.pool).List(context.Background(), events.Filter{After: f.pos})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			f.pos = e.Position
		}
		got = append(got, page...)
		time.Sleep(50 * time.Millisecond)
	}
	f.seen = append(f.seen, got...)
	return got
}

// until polls until the follower has seen n events in all.
func (f *follower) until(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(f.seen) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("follower saw %d events, want %d", len(f.seen), n)
		}
		f.poll(t)
	}
}

// TestTrapInsertOrderAgainstCommitOrder is the classic outbox trap: A writes first
// (the lower id) and commits last. With ids as positions a consumer that read B
// would resume past A and never see it. Here B stays out of the feed while A,
// which took its xid earlier, is running; then both come, A first.
func TestTrapInsertOrderAgainstCommitOrder(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	a := begin(t, pool)
	write(t, a, earned("a", 1))
	b := begin(t, pool)
	write(t, b, earned("b", 2))
	commit(t, b)

	f := &follower{pool: pool}
	if got := f.poll(t); len(got) != 0 {
		t.Fatalf("feed showed %+v while an older writer was running", got)
	}
	commit(t, a)
	f.until(t, 2)
	if f.seen[0].MemberID != "a" || f.seen[1].MemberID != "b" || len(f.seen) != 2 {
		t.Fatalf("feed = %+v, want a then b", f.seen)
	}
}

// TestTrapXidOrderAgainstInsertOrder crosses the other way: A takes its xid first,
// B writes first (the lower id) and commits last. A is shown as soon as it commits,
// and B, committing later, still comes after the position the consumer holds.
func TestTrapXidOrderAgainstInsertOrder(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	a := begin(t, pool)
	takeXid(t, a)
	b := begin(t, pool)
	takeXid(t, b)
	write(t, b, earned("b", 2))
	write(t, a, earned("a", 1))
	commit(t, a)

	f := &follower{pool: pool}
	f.until(t, 1)
	if f.seen[0].MemberID != "a" {
		t.Fatalf("feed = %+v, want a", f.seen)
	}
	commit(t, b)
	f.until(t, 2)
	if f.seen[1].MemberID != "b" || len(f.seen) != 2 {
		t.Fatalf("feed = %+v, want a then b", f.seen)
	}
}

// TestMemberOrderAgainstXidOrder: A takes its xid first but numbers member m after
// B (it waits on m's counter row while B holds it). The feed still shows m's
// events in member_seq order: A's event is placed at B's xid, not its own.
func TestMemberOrderAgainstXidOrder(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	a := begin(t, pool)
	takeXid(t, a)
	b := begin(t, pool)
	write(t, b, earned("m", 1))
	done := make(chan error, 1)
	go func() { done <- events.AppendTx(ctx, a, earned("m", 2)) }()
	time.Sleep(100 * time.Millisecond) // a waits on m's counter row
	commit(t, b)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	commit(t, a)

	f := &follower{pool: pool}
	f.until(t, 2)
	if f.seen[0].MemberSeq != 1 || f.seen[1].MemberSeq != 2 {
		t.Fatalf("member m's events in the feed: seq %d then %d", f.seen[0].MemberSeq, f.seen[1].MemberSeq)
	}
	var d events.EntryData
	_ = jsonUnmarshal(f.seen[0].Data, &d)
	if d.Points != 1 {
		t.Fatalf("first event of m is %s, want B's", f.seen[0].Data)
	}
}
