package jobs_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/events"
)

// Events written by concurrent transactions, many members, two dispatchers and a
// receiver that fails one attempt in ten: every event arrives, each member's in
// order, and an accepted event is accepted once. LOYALTY_WEBHOOK_LOAD_EVENTS sets
// the number of events (default 10,000).
func TestWebhookConcurrentWritesArriveInMemberOrder(t *testing.T) {
	t.Parallel()
	total := 10_000
	if v, err := strconv.Atoi(os.Getenv("LOYALTY_WEBHOOK_LOAD_EVENTS")); err == nil && v > 0 {
		total = v
	}
	env := startWebhooks(t, fastRetry)
	startDispatcher(t, env) // a second dispatcher on the same database
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	rcv := newReceiver(t, func(int) int {
		mu.Lock()
		defer mu.Unlock()
		if rng.IntN(10) == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	_, secret := createEndpoint(t, env, rcv.srv.URL)
	rcv.setSecrets(secret)

	const writers, perTx, members = 8, 5, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for range total / writers / perTx {
				var evs []events.Event
				for range perTx {
					evs = append(evs, earned(fmt.Sprintf("m%02d", r.IntN(members)), 1))
				}
				if err := pgx.BeginFunc(context.Background(), env.Pool, func(tx pgx.Tx) error {
					return events.AppendTx(context.Background(), tx, evs...)
				}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := (total / writers / perTx) * writers * perTx
	got := rcv.waitFor(want)
	inMemberOrder(t, got)
	seen := map[string]bool{}
	for _, d := range got {
		if seen[d.ID] {
			t.Fatalf("event %s accepted twice", d.ID)
		}
		seen[d.ID] = true
	}
	if len(got) != want {
		t.Fatalf("accepted %d deliveries, want %d", len(got), want)
	}
}
