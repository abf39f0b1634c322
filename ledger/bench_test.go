package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/loyalty-engine/loyalty/ledger"
)

// Benchmarks of the write path against the test cluster (fsync off: these measure
// the engine's own cost; `make bench` measures durable throughput end to end).
//
//	go test -run '^$' -bench . -benchtime 5s ./ledger/

const benchMembers = 1000

func benchLedger(b *testing.B) *ledger.Service {
	b.Helper()
	members := make([]string, benchMembers)
	for i := range members {
		members[i] = fmt.Sprintf("bench-%d", i)
	}
	svc, _ := newLedger(b, members...)
	return svc
}

// BenchmarkEarnParallel earns for random members of 1,000, on a program of 1,000
// members and on one of 200,000 (seeded through EnrollMany, b.N-independent): a
// batch's reads must cost what its members do, not what the program holds.
func BenchmarkEarnParallel(b *testing.B) {
	for _, enrolled := range []int{benchMembers, 200_000} {
		b.Run(fmt.Sprintf("enrolled=%d", enrolled), func(b *testing.B) {
			svc := benchLedger(b)
			if enrolled > benchMembers {
				seedMembers(b, svc, "idle", enrolled-benchMembers)
			}
			var seq atomic.Int64
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(uint64(seq.Add(1)), 1))
				for pb.Next() {
					n := seq.Add(1)
					_, err := svc.Earn(context.Background(), actor, ledger.Earn{
						MemberID: fmt.Sprintf("bench-%d", r.IntN(benchMembers)), RequestID: fmt.Sprintf("b%d", n), Points: 10})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func BenchmarkEarnOneHotMember(b *testing.B) {
	svc := benchLedger(b)
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, err := svc.Earn(context.Background(), actor, ledger.Earn{MemberID: "bench-0", RequestID: fmt.Sprintf("b%d", seq.Add(1)), Points: 10})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkBalanceParallel(b *testing.B) {
	svc := benchLedger(b)
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 1))
		for pb.Next() {
			if _, err := svc.Balance(context.Background(), fmt.Sprintf("bench-%d", r.IntN(benchMembers))); err != nil {
				b.Fatal(err)
			}
		}
	})
}
