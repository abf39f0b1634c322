package campaigns

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/ledger"
)

// Refunds run in the ledger's batch: what campaigns gave the refunded orders is read
// with the batch's reads (QueueOrderGrants), the ledger decides each campaign's
// share, and what goes back is written with the batch's writes (QueueGiveBacks).

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

// QueueGiveBacks queues what refunds give back, as relative updates: the members'
// uses go down (giveBack's rule: never below zero), the budgets get the points back
// slice by slice from the first giving member's slice (giveBack's spread, computed
// on the slices as locked by the statement), and the orders' grants count them as
// returned. Several give-backs to one campaign are summed into one spread: slices are
// shards of one budget, so the total is the same.
//
// What the batch's earnings read under lock, the refund gave back in memory already
// (budgets.GiveBack): those are skipped here. The rest is locked when the batch
// writes, after every lock of its reads, in the order every budget lock takes them
// (uses, then slices by campaign and slice): the slices of a campaign the batch's
// earnings did not read (all of them when it has no campaign earning; else one that
// no longer runs, which no earning locks), the uses of members without a campaign
// earning in the batch. A deadlock with a compensation, which locks budgets before
// the member, is retried like any.
func (s *Service) QueueGiveBacks(ctx context.Context, pipe *database.Pipeline, backs []ledger.CampaignGiveBack) {
	if len(backs) == 0 {
		return
	}
	var uses campaignsdb.GiveBackUsesParams
	var slices campaignsdb.GiveBackSlicesParams
	var grants campaignsdb.ReturnOrderGrantsParams
	useAt := map[useKey]int{}
	sliceAt := map[string]int{}
	type grantKey struct{ memberID, orderID, campaignID string }
	grantAt := map[grantKey]int{}
	for _, b := range backs {
		if b.Points <= 0 {
			continue
		}
		if i, ok := useAt[useKey{b.CampaignID, b.MemberID}]; ok && !b.InLimit {
			uses.Points[i] += b.Points
		} else if !b.InLimit {
			useAt[useKey{b.CampaignID, b.MemberID}] = len(uses.CampaignIds)
			uses.CampaignIds = append(uses.CampaignIds, b.CampaignID)
			uses.MemberIds = append(uses.MemberIds, b.MemberID)
			uses.Points = append(uses.Points, b.Points)
		}
		if i, ok := sliceAt[b.CampaignID]; ok && !b.InBudget {
			slices.Points[i] += b.Points
		} else if !b.InBudget {
			sliceAt[b.CampaignID] = len(slices.CampaignIds)
			slices.CampaignIds = append(slices.CampaignIds, b.CampaignID)
			slices.MemberHashes = append(slices.MemberHashes, int64(memberHash(b.MemberID)))
			slices.Points = append(slices.Points, b.Points)
		}
		k := grantKey{b.MemberID, b.OrderID, b.CampaignID}
		if i, ok := grantAt[k]; ok {
			grants.Points[i] += b.Points
		} else {
			grantAt[k] = len(grants.CampaignIds)
			grants.MemberIds = append(grants.MemberIds, b.MemberID)
			grants.OrderIds = append(grants.OrderIds, b.OrderID)
			grants.CampaignIds = append(grants.CampaignIds, b.CampaignID)
			grants.Points = append(grants.Points, b.Points)
		}
	}
	if len(grants.CampaignIds) == 0 {
		return
	}
	// The uses before the slices, as every budget lock takes them (readBudgets).
	if len(uses.CampaignIds) > 0 {
		s.q.GiveBackUses(ctx, pipe, []campaignsdb.GiveBackUsesParams{uses})
	}
	if len(slices.CampaignIds) > 0 {
		s.q.GiveBackSlices(ctx, pipe, []campaignsdb.GiveBackSlicesParams{slices})
	}
	s.q.ReturnOrderGrants(ctx, pipe, []campaignsdb.ReturnOrderGrantsParams{grants})
}

// GiveBack is giveBack on what the batch read under lock: the campaign's slices, if
// the batch's earnings read them, and the member's use, if one of them was the
// member's. What it gives back is written with QueueWrites, as it left it; the rest
// is QueueGiveBacks'.
func (b *budgets) GiveBack(memberID, campaignID string, points int64) (budget, limit bool) {
	cb := b.state[campaignID]
	if cb == nil {
		return false, false
	}
	use, read := b.uses[useKey{campaignID, memberID}]
	if !read {
		use = &memberUse{} // not read: QueueGiveBacks lowers it where it is stored
	}
	giveBack(cb, use, points, sliceOf(memberID, len(cb.slices)))
	return true, read
}

// memberHash is the hash sliceOf takes modulo the slice count: the member's slice,
// where a give-back starts, is computed by GiveBackSlices on the slices it locks.
func memberHash(memberID string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(memberID))
	return h.Sum32()
}
