package bulk_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/bulk"
)

// parallel is a replica's service running chunks of chunk members, at at once.
func (e engine) parallel(chunk, at int) *bulk.Service {
	return bulk.NewService(e.pool, e.ledger, e.tiers, e.campaigns, e.clock, bulk.Options{Chunk: chunk, Parallel: at, Page: 700})
}

// chunkRows checks a bulk credit's chunk rows: how many, how many overlap another
// (must be none), the seqs they cover, and the sums of their progress.
func (e engine) chunkRows(t testing.TB, id int64) (rows, overlapping int, covered, done, failed, points int64) {
	t.Helper()
	err := e.pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(to_seq - from_seq), 0), coalesce(sum(done), 0), coalesce(sum(failed), 0), coalesce(sum(points), 0),
		(SELECT count(*) FROM bulk_credit_chunks a JOIN bulk_credit_chunks b ON a.bulk_credit_id = b.bulk_credit_id
		  AND a.from_seq < b.from_seq AND b.from_seq < a.to_seq WHERE a.bulk_credit_id = $1)
		FROM bulk_credit_chunks WHERE bulk_credit_id = $1`, id).Scan(&rows, &covered, &done, &failed, &points, &overlapping)
	if err != nil {
		t.Fatal(err)
	}
	return rows, overlapping, covered, done, failed, points
}

// A bulk credit of 3,000 members in chunks of 50, four at a time: each member
// credited once, the progress exact, one chunk row per chunk of the grid.
func TestBulkCreditChunksInParallel(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ids := e.seed(t, "q", 3000)
	s := e.parallel(50, 4)
	list := members(ids)
	list = append(list, bulk.MemberPoints{MemberID: "ghost-1"}, bulk.MemberPoints{MemberID: "ghost-2"})
	b, err := s.Create(ctx, bulk.Create{RequestID: "par", Points: 7, Reason: "in parallel", Target: bulk.Target{Members: list}, ActorKeyID: "k"})
	if err != nil {
		t.Fatal(err)
	}
	credited, err := s.Work(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if credited != 3000 || got.Status != bulk.StatusSucceeded || got.Total != 3002 || got.Done != 3000 || got.Failed != 2 ||
		got.PointsCredited != 7*3000 || got.EndTime.IsZero() {
		t.Fatalf("bulk credit %+v (work credited %d), want SUCCEEDED with 3000 done, 2 failed", got, credited)
	}
	if n, wrong := e.bulkEntries(t, b.ID); n != 3000 || wrong != 0 {
		t.Fatalf("%d members credited, %d not exactly once", n, wrong)
	}
	if rows, overlapping, covered, _, _, _ := e.chunkRows(t, b.ID); rows != 61 || overlapping != 0 || covered != 3002 {
		t.Fatalf("%d chunk rows (%d overlapping) covering %d, want 61 covering 3002", rows, overlapping, covered)
	}
	if list, err := s.List(ctx, 0, 10); err != nil || len(list) != 1 || list[0].Done != 3000 || list[0].PointsCredited != 21000 {
		t.Fatalf("list: %+v, %v", list, err)
	}
	mustVerify(t, e.ledger)
}

// A run after one whose chunks committed out of order (killed with chunks in the
// middle done, not a prefix; and a prefix off the grid, as a bulk credit from
// before chunk rows has) credits exactly the gaps, on the bulk credit's own grid
// whatever the replica's --bulk-chunk.
func TestBulkCreditResumesTheGaps(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ids := e.seed(t, "g", 1000)
	s := e.parallel(50, 3)
	b, err := s.Create(ctx, bulk.Create{RequestID: "gaps", Points: 3, Reason: "gaps", Target: bulk.Target{Members: members(ids)}, ActorKeyID: "k"})
	if err != nil {
		t.Fatal(err)
	}
	done := map[int64]int64{0: 73, 100: 150, 250: 300, 500: 550, 950: 1000}
	for from, to := range done {
		if n, moved, err := s.CreditChunk(ctx, b.ID, from, to); err != nil || !moved || n != to-from {
			t.Fatalf("chunk %d-%d: %d, %v, %v", from, to, n, moved, err)
		}
	}
	// The same chunk again writes nothing: its row is claimed.
	if n, moved, err := s.CreditChunk(ctx, b.ID, 100, 150); err != nil || moved || n != 0 {
		t.Fatalf("chunk 100-150 again: %d, %v, %v", n, moved, err)
	}
	var stamps int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM bulk_credit_chunks WHERE bulk_credit_id = $1`, b.ID).Scan(&stamps); err != nil || stamps != 5 {
		t.Fatalf("%d chunk rows before the run (%v), want 5", stamps, err)
	}
	credited, err := e.parallel(300, 3).Work(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if credited != 1000-73-4*50 {
		t.Fatalf("the run credited %d, want the %d of the gaps", credited, 1000-73-4*50)
	}
	got, _ := s.Get(ctx, b.ID)
	if got.Status != bulk.StatusSucceeded || got.Done != 1000 || got.PointsCredited != 3000 {
		t.Fatalf("bulk credit %+v, want SUCCEEDED with 1000 done", got)
	}
	if n, wrong := e.bulkEntries(t, b.ID); n != 1000 || wrong != 0 {
		t.Fatalf("%d members credited, %d not exactly once", n, wrong)
	}
	// 5 rows before; the gaps on the grid of 50: 73-100, then 150-250 (2), 300-500 (4), 550-950 (8).
	if rows, overlapping, covered, d, _, _ := e.chunkRows(t, b.ID); rows != 5+1+2+4+8 || overlapping != 0 || covered != 1000 || d != 1000 {
		t.Fatalf("%d chunk rows (%d overlapping) covering %d, %d done", rows, overlapping, covered, d)
	}
	mustVerify(t, e.ledger)
}

// Two replicas' runs (the advisory lock lets one in at a time), two runs that skip
// it (Work), and single chunks cut on the grid, all at once on two bulk credits,
// while an operator pauses and resumes one and cancels the other: no member is
// credited twice, the cancelled one keeps exactly what committed, and the books
// verify.
func TestBulkCreditChunksRacing(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ids := e.seed(t, "r", 3000)
	const chunk = 50
	admin := e.parallel(chunk, 4)
	var bs [2]bulk.BulkCredit
	for i, req := range []string{"keep", "cancel"} {
		b, err := admin.Create(ctx, bulk.Create{RequestID: req, Points: int64(10 + i), Reason: req, Target: bulk.Target{Members: members(ids)}, ActorKeyID: "k"})
		if err != nil {
			t.Fatal(err)
		}
		bs[i] = b
	}
	keep, cancel := bs[0], bs[1]
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	run := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rctx.Err() == nil {
				if err := f(); err != nil && rctx.Err() == nil {
					t.Errorf("racer: %v", err)
					return
				}
			}
		}()
	}
	for replica := range 2 {
		s := e.parallel(chunk, 2+replica)
		run(func() error { _, err := s.Run(rctx, 2*time.Second); return err })
		run(func() error { _, err := s.Work(rctx); return err })
	}
	single := e.parallel(chunk, 1)
	run(func() error {
		b := bs[rand.IntN(2)]
		from := int64(rand.IntN(len(ids)/chunk)) * chunk
		_, _, err := single.CreditChunk(rctx, b.ID, from, from+chunk)
		return err
	})
	// The operator: pause and resume one, then cancel the other mid-way.
	for i := range 6 {
		time.Sleep(40 * time.Millisecond)
		tr := bulk.Pause
		if i%2 == 1 {
			tr = bulk.Resume
		}
		if _, err := admin.Change(ctx, keep.ID, tr); err != nil && !errors.Is(err, bulk.ErrNotAllowed) {
			t.Fatal(err)
		}
	}
	cancelled, err := admin.Change(ctx, cancel.ID, bulk.Cancel)
	if err != nil && !errors.Is(err, bulk.ErrNotAllowed) {
		t.Fatal(err)
	}
	if _, err := admin.Change(ctx, keep.ID, bulk.Resume); err != nil && !errors.Is(err, bulk.ErrNotAllowed) {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, err := admin.Get(ctx, keep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Ended() || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	wg.Wait()

	got, _ := admin.Get(ctx, keep.ID)
	if got.Status != bulk.StatusSucceeded || got.Done != 3000 || got.PointsCredited != 10*3000 {
		t.Fatalf("bulk credit %+v, want SUCCEEDED with 3000 done", got)
	}
	if n, wrong := e.bulkEntries(t, keep.ID); n != 3000 || wrong != 0 {
		t.Fatalf("%d members credited, %d not exactly once", n, wrong)
	}
	c, _ := admin.Get(ctx, cancel.ID)
	n, wrong := e.bulkEntries(t, cancel.ID)
	if wrong != 0 || c.Done != int64(n) || c.PointsCredited != 11*int64(n) {
		t.Fatalf("cancelled %+v: %d members credited, %d not exactly once", c, n, wrong)
	}
	if cancelled.Status == bulk.StatusCancelled && (c.Status != bulk.StatusCancelled || c.Done != cancelled.Done) {
		t.Fatalf("cancelled with %d done, now %+v: chunks committed after the cancel", cancelled.Done, c)
	}
	t.Logf("cancelled at %d of 3000 (%s)", c.Done, c.Status)
	for _, b := range bs {
		if _, overlapping, _, _, _, _ := e.chunkRows(t, b.ID); overlapping != 0 {
			t.Fatalf("bulk credit %d: %d chunk rows overlap", b.ID, overlapping)
		}
	}
	// Nothing more happens to either.
	if _, err := admin.Work(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _ := e.bulkEntries(t, cancel.ID); again != n {
		t.Fatalf("%d credited after the cancel, then %d", n, again)
	}
	mustVerify(t, e.ledger)
}
