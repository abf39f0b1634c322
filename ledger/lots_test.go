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

// setProgram puts settings in force: the defaults changed by edit.
func setProgram(t testing.TB, svc *ledger.Service, edit func(*ledger.Program)) ledger.Program {
	t.Helper()
	p, err := svc.Program(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	edit(&p)
	p, err = svc.UpdateProgram(context.Background(), actor, p)
	if err != nil {
		t.Fatalf("update program: %v", err)
	}
	return p
}

// remaining maps each of the member's lots, by the entry that opened it, to what is
// left of it.
func remaining(t testing.TB, svc *ledger.Service, member string) map[int64]int64 {
	t.Helper()
	lots, err := svc.Lots(context.Background(), member, true)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]int64{}
	for _, l := range lots {
		out[l.EntryID] += l.Remaining
	}
	return out
}

// Redemptions consume the lot expiring first, whatever the order the lots were
// opened in; among lots expiring together, the oldest first. A voided hold and a
// reversed redemption give their points back to the very lots they came from.
func TestLotsAreConsumedEarliestExpiryFirst(t *testing.T) {
	svc, clock := newLedger(t, "m")
	ctx := context.Background()
	clock.Set(time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))

	setProgram(t, svc, func(p *ledger.Program) { p.ExpiryKind, p.ExpiryDays = ledger.ExpiryRollingDays, 90 })
	late := mustEarn(t, svc, "m", "late", 100) // expires 2026-06-09
	setProgram(t, svc, func(p *ledger.Program) { p.ExpiryKind, p.ExpiryDays = ledger.ExpiryRollingDays, 30 })
	early1 := mustEarn(t, svc, "m", "early1", 50) // expires 2026-04-10, opened first
	early2 := mustEarn(t, svc, "m", "early2", 50) // same expiry, opened second

	b := balanceOf(t, svc, "m")
	if len(b.Expiring) != 2 || b.Expiring[0].Points != 100 || b.Expiring[1].Points != 100 ||
		!b.Expiring[0].ExpireTime.Equal(time.Date(2026, 4, 10, 0, 0, 0, 0, time.UTC)) ||
		!b.Expiring[1].ExpireTime.Equal(time.Date(2026, 6, 9, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("expiring %+v, want 100 on 2026-04-10 and 100 on 2026-06-09", b.Expiring)
	}

	r1, err := svc.Redeem(ctx, actor, ledger.Redeem{MemberID: "m", RequestID: "r1", Points: 70})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]int64{late.ID: 100, early1.ID: 0, early2.ID: 30}
	if got := remaining(t, svc, "m"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after redeeming 70: lots %v, want %v (earliest expiry, then oldest, first)", got, want)
	}
	moves, err := svc.LotMoves(ctx, r1.ID)
	if err != nil || len(moves) != 2 || moves[0].Points != -50 || moves[1].Points != -20 {
		t.Fatalf("the redemption's lot moves %+v (%v), want -50 then -20", moves, err)
	}

	hold, err := svc.CreateHold(ctx, actor, ledger.CreateHold{MemberID: "m", RequestID: "h", Points: 60})
	if err != nil {
		t.Fatal(err)
	}
	want = map[int64]int64{late.ID: 70, early1.ID: 0, early2.ID: 0}
	if got := remaining(t, svc, "m"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after holding 60: lots %v, want %v", got, want)
	}
	if _, err := svc.VoidHold(ctx, actor, ledger.VoidHold{HoldID: hold.Hold.ID, RequestID: "v"}); err != nil {
		t.Fatal(err)
	}
	want = map[int64]int64{late.ID: 100, early1.ID: 0, early2.ID: 30}
	if got := remaining(t, svc, "m"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after voiding the hold: lots %v, want %v (points back where they came from)", got, want)
	}
	if _, err := svc.Reverse(ctx, actor, ledger.Reverse{EntryID: r1.ID, RequestID: "rev", Reason: "mistake"}); err != nil {
		t.Fatal(err)
	}
	want = map[int64]int64{late.ID: 100, early1.ID: 50, early2.ID: 50}
	if got := remaining(t, svc, "m"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after reversing the redemption: lots %v, want %v", got, want)
	}

	// Reversing an earning takes its own lot first, even if another expires sooner.
	if _, err := svc.Reverse(ctx, actor, ledger.Reverse{EntryID: late.ID, RequestID: "rev-late", Reason: "mistake"}); err != nil {
		t.Fatal(err)
	}
	want = map[int64]int64{late.ID: 0, early1.ID: 50, early2.ID: 50}
	if got := remaining(t, svc, "m"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after reversing the late earning: lots %v, want %v", got, want)
	}
	mustVerify(t, svc)
}

// A partial capture keeps the captured points out of the lots and gives the rest
// back; reversing the capture gives the captured points back too.
func TestCaptureGivesBackTheRestToItsLots(t *testing.T) {
	svc, _ := newLedger(t, "m")
	ctx := context.Background()
	e := mustEarn(t, svc, "m", "e", 100)
	hold, err := svc.CreateHold(ctx, actor, ledger.CreateHold{MemberID: "m", RequestID: "h", Points: 80})
	if err != nil {
		t.Fatal(err)
	}
	capture, err := svc.CaptureHold(ctx, actor, ledger.CaptureHold{HoldID: hold.Hold.ID, RequestID: "c", Points: 30})
	if err != nil {
		t.Fatal(err)
	}
	if got := remaining(t, svc, "m")[e.ID]; got != 70 {
		t.Fatalf("lot after capturing 30 of 80 held: %d left, want 70", got)
	}
	if _, err := svc.Reverse(ctx, actor, ledger.Reverse{EntryID: capture.Entry.ID, RequestID: "rev", Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	if got := remaining(t, svc, "m"); len(got) != 1 || got[e.ID] != 100 {
		t.Fatalf("lots after reversing the capture: %v, want the one lot whole again", got)
	}
	mustVerify(t, svc)
}

// Expiry dates fall in the program's time zone: the end of the year after the year
// earned, or the end of the Nth day after the day earned, across month and year
// ends.
func TestLotExpiryFollowsTheProgramTimeZone(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		kind   string
		days   int32
		tz     string
		earned time.Time
		want   time.Time
	}{
		{"new year's eve UTC is already next year in Shanghai", ledger.ExpiryEndOfFollowingYear, 0, "Asia/Shanghai",
			time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC), time.Date(2029, 1, 1, 0, 0, 0, 0, shanghai)},
		{"same instant in UTC is still this year", ledger.ExpiryEndOfFollowingYear, 0, "UTC",
			time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC), time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"rolling days across a month end", ledger.ExpiryRollingDays, 30, "Asia/Shanghai",
			time.Date(2026, 1, 31, 20, 0, 0, 0, time.UTC), time.Date(2026, 3, 4, 0, 0, 0, 0, shanghai)}, // earned Feb 1 local
		{"rolling days across a year end", ledger.ExpiryRollingDays, 1, "UTC",
			time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC), time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"rolling days over a leap day", ledger.ExpiryRollingDays, 1, "UTC",
			time.Date(2028, 2, 28, 10, 0, 0, 0, time.UTC), time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC)},
	}
	svc, clock := newLedger(t)
	ctx := context.Background()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			setProgram(t, svc, func(p *ledger.Program) { p.ExpiryKind, p.ExpiryDays, p.TimeZone = c.kind, c.days, c.tz })
			member := fmt.Sprintf("m%d", i)
			if _, _, err := svc.Enroll(ctx, ledger.EnrollMember{MemberID: member}); err != nil {
				t.Fatal(err)
			}
			clock.Set(c.earned)
			mustEarn(t, svc, member, "e", 10)
			b := balanceOf(t, svc, member)
			if len(b.Expiring) != 1 || !b.Expiring[0].ExpireTime.Equal(c.want) {
				t.Fatalf("expiring %+v, want 10 at %s", b.Expiring, c.want)
			}
			// Nothing expires a moment before the date; everything at it.
			clock.Advance(c.want.Sub(c.earned) - time.Second)
			if n, err := svc.ExpireLots(ctx, 100); err != nil || n != 0 {
				t.Fatalf("a second before expiry: expired %d (%v)", n, err)
			}
			clock.Advance(time.Second)
			if n, err := svc.ExpireLots(ctx, 100); err != nil || n != 1 {
				t.Fatalf("at expiry: expired %d members (%v), want 1", n, err)
			}
			if b := balanceOf(t, svc, member); b.Available != 0 || len(b.Expiring) != 0 {
				t.Fatalf("balance after expiry %+v", b)
			}
		})
	}
	mustVerify(t, svc)
}

// Racing expiry runs (several replicas) expire each due lot once and nothing else,
// while members redeem, hold and earn: whoever comes second finds nothing left.
func TestRacingExpiryRunsExpireEachLotOnce(t *testing.T) {
	const members = 40
	svc, clock := newLedger(t)
	ctx := context.Background()
	setProgram(t, svc, func(p *ledger.Program) { p.ExpiryKind, p.ExpiryDays = ledger.ExpiryRollingDays, 10 })
	for i := 0; i < members; i++ {
		m := fmt.Sprintf("m%02d", i)
		if _, _, err := svc.Enroll(ctx, ledger.EnrollMember{MemberID: m}); err != nil {
			t.Fatal(err)
		}
		mustEarn(t, svc, m, "old", 100) // expires in 11 days
	}
	clock.Advance(5 * 24 * time.Hour)
	for i := 0; i < members; i++ {
		mustEarn(t, svc, fmt.Sprintf("m%02d", i), "new", 40) // expires in 16 days
	}
	clock.Advance(6 * 24 * time.Hour) // the 100s are due, the 40s are not

	var wg sync.WaitGroup
	var expired atomic.Int64
	var redeemed atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := svc.ExpireLots(ctx, 3)
				if err != nil {
					t.Errorf("expire: %v", err)
					return
				}
				expired.Add(int64(n))
				if n == 0 {
					return
				}
			}
		}()
	}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < members; i += 4 {
				m := fmt.Sprintf("m%02d", i)
				// Redeem 30: from the due lot if it comes first, else from the new one.
				if _, err := svc.Redeem(ctx, actor, ledger.Redeem{MemberID: m, RequestID: "r", Points: 30}); err == nil {
					redeemed.Add(30)
				} else {
					t.Errorf("redeem %s: %v", m, err)
				}
			}
		}(w)
	}
	wg.Wait()
	// Whatever the interleaving, each member ends with at most its 40 new points,
	// and the due points not redeemed are breakage, once.
	var available int64
	for i := 0; i < members; i++ {
		b := balanceOf(t, svc, fmt.Sprintf("m%02d", i))
		if b.Available != 40 && b.Available != 10 {
			t.Errorf("member %d has %d available, want 40 (redeemed from the due lot) or 10 (after expiry)", i, b.Available)
		}
		available += b.Available
	}
	if n, err := svc.ExpireLots(ctx, 100); err != nil || n != 0 {
		t.Fatalf("a last run found %d members still due (%v)", n, err)
	}
	breakage := rolledUpSystemBalance(t, svc, ledger.AccountBreakage)
	if expired.Load() != members {
		t.Errorf("%d members expired, want each of the %d once", expired.Load(), members)
	}
	if breakage+available+redeemed.Load() != members*140 {
		t.Errorf("breakage %d + available %d + redeemed %d != %d issued", breakage, available, redeemed.Load(), members*140)
	}
	mustVerify(t, svc)
}

// A member in debt (a refund clawed back points already spent) repays it with the
// next earnings before any lot opens; lots never hold more than the balance.
func TestEarningsRepayDebtBeforeOpeningALot(t *testing.T) {
	svc, clock := newLedger(t, "m")
	ctx := context.Background()
	setProgram(t, svc, func(p *ledger.Program) { p.ReturnWindowDays = 0 })
	if _, err := svc.Earn(ctx, actor, ledger.Earn{MemberID: "m", RequestID: "o", OrderID: "order-1", SpendMinor: 10000, Currency: "CNY"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Redeem(ctx, actor, ledger.Redeem{MemberID: "m", RequestID: "r", Points: 80}); err != nil {
		t.Fatal(err)
	}
	res, err := svc.RefundOrder(ctx, actor, ledger.Refund{MemberID: "m", OrderID: "order-1", RequestID: "refund"})
	if err != nil {
		t.Fatal(err)
	}
	if res.PointsClawedBack != 100 || balanceOf(t, svc, "m").Available != -80 {
		t.Fatalf("refund %+v, balance %+v: want 100 clawed back and a debt of 80", res, balanceOf(t, svc, "m"))
	}
	mustVerify(t, svc)
	clock.Advance(time.Hour)
	e := mustEarn(t, svc, "m", "e1", 50)
	if got := remaining(t, svc, "m")[e.ID]; got != 0 || balanceOf(t, svc, "m").Available != -30 {
		t.Fatalf("after earning 50 in debt of 80: lot %d, balance %d; want no lot and -30", got, balanceOf(t, svc, "m").Available)
	}
	e = mustEarn(t, svc, "m", "e2", 50)
	if got := remaining(t, svc, "m")[e.ID]; got != 20 {
		t.Fatalf("after repaying the debt: lot of %d, want the 20 above zero", got)
	}
	if _, err := svc.Redeem(ctx, actor, ledger.Redeem{MemberID: "m", RequestID: "r2", Points: 21}); err == nil {
		t.Fatal("redeemed more than the 20 left after the debt")
	}
	mustVerify(t, svc)
}

// The liability report splits outstanding points by expiry month in the program's
// time zone and agrees with the system accounts, through pending, holds, debt,
// goodwill and expiry.
func TestLiabilityByExpiryMonthAgreesWithTheBooks(t *testing.T) {
	svc, clock := newLedger(t, "a", "b", "c")
	ctx := context.Background()
	clock.Set(time.Date(2026, 12, 31, 18, 0, 0, 0, time.UTC)) // 2027-01-01 02:00 in Shanghai
	setProgram(t, svc, func(p *ledger.Program) { p.TimeZone = "Asia/Shanghai" })
	mustEarn(t, svc, "a", "e", 300)     // expires 2029-01-01 00:00 Shanghai: month 2028-12
	earnOrder(t, svc, "b", "o1", 20000) // 200 pending, same expiry
	if _, err := svc.CreateHold(ctx, actor, ledger.CreateHold{MemberID: "a", RequestID: "h", Points: 50}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.GrantGoodwill(ctx, actor, ledger.GrantGoodwill{MemberID: "c", RequestID: "g", Points: 40, ReasonCode: "LATE_DELIVERY", TicketID: "T-1"}); err != nil {
		t.Fatal(err)
	}
	setProgram(t, svc, func(p *ledger.Program) {
		p.ExpiryKind, p.ExpiryDays, p.ReturnWindowDays = ledger.ExpiryRollingDays, 10, 0
	})
	mustEarn(t, svc, "c", "short", 25) // expires 2027-01-12 Shanghai
	earnOrder(t, svc, "c", "o2", 1000) // 10 available at once
	// 10 of the short lot redeemed; the refund claws back o2's own 10; 15 of the
	// short lot are left to expire.
	if _, err := svc.Redeem(ctx, actor, ledger.Redeem{MemberID: "c", RequestID: "r", Points: 10}); err != nil {
		t.Fatal(err)
	}
	refund(t, svc, "c", "o2", "refund", 0)
	clock.Advance(12 * 24 * time.Hour)
	if _, err := svc.ExpireLots(ctx, 100); err != nil {
		t.Fatal(err)
	}

	l, err := svc.Liability(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Consistent || l.TimeZone != "Asia/Shanghai" {
		t.Fatalf("report not consistent: %+v", l)
	}
	var a, c, bal int64
	for _, m := range []string{"a", "b", "c"} {
		b := balanceOf(t, svc, m)
		a += b.Available
		bal += b.Available + b.Pending + b.Held
		if m == "c" {
			c = b.Available
		}
	}
	if l.Available != a || l.Pending != 200 || l.Held != 50 || l.Outstanding != bal {
		t.Fatalf("totals %+v, want available %d, pending 200, held 50, outstanding %d", l, a, bal)
	}
	months := map[string]ledger.MonthLiability{}
	for _, m := range l.ByExpiryMonth {
		months[m.Month] = m
	}
	// a's 250 left of 300 and b's 200 pending expire at the end of 2028, Shanghai
	// time; c's goodwill too (end of the year after 2027).
	if got := months["2028-12"]; got.Available != 250+c || got.Pending != 200 || len(months) != 1 {
		t.Fatalf("by month %+v, want 2028-12 with %d available and 200 pending only", l.ByExpiryMonth, 250+c)
	}
	if l.Goodwill != 40 || l.Issued != 300+200+25+10-10 || l.Expired != 15 || l.Redeemed != 10 || c != 40 {
		t.Fatalf("system totals issued %d redeemed %d expired %d goodwill %d", l.Issued, l.Redeemed, l.Expired, l.Goodwill)
	}
	mustVerify(t, svc)
}
