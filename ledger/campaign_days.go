package ledger

import (
	"context"
	"fmt"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// AccountDay is what an account paid out on one day ("2026-11-11"), less what it
// got back that day (a refund's give-back), and how many entries paid out.
type AccountDay struct {
	Day    string
	Points int64
	Grants int64
}

// CampaignDays is what a campaign's account paid out by day in a time zone, oldest
// first; days without an entry are absent.
func (s *Service) CampaignDays(ctx context.Context, campaignID, timeZone string) ([]AccountDay, error) {
	rows, err := s.q.CampaignAccountDays(ctx, database.ReadPool(ctx, s.pool), ledgerdb.CampaignAccountDaysParams{TimeZone: timeZone, Account: CampaignAccount(campaignID)})
	if err != nil {
		return nil, fmt.Errorf("campaign %s by day: %w", campaignID, err)
	}
	days := make([]AccountDay, len(rows))
	for i, r := range rows {
		days[i] = AccountDay{Day: r.Day.Format("2006-01-02"), Points: r.Points, Grants: r.Grants}
	}
	return days, nil
}
