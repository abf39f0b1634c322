package tiers_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/loyalty-engine/loyalty/ledger"
)

// Benchmarks of the tier reads against the test cluster (fsync off). `make bench`
// measures GET perks end to end (rest-perks, p99 under 32 clients).
//
//	go test -run '^$' -bench . -benchtime 5s ./tiers/

const benchMembers = 500

// BenchmarkPerksParallel reads the perks of members who each earned on 30 orders
// over 30 days (30 metric rows in the window) and reached gold.
func BenchmarkPerksParallel(b *testing.B) {
	members := make([]string, benchMembers)
	for i := range members {
		members[i] = fmt.Sprintf("bench-%d", i)
	}
	svc, ts, clock := newEngine(b, members...)
	for d := range 30 {
		for _, m := range members {
			id := fmt.Sprintf("o%d", d)
			if _, err := svc.Earn(ctx, actor, ledger.Earn{MemberID: m, RequestID: id, OrderID: id, SpendMinor: 20_000, Currency: "CNY"}); err != nil {
				b.Fatal(err)
			}
		}
		clock.Advance(day)
	}
	if p := perks(b, ts, members[0]); p.Tier.ID != "gold" {
		b.Fatalf("bench members are %s, want gold", p.Tier.ID)
	}
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 1))
		for pb.Next() {
			if _, err := ts.Perks(ctx, members[r.IntN(benchMembers)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
