package campaigns

import (
	"context"
	"fmt"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/ledger"
)

// Refunds run in the ledger's batch: what campaigns gave the refunded orders is read
// with the batch's reads (QueueOrderGrants), the ledger decides each campaign's
// share, gives it back in memory to the budgets the batch locked (budgets.GiveBack),
// and the writes go with the batch's (QueueGrantsReturned).

// QueueOrderGrants queues the read of what campaigns gave the orders' earnings. The
// rows need no lock of their own: they change only with an earning, a refund or a
// reversal of the member's order, and each of those holds the member's row lock.
func (s *Service) QueueOrderGrants(ctx context.Context, pipe *database.Pipeline, memberIDs, orderIDs []string) func() ([]ledger.OrderGrant, error) {
	rows := s.q.OrderGrantsOf(ctx, pipe, []campaignsdb.OrderGrantsOfParams{{MemberIds: memberIDs, OrderIds: orderIDs}})
	return func() ([]ledger.OrderGrant, error) {
		var out []ledger.OrderGrant
		var qerr error
		rows.Query(func(_ int, rows []campaignsdb.CampaignOrderGrant, err error) {
			qerr = err
			for _, r := range rows {
				out = append(out, ledger.OrderGrant{MemberID: r.MemberID, OrderID: r.OrderID, CampaignID: r.CampaignID,
					Account: Account(r.CampaignID), Points: r.Points, Returned: r.Returned})
			}
		})
		if qerr != nil {
			return nil, fmt.Errorf("campaign grants of the refunded orders: %w", qerr)
		}
		return out, nil
	}
}

// OrderCampaigns lists the campaigns that gave points to the member's order's
// earning, in campaign order. A refund reads it before its batch, which locks their
// budgets: the list is written with the earning and does not change after.
func (s *Service) OrderCampaigns(ctx context.Context, memberID, orderID string) ([]string, error) {
	ids, err := s.q.OrderGrantCampaigns(ctx, s.pool, campaignsdb.OrderGrantCampaignsParams{MemberID: memberID, OrderID: orderID})
	if err != nil {
		return nil, fmt.Errorf("campaigns of order %q: %w", orderID, err)
	}
	return ids, nil
}

// QueueGrantsReturned queues what refunds gave back, counted as returned on the
// orders' grants (relative updates, summed per grant). The points went back to the
// budgets and the members' uses in memory (budgets.GiveBack), written with the
// budgets' writes.
func (s *Service) QueueGrantsReturned(ctx context.Context, pipe *database.Pipeline, backs []ledger.CampaignGiveBack) {
	var grants campaignsdb.ReturnOrderGrantsParams
	type grantKey struct{ memberID, orderID, campaignID string }
	grantAt := map[grantKey]int{}
	for _, b := range backs {
		if b.Points <= 0 {
			continue
		}
		k := grantKey{b.MemberID, b.OrderID, b.CampaignID}
		if i, ok := grantAt[k]; ok {
			grants.Points[i] += b.Points
			continue
		}
		grantAt[k] = len(grants.CampaignIds)
		grants.MemberIds = append(grants.MemberIds, b.MemberID)
		grants.OrderIds = append(grants.OrderIds, b.OrderID)
		grants.CampaignIds = append(grants.CampaignIds, b.CampaignID)
		grants.Points = append(grants.Points, b.Points)
	}
	if len(grants.CampaignIds) > 0 {
		s.q.ReturnOrderGrants(ctx, pipe, []campaignsdb.ReturnOrderGrantsParams{grants})
	}
}

// Holds tells whether the batch read under lock the campaign's budget slices and
// the member's use of it.
func (b *budgets) Holds(memberID, campaignID string) bool {
	return b.state[campaignID] != nil && b.read[useKey{campaignID, memberID}]
}

// GiveBack is giveBack on what the batch read under lock (Holds): the campaign's
// slices and the member's use, written back with QueueWrites as it leaves them. A
// batch that gives back reads every slice (a lane's could not tell where the
// budget's spending is).
func (b *budgets) GiveBack(memberID, campaignID string, points int64) {
	cb := b.state[campaignID]
	giveBack(cb, b.use(campaignID, memberID), points, sliceOf(memberID, len(cb.slices)))
}
