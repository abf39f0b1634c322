package campaigns_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/loyalty-engine/loyalty/campaigns"
)

// BenchmarkCouponDrop issues coupons of one campaign to distinct members from
// parallel callers: what a Double 11 drop does. Each issue is a transaction of its
// own that locks the campaign's budget (go test -bench CouponDrop -benchtime=2000x).
func BenchmarkCouponDrop(b *testing.B) {
	members := make([]string, b.N)
	for i := range members {
		members[i] = fmt.Sprintf("m%d", i)
	}
	e := newEngine(b, members...)
	c := e.launch(b, campaigns.Definition{
		DisplayName: "drop", Type: campaigns.TypeCouponDrop,
		Coupon: campaigns.CouponTemplate{Kind: campaigns.CouponAmountOff, AmountOffMinor: 1000, MinSpendMinor: 9900, ValidDays: 30},
		Budget: campaigns.Budget{Coupons: 1_000_000},
	})
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m := members[next.Add(1)-1]
			if _, err := e.campaigns.IssueCoupon(ctx, campaigns.IssueCoupon{MemberID: m, RequestID: "drop", CampaignID: c.ID}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCompensation reports after-sales events of distinct members to one
// COMPENSATION campaign (points and a coupon each) from parallel callers: a late
// Double 11 delivery wave (go test -bench Compensation -benchtime=2000x).
func BenchmarkCompensation(b *testing.B) {
	members := make([]string, b.N)
	for i := range members {
		members[i] = fmt.Sprintf("m%d", i)
	}
	e := newEngine(b, members...)
	e.launch(b, lateDelivery(campaigns.Budget{Points: 1_000_000_000, Coupons: 1_000_000}, campaigns.Cap{}))
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m := members[next.Add(1)-1]
			r, err := e.campaigns.Compensate(ctx, actor, campaigns.AfterSalesEvent{RequestID: "late", MemberID: m, OrderID: "o1",
				Type: "LATE_DELIVERY", DelayHours: 72})
			if err != nil || len(r.Grants) != 1 {
				b.Errorf("compensation of %s: %+v %v", m, r, err)
				return
			}
		}
	})
}
