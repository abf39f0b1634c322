package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func earned(member string, points int64) events.Event {
	return events.Event{Type: events.PointsEarned, OccurTime: t0, MemberID: member,
		Data: events.EntryData{EntryID: "1", Kind: "EARN", Points: points, Available: points}}
}

func appendTx(t testing.TB, pool *pgxpool.Pool, evs ...events.Event) {
	t.Helper()
	if err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		return events.AppendTx(context.Background(), tx, evs...)
	}); err != nil {
		t.Fatal(err)
	}
}

// listAll reads the feed from f.After until it has want events. The feed shows an
// event once every transaction that took its xid earlier has ended, in any
// database of the cluster (other tests' too), so it may lag a moment behind a
// commit: it is read again until the events are there.
func listAll(t testing.TB, pool *pgxpool.Pool, f events.Filter, want int) []events.Stored {
	t.Helper()
	var all []events.Stored
	deadline := time.Now().Add(10 * time.Second)
	for len(all) < want {
		page, err := events.NewStore(pool).List(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) > 0 {
			f.After = page[len(page)-1].Position
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("the feed shows %d events, want %d", len(all), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if extra, err := events.NewStore(pool).List(context.Background(), f); err != nil || len(extra) > 0 {
		t.Fatalf("the feed shows more than %d events: %v (%v)", want, extra, err)
	}
	return all
}

func TestAppendNumbersEachMembersEvents(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	appendTx(t, pool, earned("alice", 10), earned("bob", 5), earned("alice", 20),
		events.Event{Type: events.CampaignStatusChanged, OccurTime: t0, Data: events.CampaignData{CampaignID: "c1", Status: "ACTIVE"}})
	appendTx(t, pool, earned("bob", 7), earned("alice", 1))

	got := listAll(t, pool, events.Filter{Limit: 2}, 6)
	type row struct {
		typ    events.Type
		member string
		seq    int64
	}
	var rows []row
	ids := map[string]bool{}
	for i, e := range got {
		rows = append(rows, row{e.Type, e.MemberID, e.MemberSeq})
		if ids[e.EventID] || e.EventID == "" {
			t.Errorf("event id %q repeated or empty", e.EventID)
		}
		ids[e.EventID] = true
		if i > 0 && !got[i-1].Position.Less(e.Position) {
			t.Errorf("positions out of order: %v then %v", got[i-1].Position, e.Position)
		}
	}
	want := []row{
		{events.PointsEarned, "alice", 1}, {events.PointsEarned, "bob", 1}, {events.PointsEarned, "alice", 2},
		{events.CampaignStatusChanged, "", 0},
		{events.PointsEarned, "bob", 2}, {events.PointsEarned, "alice", 3},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Fatalf("feed = %v, want %v", rows, want)
	}
	var d events.EntryData
	if err := json.Unmarshal(got[2].Data, &d); err != nil || d.Points != 20 || d.Kind != "EARN" {
		t.Errorf("data = %s (%v)", got[2].Data, err)
	}
	if !got[0].OccurTime.Equal(t0) {
		t.Errorf("occurTime = %v", got[0].OccurTime)
	}

	// Filters keep the order and the positions.
	alice := listAll(t, pool, events.Filter{MemberID: "alice"}, 3)
	if len(alice) != 3 || alice[2].MemberSeq != 3 || alice[1].Position != got[2].Position {
		t.Errorf("alice's events = %+v", alice)
	}
	camp := listAll(t, pool, events.Filter{Types: []events.Type{events.CampaignStatusChanged}}, 1)
	if len(camp) != 1 || camp[0].Position != got[3].Position {
		t.Errorf("campaign events = %+v", camp)
	}
	if _, err := events.NewStore(pool).List(context.Background(), events.Filter{Types: []events.Type{"points.nope"}}); err == nil {
		t.Error("an unknown type was accepted")
	}
}

func TestQueueJoinsABatch(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	var b pgx.Batch
	b.Queue("BEGIN")
	events.Queue(&b, []events.Event{earned("carol", 1), earned("carol", 2)})
	events.Queue(&b, nil) // nothing to write: nothing queued
	b.Queue("COMMIT")
	if b.Len() != 3 {
		t.Fatalf("batch has %d statements, want 3", b.Len())
	}
	if err := pool.SendBatch(ctx, &b).Close(); err != nil {
		t.Fatal(err)
	}

	// A batch that fails writes no event and takes no number.
	var bad pgx.Batch
	bad.Queue("BEGIN")
	events.Queue(&bad, []events.Event{earned("carol", 3)})
	bad.Queue("SELECT 1/0")
	bad.Queue("COMMIT")
	if err := pool.SendBatch(ctx, &bad).Close(); err == nil {
		t.Fatal("division by zero succeeded")
	}
	appendTx(t, pool, earned("carol", 4))
	var seqs []int64
	for _, e := range listAll(t, pool, events.Filter{MemberID: "carol"}, 3) {
		seqs = append(seqs, e.MemberSeq)
	}
	if fmt.Sprint(seqs) != "[1 2 3]" {
		t.Errorf("carol's seqs = %v, want [1 2 3]", seqs)
	}
}

func TestPositionTokens(t *testing.T) {
	t.Parallel()
	for _, p := range []events.Position{{}, {Xid: 1, ID: 1}, {Xid: 1 << 40, ID: 0}, {Xid: 987654321, ID: 1 << 50}} {
		got, err := events.ParsePosition(p.String())
		if err != nil || got != p {
			t.Errorf("ParsePosition(%q) = %v, %v; want %v", p.String(), got, err, p)
		}
	}
	for _, bad := range []string{"x", "1", "1-", "-1", "01-1", "1-01", "A-1", "1--1", "1-1-1", " 1-1"} {
		if _, err := events.ParsePosition(bad); err == nil {
			t.Errorf("ParsePosition(%q) accepted", bad)
		}
	}
}

// TestConcurrentWritersNumberWithoutGaps writes from many goroutines, each
// transaction for one to three random members, while a follower reads the feed
// along: every member's numbers are 1..n in feed order, and the follower sees each
// event exactly once.
func TestConcurrentWritersNumberWithoutGaps(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	const writers, txPerWriter, members = 12, 40, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	written := make(chan int, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			n := 0
			for range txPerWriter {
				var evs []events.Event
				for range 1 + rng.IntN(3) {
					evs = append(evs, earned(fmt.Sprintf("m%02d", rng.IntN(members)), 1))
				}
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					if rng.IntN(2) == 0 {
						// Take an xid before the member's counter, so that xid order
						// and numbering order cross between writers.
						if _, err := tx.Exec(ctx, "SELECT pg_current_xact_id()"); err != nil {
							return err
						}
					}
					return events.AppendTx(ctx, tx, evs...)
				})
				if err != nil {
					errs <- err
					return
				}
				n += len(evs)
			}
			written <- n
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	seen := map[string]bool{}
	next := map[string]int64{}
	var pos events.Position
	follow := func() int {
		page, err := events.NewStore(pool).List(ctx, events.Filter{After: pos, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if seen[e.EventID] {
				t.Fatalf("event %s seen twice", e.EventID)
			}
			seen[e.EventID] = true
			next[e.MemberID]++
			if e.MemberSeq != next[e.MemberID] {
				t.Fatalf("member %s: seq %d after %d", e.MemberID, e.MemberSeq, next[e.MemberID]-1)
			}
			pos = e.Position
		}
		return len(page)
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		case err := <-errs:
			t.Fatal(err)
		default:
			if follow() == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	total := 0
	for range writers {
		total += <-written
	}
	for deadline := time.Now().Add(10 * time.Second); len(seen) < total && time.Now().Before(deadline); {
		if follow() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if len(seen) != total {
		t.Fatalf("follower saw %d events, %d were written", len(seen), total)
	}
	var counted int64
	for _, n := range next {
		counted += n
	}
	if counted != int64(total) {
		t.Fatalf("members' numbers add up to %d, want %d", counted, total)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func TestPositionAtStartsAReplayFromATime(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	store := events.NewStore(pool)
	ctx := context.Background()
	at := func(member string, d time.Duration) events.Event {
		return events.Event{Type: events.PointsEarned, OccurTime: t0.Add(d), MemberID: member}
	}
	appendTx(t, pool, at("a", 0), at("b", time.Hour))
	appendTx(t, pool, at("c", 2*time.Hour))
	all := listAll(t, pool, events.Filter{}, 3)

	for _, tc := range []struct {
		since time.Time
		want  []string
	}{
		{t0.Add(-time.Hour), []string{"a", "b", "c"}},
		{t0.Add(time.Hour), []string{"b", "c"}},
		{t0.Add(90 * time.Minute), []string{"c"}},
		{t0.Add(3 * time.Hour), nil},
	} {
		pos, err := store.PositionAt(ctx, tc.since)
		if err != nil {
			t.Fatal(err)
		}
		page, err := store.List(ctx, events.Filter{After: pos})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range page {
			got = append(got, e.MemberID)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("from %s: %v, want %v", tc.since.Format(time.Kitchen), got, tc.want)
		}
	}
	if pos, _ := store.PositionAt(ctx, t0.Add(3*time.Hour)); pos != all[2].Position {
		t.Errorf("after every event: %v, want the last one's %v", pos, all[2].Position)
	}
}
