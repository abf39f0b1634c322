package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/tiers"
)

// onFreshDB is a ledger, with its tiers, on a fresh database.
func onFreshDB(t *testing.T, opts ...Option) *Service {
	t.Helper()
	pool := dbtest.NewPool(t)
	return NewService(pool, tiers.NewService(pool), opts...)
}

// A flood of concurrent posts is committed in batches, and every caller still gets
// its own answer: its entry, a refusal, or the first result of a duplicate.
func TestGroupCommitBatchesAndAnswersEachCaller(t *testing.T) {
	s := onFreshDB(t, WithGroupCommit(64, 1))
	ctx := context.Background()
	for _, m := range []string{"a", "b", "c"} {
		if _, _, err := s.Enroll(ctx, EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Earn(ctx, Actor{}, Earn{MemberID: "a", RequestID: "seed", Points: 50}); err != nil {
		t.Fatal(err)
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var redeemed, refused int
	dupIDs := map[int64]bool{}
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			switch i % 3 {
			case 0: // earns on b and c
				if _, err := s.Earn(ctx, Actor{}, Earn{MemberID: []string{"b", "c"}[i%2], RequestID: fmt.Sprintf("e%d", i), Points: 1}); err != nil {
					t.Errorf("earn: %v", err)
				}
			case 1: // redeems of 5 on a, which has 50: ten succeed
				_, err := s.Redeem(ctx, Actor{}, Redeem{MemberID: "a", RequestID: fmt.Sprintf("r%d", i), Points: 5})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					redeemed++
				case errors.Is(err, ErrInsufficientPoints):
					refused++
				default:
					t.Errorf("redeem: %v", err)
				}
			case 2: // twenty copies of one request
				res, err := s.Earn(ctx, Actor{}, Earn{MemberID: "c", RequestID: "dup", Points: 7})
				if err != nil {
					t.Errorf("duplicate: %v", err)
					return
				}
				mu.Lock()
				dupIDs[res.Entry.ID] = true
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()

	if redeemed != 10 || refused != 10 {
		t.Errorf("redeems: %d succeeded, %d refused; want 10 and 10", redeemed, refused)
	}
	if len(dupIDs) != 1 {
		t.Errorf("duplicates answered %d different entries, want 1", len(dupIDs))
	}
	c, err := s.Balance(ctx, "c")
	if err != nil || c.Available != 10+7 {
		t.Errorf("c has %+v (%v), want 10 earned once each plus 7 once", c, err)
	}
	var m dto.Metric
	if err := s.batchSize.Write(&m); err != nil {
		t.Fatal(err)
	}
	if h := m.GetHistogram(); h.GetSampleSum() <= float64(h.GetSampleCount()) {
		t.Errorf("no batch held more than one entry (%v entries in %d batches)", h.GetSampleSum(), h.GetSampleCount())
	}
	if v, err := s.Verify(ctx); err != nil || !v.OK {
		t.Fatalf("verify: %+v %v", v, err)
	}
}

// No caller waits for other callers' batches: a call that starts the first batch
// returns once its own batch is committed, even while a load that never lets the
// queue empty goes on.
func TestGroupCommitNeverMakesACallerWaitForOthers(t *testing.T) {
	s := onFreshDB(t, WithGroupCommit(4, 1))
	ctx := context.Background()
	for _, m := range []string{"bg", "fg"} {
		if _, _, err := s.Enroll(ctx, EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
	}
	stop, load := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.committer.beforeFlush = func(int) {
		// The first batch (the foreground call alone) lets the load in and gives it
		// time to fill the queue.
		once.Do(func() { close(load); time.Sleep(100 * time.Millisecond) })
	}
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-load
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Earn(ctx, Actor{}, Earn{MemberID: "bg", RequestID: fmt.Sprintf("bg%d-%d", w, i), Points: 1}); err != nil {
					t.Errorf("background earn: %v", err)
					return
				}
			}
		}()
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Earn(ctx, Actor{}, Earn{MemberID: "fg", RequestID: "fg", Points: 1})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(20 * time.Second):
		t.Error("the first caller is still flushing the others' batches")
	}
	close(stop)
	wg.Wait()
}

// waitForLockWaiters waits (bounded) until n statements of the database wait for a
// lock, and fails the test if they never do.
func waitForLockWaiters(t *testing.T, s *Service, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting int
		if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d statements wait for a lock, want %d", waiting, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A batch whose only caller gives up is cancelled in PostgreSQL too: no statement is
// left waiting for the lock, nothing is written, and the retry writes the entry once.
func TestGroupCommitCancelsABatchNobodyWaitsFor(t *testing.T) {
	s := onFreshDB(t, WithGroupCommit(64, 1))
	ctx := context.Background()
	if _, _, err := s.Enroll(ctx, EnrollMember{MemberID: "m"}); err != nil {
		t.Fatal(err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, "SELECT 1 FROM member_balances WHERE member_id = 'm' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	callCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := s.Earn(callCtx, Actor{}, Earn{MemberID: "m", RequestID: "gone", Points: 5}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("earn past its deadline: %v, want the deadline", err)
	}
	waitForLockWaiters(t, s, 0)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Balance(ctx, "m"); err != nil || b.Available != 0 {
		t.Fatalf("balance %+v (%v): the cancelled batch wrote", b, err)
	}
	res, err := s.Earn(ctx, Actor{}, Earn{MemberID: "m", RequestID: "gone", Points: 5})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := s.Balance(ctx, "m"); err != nil || b.Available != 5 || res.Entry.AvailableAfter != 5 {
		t.Fatalf("balance %+v (%v) after the retry, want 5 once", b, err)
	}
}

// A caller who gives up does not cancel the batch it shares with a caller still
// waiting: both entries commit together, and the leaver's retry answers its entry.
func TestGroupCommitKeepsABatchForTheCallersStillWaiting(t *testing.T) {
	// Without the lock-wait bound: with it, the two earns on the held member would
	// each be split off to wait alone (TestGroupCommitDoesNotHoldFreeMembersBehindAHeldOne),
	// and this is about the batch they share.
	s := onFreshDB(t, WithGroupCommit(64, 1), WithBatchLockWait(0))
	ctx := context.Background()
	for _, m := range []string{"m", "x"} {
		if _, _, err := s.Enroll(ctx, EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, "SELECT 1 FROM member_balances WHERE member_id = 'm' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	// The first batch (an earn on x) waits until both earns on m are queued, so
	// they make the next batch together.
	var once sync.Once
	flushing := make(chan struct{})
	s.committer.beforeFlush = func(batch int) {
		once.Do(func() {
			close(flushing)
			waitUntilSubmitted(s.committer, batch, 3)
		})
	}
	first := make(chan error, 1)
	go func() {
		_, err := s.Earn(ctx, Actor{}, Earn{MemberID: "x", RequestID: "x", Points: 1})
		first <- err
	}()
	// The earn on x is flushing (alone) before the earns on m are queued: on a
	// loaded machine a fixed sleep let them overtake it into one batch, which then
	// waited on m's lock with x in it, and the test waited for x forever.
	<-flushing
	leaverCtx, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancel()
	leaver := make(chan error, 1)
	go func() {
		_, err := s.Earn(leaverCtx, Actor{}, Earn{MemberID: "m", RequestID: "leaver", Points: 5})
		leaver <- err
	}()
	stayer := make(chan error, 1)
	go func() {
		_, err := s.Earn(ctx, Actor{}, Earn{MemberID: "m", RequestID: "stayer", Points: 7})
		stayer <- err
	}()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-leaver; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("leaver: %v, want its deadline", err)
	}
	waitForLockWaiters(t, s, 1) // the batch still waits, for the stayer
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-stayer; err != nil {
		t.Fatal(err)
	}
	if b, err := s.Balance(ctx, "m"); err != nil || b.Available != 12 {
		t.Fatalf("balance %+v (%v), want both entries (5 + 7) committed together", b, err)
	}
	res, err := s.Earn(ctx, Actor{}, Earn{MemberID: "m", RequestID: "leaver", Points: 5})
	if err != nil || res.Entry.AvailableAfter > 12 {
		t.Fatalf("retry of the leaver: %+v %v, want its committed entry", res.Entry, err)
	}
	if b, err := s.Balance(ctx, "m"); err != nil || b.Available != 12 {
		t.Fatalf("balance %+v (%v) after the retry, want still 12", b, err)
	}
}

// A member another transaction holds for long (a bulk credit's chunk) does not
// hold up the batch it lands in: the batch gives up waiting for the lock, is split,
// and the earns of the free members commit while the lock is still held; the held
// member's earn waits alone and commits once the lock is released. Every earn is
// written once and the books balance.
func TestGroupCommitDoesNotHoldFreeMembersBehindAHeldOne(t *testing.T) {
	s := onFreshDB(t, WithGroupCommit(64, 1), WithBatchLockWait(50*time.Millisecond))
	ctx := context.Background()
	free := make([]string, 20)
	for i := range free {
		free[i] = fmt.Sprintf("free%02d", i)
	}
	for _, m := range append([]string{"held"}, free...) {
		if _, _, err := s.Enroll(ctx, EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
	}
	splitsBefore := counterValue(t, s.lockSplits)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, "SELECT 1 FROM member_balances WHERE member_id = 'held' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	// The first batch waits until every earn is queued, so that the held member's
	// earns and the free members' share batches (the worst case: today's batch of
	// the held member's earn and 20 others).
	var once sync.Once
	s.committer.beforeFlush = func(batch int) {
		once.Do(func() { waitUntilSubmitted(s.committer, batch, len(free)+2) })
	}
	heldDone := make(chan error, 2)
	for i := range 2 {
		go func() {
			_, err := s.Earn(ctx, Actor{}, Earn{MemberID: "held", RequestID: fmt.Sprintf("held%d", i), Points: 3})
			heldDone <- err
		}()
	}
	freeDone := make(chan error, len(free))
	for i, m := range free {
		go func() {
			_, err := s.Earn(ctx, Actor{}, Earn{MemberID: m, RequestID: fmt.Sprintf("f%d", i), Points: 1})
			freeDone <- err
		}()
	}
	for range free {
		select {
		case err := <-freeDone:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the free members' earns wait behind the held member's lock")
		}
	}
	select {
	case err := <-heldDone:
		t.Fatalf("an earn of the held member answered (%v) while its row is locked", err)
	default:
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-heldDone; err != nil {
			t.Fatal(err)
		}
	}
	if got := counterValue(t, s.lockSplits) - splitsBefore; got < 1 {
		t.Errorf("lock splits %v, want at least one", got)
	}
	if b, err := s.Balance(ctx, "held"); err != nil || b.Available != 6 {
		t.Fatalf("held member's balance %+v (%v), want both earns (6)", b, err)
	}
	for _, m := range free {
		if b, err := s.Balance(ctx, m); err != nil || b.Available != 1 {
			t.Fatalf("%s: balance %+v (%v), want its one earn", m, b, err)
		}
	}
	if v, err := s.Verify(ctx); err != nil || !v.OK {
		t.Fatalf("verify: %+v %v", v, err)
	}
}

func counterValue(t *testing.T, c interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// A batch whose every member is held hands every command to a waiter (and none
// twice): each earn commits once the locks are released.
func TestGroupCommitBatchOfHeldMembersOnly(t *testing.T) {
	s := onFreshDB(t, WithGroupCommit(64, 1), WithBatchLockWait(50*time.Millisecond))
	ctx := context.Background()
	for _, m := range []string{"h1", "h2"} {
		if _, _, err := s.Enroll(ctx, EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, "SELECT 1 FROM member_balances WHERE member_id IN ('h1', 'h2') FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	s.committer.beforeFlush = func(batch int) {
		once.Do(func() { waitUntilSubmitted(s.committer, batch, 4) })
	}
	done := make(chan error, 4)
	for i := range 4 {
		go func() {
			_, err := s.Earn(ctx, Actor{}, Earn{MemberID: []string{"h1", "h2"}[i%2], RequestID: fmt.Sprintf("e%d", i), Points: 2})
			done <- err
		}()
	}
	waitForLockWaiters(t, s, 4) // every earn waits alone for its member
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []string{"h1", "h2"} {
		if b, err := s.Balance(ctx, m); err != nil || b.Available != 4 {
			t.Fatalf("%s: balance %+v (%v), want its two earns (4)", m, b, err)
		}
	}
}

// waitUntilSubmitted holds the first batch (of batch commands) until all total
// commands of a test are in it or queued behind it, for at most 20 s. The first
// batch may already hold more than the first command: the flusher takes whatever is
// queued when it starts, so counting the queue alone could wait for commands that
// are in the batch (and time out, which made the free-members test flaky under load).
func waitUntilSubmitted(c *committer, batch, total int) {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		c.mu.Lock()
		queued := len(c.queue)
		c.mu.Unlock()
		if batch+queued >= total {
			return
		}
	}
}
