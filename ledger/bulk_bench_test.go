package ledger_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/ledger"
)

// BenchmarkBulkCredit posts bulk credit chunks (one batch of the write path each)
// to members seeded by EnrollMany; ns/op is per member credited, members/s the rate.
//
//	go test -run '^$' -bench BulkCredit -benchtime 100000x ./ledger/
func BenchmarkBulkCredit(b *testing.B) {
	for _, chunk := range []int{1000, 5000, 10000} {
		b.Run(fmt.Sprintf("chunk=%d", chunk), func(b *testing.B) {
			svc, _ := newLedger(b)
			ctx := context.Background()
			ids := seedMembers(b, svc, "bulk", b.N)
			b.ResetTimer()
			for start := 0; start < len(ids); start += chunk {
				end := min(start+chunk, len(ids))
				credits := make([]ledger.BulkMemberCredit, 0, end-start)
				for _, id := range ids[start:end] {
					credits = append(credits, ledger.BulkMemberCredit{MemberID: id, Points: 500})
				}
				res, err := svc.PostBulkChunk(ctx, ledger.BulkChunk{BulkCreditID: 1, Credits: credits, Memo: "bench", ActorKeyID: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range res {
					if r.Failed() {
						b.Fatalf("%s: %s", r.MemberID, r.Message)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "members/s")
		})
	}
}

// seedMembers enrolls n members through the seeding path, in statements of 50,000.
func seedMembers(tb testing.TB, svc *ledger.Service, prefix string, n int) []string {
	tb.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%07d", prefix, i)
	}
	for start := 0; start < n; start += 50_000 {
		if _, err := svc.EnrollMany(context.Background(), ids[start:min(start+50_000, n)]); err != nil {
			tb.Fatal(err)
		}
	}
	return ids
}

// BenchmarkExpiryNight is 1 January: every member's points expire at the same
// instant. It times the jobs' own sweeps (what internal/jobs' workers run, chunks
// of 5,000): the reminders 30 days before (RemindAllExpiring) and the expiry
// (ExpireAllDue), with 1 or 2 sweepers at once (--night-parallel, default 2), for
// b.N members, reported as members/s of each; ns/op is the expiry's.
//
//	go test -run '^$' -bench ExpiryNight -benchtime 100000x ./ledger/
func BenchmarkExpiryNight(b *testing.B) {
	for _, parallel := range []int{1, 2} {
		b.Run(fmt.Sprintf("parallel=%d", parallel), func(b *testing.B) {
			night := ledger.NightSweep{PerTx: 5000, Parallel: parallel}
			svc, clock := newLedger(b)
			ctx := context.Background()
			ids := seedMembers(b, svc, "night", b.N)
			expire := clock.Now().Add(40 * 24 * time.Hour)
			for start := 0; start < len(ids); start += 10_000 {
				credits := make([]ledger.BulkMemberCredit, 0, 10_000)
				for _, id := range ids[start:min(start+10_000, len(ids))] {
					credits = append(credits, ledger.BulkMemberCredit{MemberID: id, Points: 500})
				}
				if _, err := svc.PostBulkChunk(ctx, ledger.BulkChunk{BulkCreditID: 1, Credits: credits, Memo: "seed", ActorKeyID: "bench", LotExpire: expire}); err != nil {
					b.Fatal(err)
				}
			}
			clock.Advance(10 * 24 * time.Hour) // 30 days before
			began := time.Now()
			reminded, err := svc.RemindAllExpiring(ctx, night)
			if err != nil {
				b.Fatal(err)
			}
			remindTime := time.Since(began)
			if reminded != len(ids) {
				b.Fatalf("%d reminders sent, want %d", reminded, len(ids))
			}
			clock.Advance(31 * 24 * time.Hour)
			b.ResetTimer()
			expired, err := svc.ExpireAllDue(ctx, night)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if expired != len(ids) {
				b.Fatalf("%d members' points expired, want %d", expired, len(ids))
			}
			b.ReportMetric(float64(expired)/b.Elapsed().Seconds(), "expiries/s")
			b.ReportMetric(b.Elapsed().Seconds(), "expiry-s")
			// After ResetTimer, which clears metrics.
			b.ReportMetric(float64(reminded)/remindTime.Seconds(), "reminders/s")
			b.ReportMetric(remindTime.Seconds(), "remind-s")
		})
	}
}

// BenchmarkBulkCreditChunksAtOnce posts chunks of 5,000 from one goroutine or two
// at once (disjoint members, as two chunks of one bulk credit would be): whether
// chunks in parallel would pay for per-slot progress rows (today each chunk locks
// its bulk credit's progress row, so two chunks of one bulk credit serialize).
// members/s is the rate; run it with -count to get same-run pairs.
//
//	go test -run '^$' -bench BulkCreditChunksAtOnce -benchtime 40000x -count 3 ./ledger/
func BenchmarkBulkCreditChunksAtOnce(b *testing.B) {
	const chunk = 5000
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			svc, _ := newLedger(b)
			ctx := context.Background()
			ids := seedMembers(b, svc, "par", b.N)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						start := int(next.Add(chunk)) - chunk
						if start >= len(ids) {
							return
						}
						credits := make([]ledger.BulkMemberCredit, 0, chunk)
						for _, id := range ids[start:min(start+chunk, len(ids))] {
							credits = append(credits, ledger.BulkMemberCredit{MemberID: id, Points: 500})
						}
						if _, err := svc.PostBulkChunk(ctx, ledger.BulkChunk{BulkCreditID: 1, Credits: credits, Memo: "bench", ActorKeyID: "bench"}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "members/s")
		})
	}
}
