package ledger_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/loyalty-engine/loyalty/ledger"
)

// BenchmarkBulkCredit posts bulk credit chunks (one batch of the write path each)
// to members seeded by EnrollMany; ns/op is per member credited, members/s the rate.
//
//	go test -run '^$' -bench BulkCredit -benchtime 100000x ./ledger/
func BenchmarkBulkCredit(b *testing.B) {
	for _, chunk := range []int{1000, 5000} {
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
