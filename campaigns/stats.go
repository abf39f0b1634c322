package campaigns

import (
	"context"
	"fmt"
	"sort"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
	"github.com/loyalty-engine/loyalty/internal/database"
)

// Day is what a campaign gave on one day ("2026-11-11" in Stats.TimeZone).
type Day struct {
	Day             string
	Points, Grants  int64
	CouponsIssued   int64
	CouponsRedeemed int64
}

// Stats is what a campaign gave by day, and its coupons as they stand.
type Stats struct {
	CampaignID string
	// TimeZone is the schedule's, else the program's: the days fall in it.
	TimeZone string
	Days     []Day
	// Coupons issued in all; of them redeemed, revoked, and expired unused.
	CouponsIssued, CouponsRedeemed, CouponsRevoked, CouponsExpired int64
}

// Stats reads a campaign's days: its ledger account's payouts (the ledger's) and
// its coupons (ours), merged by day.
func (s *Service) Stats(ctx context.Context, id string) (Stats, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return Stats{}, err
	}
	tz := c.Schedule.TimeZone
	if tz == "" {
		prog, err := s.ledger.Program(ctx)
		if err != nil {
			return Stats{}, err
		}
		tz = prog.TimeZone
	}
	st := Stats{CampaignID: c.ID, TimeZone: tz}
	points, err := s.ledger.CampaignDays(ctx, c.ID, tz)
	if err != nil {
		return Stats{}, err
	}
	coupons, err := s.q.CampaignCouponDays(ctx, database.ReadPool(ctx, s.pool), campaignsdb.CampaignCouponDaysParams{TimeZone: tz, CampaignID: c.ID})
	if err != nil {
		return Stats{}, fmt.Errorf("campaign %s coupons by day: %w", c.ID, err)
	}
	totals, err := s.q.CampaignCouponTotals(ctx, database.ReadPool(ctx, s.pool), campaignsdb.CampaignCouponTotalsParams{Now: s.clock.Now(), CampaignID: c.ID})
	if err != nil {
		return Stats{}, fmt.Errorf("campaign %s coupons: %w", c.ID, err)
	}
	st.CouponsIssued, st.CouponsRedeemed, st.CouponsRevoked, st.CouponsExpired = totals.Issued, totals.Redeemed, totals.Revoked, totals.Expired
	byDay := map[string]*Day{}
	day := func(d string) *Day {
		if byDay[d] == nil {
			byDay[d] = &Day{Day: d}
		}
		return byDay[d]
	}
	for _, p := range points {
		d := day(p.Day)
		d.Points, d.Grants = p.Points, p.Grants
	}
	for _, r := range coupons {
		d := day(r.Day.Format("2006-01-02"))
		d.CouponsIssued, d.CouponsRedeemed = r.Issued, r.Redeemed
	}
	for _, d := range byDay {
		st.Days = append(st.Days, *d)
	}
	sort.Slice(st.Days, func(i, j int) bool { return st.Days[i].Day < st.Days[j].Day })
	return st, nil
}
