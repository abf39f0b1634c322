package events_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
)

// BenchmarkQueueInABatch is the cost the ledger's write step pays: one statement
// writing a batch's events (64 entries of 64 members), in a batch with its commit.
func BenchmarkQueueInABatch(b *testing.B) {
	pool := dbtest.NewPool(b)
	ctx := context.Background()
	evs := make([]events.Event, 64)
	for i := range evs {
		evs[i] = earned(fmt.Sprintf("m%03d", i), 10)
	}
	for b.Loop() {
		var batch pgx.Batch
		batch.Queue("BEGIN")
		events.Queue(&batch, evs)
		batch.Queue("COMMIT")
		if err := pool.SendBatch(ctx, &batch).Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/64, "µs/event")
}
