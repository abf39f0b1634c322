package ledger_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/fakeclock"
	"github.com/loyalty-engine/loyalty/ledger"
)

// The ledger's part of an import alone, batch after batch (docs/BENCHMARKS.md,
// "Imports and exports (session 7)"):
//
//	go test -run '^$' -bench 'Open' -benchtime 20x ./ledger/
//	OPEN_BATCH=5000 go test -run '^$' -bench 'Open' -benchtime 4x ./ledger/
//
// Each op is a batch of 2,000 members (OPEN_BATCH), each opened with a balance and
// a metric.
func BenchmarkOpen(b *testing.B) {
	clock := fakeclock.At(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	svc, _ := newLedgerOnPool(b, clock)
	size := 2000
	if n, err := strconv.Atoi(os.Getenv("OPEN_BATCH")); err == nil && n > 0 {
		size = n
	}
	batch := make([]ledger.Opening, size)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		for j := range batch {
			batch[j] = ledger.Opening{MemberID: fmt.Sprintf("b%04d-%05d", i, j), DisplayName: "Member", Points: int64(100 + j), Metric: int64(j)}
		}
		res, err := svc.Open(context.Background(), batch)
		if err != nil || res[0].Status != ledger.OpeningImported {
			b.Fatal(err, res[0])
		}
	}
	b.ReportMetric(float64(b.N*size)/time.Since(start).Seconds(), "rows/s")
}
