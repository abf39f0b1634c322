package campaigns_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/events"
)

// statusMoves are the campaign's status events, as "FROM>TO@time".
func statusMoves(t *testing.T, e engine, id string) []string {
	t.Helper()
	feed, err := events.NewStore(e.pool).List(ctx, events.Filter{Types: []events.Type{events.CampaignStatusChanged}, Limit: events.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range feed {
		var d events.CampaignData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.CampaignID == id {
			out = append(out, d.FromStatus+">"+d.Status+"@"+ev.OccurTime.UTC().Format(time.RFC3339))
		}
	}
	return out
}

// A campaign's status events tell its effective status once per move: activated
// before its start it is SCHEDULED, and the schedule job tells ACTIVE at the start
// and ENDED at the end, at the instants they happened, however late it runs; one
// activated after its start is ACTIVE at once, and the job's catching up on the
// stored status tells nothing again.
func TestStatusEventsTellTheEffectiveStatus(t *testing.T) {
	e := newEngine(t, "m")
	start := time.Date(2026, 11, 10, 16, 0, 0, 0, time.UTC)
	end := start.Add(24 * time.Hour)
	e.clock.Set(start.Add(-time.Hour))
	early := e.launch(t, double11())
	e.clock.Set(start.Add(time.Hour))
	late := e.launch(t, double11())
	advance := func(at time.Time) {
		e.clock.Set(at)
		if _, err := e.campaigns.AdvanceSchedules(ctx); err != nil {
			t.Fatal(err)
		}
	}
	advance(start.Add(2 * time.Hour)) // both move to ACTIVE in storage
	advance(end.Add(3 * time.Hour))   // both end
	at := func(t time.Time) string { return t.Format(time.RFC3339) }
	for _, tc := range []struct {
		c    campaigns.Campaign
		want []string
	}{
		{early, []string{"DRAFT>SCHEDULED@" + at(start.Add(-time.Hour)), "SCHEDULED>ACTIVE@" + at(start), "ACTIVE>ENDED@" + at(end)}},
		{late, []string{"DRAFT>ACTIVE@" + at(start.Add(time.Hour)), "ACTIVE>ENDED@" + at(end)}},
	} {
		if got := statusMoves(t, e, tc.c.ID); !slices.Equal(got, tc.want) {
			t.Errorf("campaign %s: status events %v, want %v", tc.c.ID, got, tc.want)
		}
	}
}

// A budget that runs out is told once, with what it had and spent, however many
// grants race for its end, through the group commit's lanes and the coupon drops'.
func TestBudgetExhaustedIsToldOnce(t *testing.T) {
	members := []string{"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"}
	e := newEngine(t, members...)
	pts := e.launch(t, campaigns.Definition{DisplayName: "Bonus", Type: campaigns.TypeBonus, BonusPoints: 100,
		Budget: campaigns.Budget{Points: 1000}})
	drop := e.launch(t, campaigns.Definition{DisplayName: "Drop", Type: campaigns.TypeCouponDrop,
		Coupon: campaigns.CouponTemplate{Kind: campaigns.CouponFreeShipping, ValidDays: 30}, Budget: campaigns.Budget{Coupons: 5}})
	var wg sync.WaitGroup
	for i := range 40 {
		m := members[i%len(members)]
		wg.Go(func() { e.order(t, m, fmt.Sprintf("o%d", i), 10_000) })
		wg.Go(func() {
			_, err := e.campaigns.IssueCoupon(ctx, campaigns.IssueCoupon{MemberID: m, RequestID: fmt.Sprintf("d%d", i), CampaignID: drop.ID})
			if err != nil && !errors.Is(err, campaigns.ErrBudgetExhausted) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	feed, err := events.NewStore(e.pool).List(ctx, events.Filter{Types: []events.Type{events.CampaignBudgetSpent}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	told := map[string]events.CampaignData{}
	for _, ev := range feed {
		var d events.CampaignData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		if _, twice := told[d.CampaignID]; twice {
			t.Errorf("campaign %s told twice", d.CampaignID)
		}
		told[d.CampaignID] = d
	}
	if d, ok := told[pts.ID]; !ok || d.Budget != 1000 || d.Spent != 1000 {
		t.Errorf("points campaign: %+v (told %v), want budget and spent 1000", d, ok)
	}
	if _, ok := told[drop.ID]; !ok || len(told) != 2 {
		t.Errorf("budget events %+v, want one per campaign", told)
	}
}

// A coupon whose validity ends unredeemed is told expired once, at the instant it
// ended; a redeemed one is not.
func TestExpiredCouponsAreToldOnce(t *testing.T) {
	e := newEngine(t, "m")
	drop := e.launch(t, campaigns.Definition{DisplayName: "Drop", Type: campaigns.TypeCouponDrop,
		Coupon: campaigns.CouponTemplate{Kind: campaigns.CouponFreeShipping, ValidDays: 1}})
	kept, err := e.campaigns.IssueCoupon(ctx, campaigns.IssueCoupon{MemberID: "m", RequestID: "c1", CampaignID: drop.ID})
	if err != nil {
		t.Fatal(err)
	}
	used, err := e.campaigns.IssueCoupon(ctx, campaigns.IssueCoupon{MemberID: "m", RequestID: "c2", CampaignID: drop.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.campaigns.RedeemCoupon(ctx, campaigns.RedeemCoupon{Code: used.Code, RequestID: "r", MemberID: "m", OrderID: "o"}); err != nil {
		t.Fatal(err)
	}
	tell := func(want int) {
		t.Helper()
		if n, err := e.campaigns.TellExpiredCoupons(ctx, 100); err != nil || n != want {
			t.Fatalf("told %d expired coupons (%v), want %d", n, err, want)
		}
	}
	tell(0)
	e.clock.Advance(2 * 24 * time.Hour)
	tell(1)
	tell(0)
	feed, err := events.NewStore(e.pool).List(ctx, events.Filter{Types: []events.Type{events.CouponExpired}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(feed) != 1 || feed[0].MemberID != "m" || !feed[0].OccurTime.Equal(kept.ValidUntil) {
		t.Fatalf("expiry events %+v, want one for %s at %s", feed, kept.Code, kept.ValidUntil)
	}
	var d events.CouponData
	if err := json.Unmarshal(feed[0].Data, &d); err != nil || d.Code != kept.Code || d.CampaignID != drop.ID {
		t.Fatalf("data %+v (%v), want coupon %s of %s", d, err, kept.Code, drop.ID)
	}
}
