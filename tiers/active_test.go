package tiers_test

import (
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/dbtest"
	"github.com/loyalty-engine/loyalty/internal/fakeclock"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

// The reads take every membership not over by an instant and Membership.ActiveAt
// decides: the start counts, the end and the cancellation do not, a membership to
// come gives nothing yet. The standing (member reads, entitlements, earnings), the
// perks and the ledger's member read agree at each edge.
func TestMembershipIsActiveFromItsStartUntilItsEndOrCancellation(t *testing.T) {
	pool := dbtest.NewPool(t)
	clock := fakeclock.At(time.Now().Truncate(time.Microsecond)) // PostgreSQL keeps microseconds
	ts := tiers.NewService(pool, tiers.WithClock(clock))
	svc := ledger.NewService(pool, ts, ledger.WithClock(clock))
	if _, _, err := svc.Enroll(ctx, ledger.EnrollMember{MemberID: "m"}); err != nil {
		t.Fatal(err)
	}
	t0 := clock.Now()
	buy := func(req, tier string, start, end time.Time) tiers.Membership {
		t.Helper()
		m, err := ts.BuyMembership(ctx, "key_app", tiers.BuyMembership{MemberID: "m", RequestID: req, TierID: tier, StartTime: start, EndTime: end})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	plat := buy("plat", "platinum", t0, t0.Add(5*day))
	gold := buy("gold", "gold", t0.Add(10*day), t0.Add(20*day))
	wantPerks(t, ts, "platinum", plat.ID)

	clock.Advance(2 * day)
	if _, err := ts.CancelMembership(ctx, "m", plat.ID); err != nil {
		t.Fatal(err)
	}
	wantPerks(t, ts, "member", 0)

	p, err := ts.Policy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-time.Microsecond), "member"},
		{t0, "platinum"},
		{t0.Add(2*day - time.Microsecond), "platinum"},
		{t0.Add(2 * day), "member"}, // cancelled then, before its end
		{t0.Add(10*day - time.Microsecond), "member"},
		{t0.Add(10 * day), "gold"},
		{t0.Add(20*day - time.Microsecond), "gold"},
		{t0.Add(20 * day), "member"},
	} {
		st, err := ts.StandingAt(ctx, pool, p, "m", c.at)
		if err != nil {
			t.Fatal(err)
		}
		if st.TierID != c.want || st.Paid != (c.want != "member") {
			t.Errorf("standing at t0%+v: %s (paid %v), want %s", c.at.Sub(t0), st.TierID, st.Paid, c.want)
		}
	}

	clock.Advance(8 * day) // t0+10d: the membership to come starts
	wantPerks(t, ts, "gold", gold.ID)
	if m, err := svc.Member(ctx, "m"); err != nil || m.TierID != "gold" {
		t.Fatalf("member read: %+v %v, want gold", m, err)
	}
	clock.Advance(10 * day) // t0+20d: it is over
	wantPerks(t, ts, "member", 0)
	if m, err := svc.Member(ctx, "m"); err != nil || m.TierID != "member" {
		t.Fatalf("member read after the membership: %+v %v, want member", m, err)
	}
}

// wantPerks checks the perks' tier now and the membership that gives it (0: none).
func wantPerks(t *testing.T, ts *tiers.Service, tier string, membershipID int64) {
	t.Helper()
	p := perks(t, ts, "m")
	var got int64
	if p.Membership != nil {
		got = p.Membership.ID
	}
	if p.Tier.ID != tier || p.Paid != (membershipID != 0) || got != membershipID {
		t.Fatalf("perks: tier %s paid %v membership %d, want %s from membership %d", p.Tier.ID, p.Paid, got, tier, membershipID)
	}
}
