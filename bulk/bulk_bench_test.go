package bulk_test

import (
	"fmt"
	"testing"

	"github.com/loyalty-engine/loyalty/bulk"
)

// BenchmarkBulkCreditParallel runs a bulk credit of b.N listed members (seeded by
// EnrollMany) through Service.Work, chunks of 5,000 with no yield, parallel
// chunks at once; ns/op is per member credited, members/s the rate. -count runs
// the settings in turn, so that the pairs alternate on a noisy machine. Beyond
// the 200,000 members a list may name, the bulk credit targets everyone (the
// seeded members are all there are), and the time includes its listing.
//
//	go test -run '^$' -bench BulkCreditParallel -benchtime 100000x -count 3 ./bulk/
//	go test -run '^$' -bench 'BulkCreditParallel/parallel=2$' -benchtime 1000000x -timeout 30m ./bulk/
func BenchmarkBulkCreditParallel(b *testing.B) {
	for _, at := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("parallel=%d", at), func(b *testing.B) {
			e := newEngine(b)
			ids := make([]string, b.N)
			for i := range ids {
				ids[i] = fmt.Sprintf("bench-%07d", i)
			}
			for start := 0; start < b.N; start += 50_000 {
				if _, err := e.ledger.EnrollMany(ctx, ids[start:min(start+50_000, b.N)]); err != nil {
					b.Fatal(err)
				}
			}
			s := bulk.NewService(e.pool, e.ledger, e.tiers, e.campaigns, e.clock, bulk.Options{Chunk: 5000, Parallel: at})
			target := bulk.Target{Members: members(ids)}
			if b.N > 200_000 {
				target = bulk.Target{All: true}
			}
			bc, err := s.Create(ctx, bulk.Create{RequestID: "bench", Points: 500, Reason: "bench", Target: target, ActorKeyID: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			credited, err := s.Work(ctx)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if got, _ := s.Get(ctx, bc.ID); credited != int64(b.N) || got.Status != bulk.StatusSucceeded || got.Done != int64(b.N) {
				b.Fatalf("credited %d, bulk credit %+v: want %d SUCCEEDED", credited, got, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "members/s")
		})
	}
}
