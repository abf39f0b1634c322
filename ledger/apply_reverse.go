package ledger

import (
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// Reversals of an entry on an order, in the apply step. The batch locks the order's
// row after the member (as for a refund) and, when the entry is an earning campaigns
// gave points to, those campaigns' budgets: a reversal and the refunds of the order
// are decided one after the other, under the member's lock, and never both undo the
// same points; the campaigns get back what they gave.

// orderReversal is what a reversal of an entry on an order needs besides its
// postings: the kind of the entry reversed, and what campaigns gave it (an
// earning's bonuses), which go back to their budgets.
type orderReversal struct {
	original  Kind
	campaigns []CampaignGiveBack
}

// refundedBefore is the rule of a reversal of an entry on an order the order's
// refunds may have undone already: an earning whose points a refund took back (in
// part or in full), or a redemption (or capture) whose points a refund gave back,
// cannot be reversed; the refunds own the rest of the order.
func refundedBefore(original Kind, originalID int64, o ledgerdb.Order) error {
	switch {
	case original == KindEarn && o.PointsTakenBack > 0:
		return ErrNotReversible.With("order %q was refunded: its refunds already took back %d of entry %d's points",
			o.OrderID, o.PointsTakenBack, originalID)
	case (original == KindRedeem || original == KindHoldCapture) && o.PointsReturned > 0:
		return ErrNotReversible.With("order %q was refunded: its refunds already gave back %d points redeemed on it",
			o.OrderID, o.PointsReturned)
	}
	return nil
}

// checkOrderReversal applies refundedBefore to the order as the batch has it (its
// refunds earlier in the batch included).
func (st *batchState) checkOrderReversal(p plan) error {
	if st.refunds == nil {
		return nil
	}
	o := st.refunds.orders[orderKey{p.memberID, p.orderID}]
	if o == nil || !o.exists {
		return nil // an order only redeemed on, never refunded
	}
	return refundedBefore(p.reverseOrder.original, p.reverses, o.row)
}

// giveBackReversed returns to their budgets, in memory, what campaigns gave the
// earning a reversal took back (all of it: the campaigns' giveBack rule), and counts
// it as returned on the order's grants, for a later refund of the batch and for the
// write step.
func (st *batchState) giveBackReversed(p plan) {
	var o *refundOrder
	if st.refunds != nil {
		o = st.refunds.orders[orderKey{p.memberID, p.orderID}]
	}
	for _, g := range p.reverseOrder.campaigns {
		if st.budgets != nil && st.budgets.Holds(p.memberID, g.CampaignID) {
			st.budgets.GiveBack(p.memberID, g.CampaignID, g.Points)
		}
		st.out.refunds.giveBacks = append(st.out.refunds.giveBacks, g)
		if o == nil {
			continue
		}
		for i := range o.grants {
			if o.grants[i].CampaignID == g.CampaignID {
				o.grants[i].Returned += g.Points
			}
		}
	}
}
