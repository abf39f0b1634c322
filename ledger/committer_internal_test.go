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
)

// A flood of concurrent posts is committed in batches, and every caller still gets
// its own answer: its entry, a refusal, or the first result of a duplicate.
func TestGroupCommitBatchesAndAnswersEachCaller(t *testing.T) {
	s := NewService(dbtest.NewPool(t), WithGroupCommit(64, 1))
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
	s := NewService(dbtest.NewPool(t), WithGroupCommit(4, 1))
	ctx := context.Background()
	for _, m := range []string{"bg", "fg"} {
		if _, _, err := s.Enroll(ctx, EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
	}
	stop, load := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.committer.beforeFlush = func() {
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
