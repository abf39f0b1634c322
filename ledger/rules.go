package ledger

import (
	"fmt"
	"strings"
)

// Member accounts belong to the entry's member; system accounts are the program's.
const (
	AccountAvailable = "available"
	AccountPending   = "pending"
	AccountHeld      = "held"

	AccountIssued   = "system:issued"
	AccountRedeemed = "system:redeemed"
	AccountBreakage = "system:breakage"
)

// IsSystemAccount tells a system account from a member account.
func IsSystemAccount(account string) bool { return strings.HasPrefix(account, "system:") }

// Kind is what an entry does.
type Kind string

// Entry kinds.
const (
	KindEarn        Kind = "EARN"
	KindRedeem      Kind = "REDEEM"
	KindHold        Kind = "HOLD"
	KindHoldCapture Kind = "HOLD_CAPTURE"
	KindHoldVoid    Kind = "HOLD_VOID"
	KindHoldExpire  Kind = "HOLD_EXPIRE"
	KindReversal    Kind = "REVERSAL"
	KindGoodwill    Kind = "GOODWILL"
	// KindPendingRelease moves an order's pending points to available once its
	// return window is over.
	KindPendingRelease Kind = "PENDING_RELEASE"
	// KindExpiry moves what is left of expired lots to breakage.
	KindExpiry Kind = "EXPIRY"
	// KindRefund takes back an order's earned points when it is refunded: voided
	// from pending inside the return window, clawed back from available after it.
	KindRefund Kind = "REFUND"
	// KindRefundReturn gives back points the member redeemed on a refunded order.
	KindRefundReturn Kind = "REFUND_RETURN"
	// KindCampaign credits points from a campaign's budget outside an earning (an
	// after-sales compensation).
	KindCampaign Kind = "CAMPAIGN"
	// KindActivity credits an ACTIVITY_REWARD campaign's points for something the
	// member did (a review, a share, a check-in).
	KindActivity Kind = "ACTIVITY"
	// KindBirthday credits the birthday bonus of the member's tier (the birthday
	// job), from system:birthday.
	KindBirthday Kind = "BIRTHDAY"
	// KindBulkCredit credits a member as one of the members of a bulk credit
	// (docs/BULK.md): from points issued, or from a campaign's budget when the bulk
	// credit is funded by one.
	KindBulkCredit Kind = "BULK_CREDIT"
	// KindReferral credits a REFERRAL campaign's points to a referrer or to the
	// member referred, once the referred member's first order left its return
	// window (one entry per side, both in one transaction).
	KindReferral Kind = "REFERRAL"
)

// Kinds lists every kind, for validating filters.
var Kinds = []Kind{KindEarn, KindRedeem, KindHold, KindHoldCapture, KindHoldVoid, KindHoldExpire, KindReversal, KindGoodwill,
	KindPendingRelease, KindExpiry, KindRefund, KindRefundReturn, KindCampaign, KindOpening, KindActivity, KindBirthday, KindBulkCredit, KindReferral}

// Posting is one line of an entry.
type Posting struct {
	Account string
	Amount  int64
}

// MaxPoints bounds a single movement, far below int64 overflow however many are summed.
const MaxPoints = 1_000_000_000_000

// earnPostings credits the member's available account from points issued.
func earnPostings(points int64) []Posting {
	return []Posting{{AccountAvailable, points}, {AccountIssued, -points}}
}

// bulkCreditPostings credits the member from the account that funds the bulk
// credit (system:issued, or a campaign's budget account).
func bulkCreditPostings(points int64, from string) []Posting {
	return []Posting{{AccountAvailable, points}, {from, -points}}
}

// goodwillPostings credits the member from the goodwill expense of the reason.
func goodwillPostings(points int64, reasonCode string) []Posting {
	return []Posting{{AccountAvailable, points}, {GoodwillAccount(reasonCode), -points}}
}

// GoodwillAccount is the system account of goodwill granted for a reason.
func GoodwillAccount(reasonCode string) string { return "system:goodwill:" + reasonCode }

// pendingEarnPostings credits an order's points to pending.
func pendingEarnPostings(points int64) []Posting {
	return []Posting{{AccountPending, points}, {AccountIssued, -points}}
}

// releasePendingPostings makes pending points available.
func releasePendingPostings(points int64) []Posting {
	return []Posting{{AccountPending, -points}, {AccountAvailable, points}}
}

// redeemPostings spends available points.
func redeemPostings(points int64) []Posting {
	return []Posting{{AccountAvailable, -points}, {AccountRedeemed, points}}
}

// holdPostings moves points from available to held.
func holdPostings(points int64) []Posting {
	return []Posting{{AccountAvailable, -points}, {AccountHeld, points}}
}

// capturePostings redeems captured of the held points and releases the rest.
func capturePostings(held, captured int64) []Posting {
	p := []Posting{{AccountHeld, -held}, {AccountRedeemed, captured}}
	if rest := held - captured; rest > 0 {
		p = append(p, Posting{AccountAvailable, rest})
	}
	return p
}

// releasePostings gives held points back (void or expiry).
func releasePostings(held int64) []Posting {
	return []Posting{{AccountHeld, -held}, {AccountAvailable, held}}
}

// reversalPostings is the opposite of an entry, with one exception: points that
// would go back into held go to available instead, because the hold they came from
// is closed. Reversing a capture therefore gives back exactly what it redeemed.
// Postings to the same account are merged, and those that net to zero dropped.
func reversalPostings(original []Posting) []Posting {
	var out []Posting
	index := map[string]int{}
	for _, p := range original {
		account := p.Account
		if account == AccountHeld {
			account = AccountAvailable
		}
		if i, ok := index[account]; ok {
			out[i].Amount -= p.Amount
			continue
		}
		index[account] = len(out)
		out = append(out, Posting{account, -p.Amount})
	}
	kept := out[:0]
	for _, p := range out {
		if p.Amount != 0 {
			kept = append(kept, p)
		}
	}
	return kept
}

// settled is an entry's postings as they stand once its pending points were
// released: what went to pending is now available.
func settled(postings []Posting) []Posting {
	out := make([]Posting, len(postings))
	for i, p := range postings {
		if p.Account == AccountPending {
			p.Account = AccountAvailable
		}
		out[i] = p
	}
	return out
}

// reversible tells which entries can be reversed. Hold movements are undone by the
// hold's own lifecycle (void, capture), and a reversal is not reversed again: the
// original is re-posted instead.
func reversible(k Kind) bool {
	return k == KindEarn || k == KindRedeem || k == KindHoldCapture || k == KindGoodwill || k == KindCampaign || k == KindBulkCredit
}

// checkBalanced refuses postings that would not make a valid entry.
func checkBalanced(postings []Posting) error {
	if len(postings) < 2 {
		return fmt.Errorf("an entry needs at least two postings, got %d", len(postings))
	}
	var sum int64
	for _, p := range postings {
		if p.Amount == 0 {
			return fmt.Errorf("posting to %s has amount zero", p.Account)
		}
		if p.Account == "" {
			return fmt.Errorf("posting without an account")
		}
		sum += p.Amount
	}
	if sum != 0 {
		return fmt.Errorf("postings sum to %d, not zero", sum)
	}
	return nil
}

// memberDeltas are the changes an entry makes to its member's three accounts.
type memberDeltas struct{ available, pending, held int64 }

// split separates member deltas from system postings.
func split(postings []Posting) (d memberDeltas, sysAccounts []string, sysAmounts []int64) {
	for _, p := range postings {
		switch p.Account {
		case AccountAvailable:
			d.available += p.Amount
		case AccountPending:
			d.pending += p.Amount
		case AccountHeld:
			d.held += p.Amount
		default:
			sysAccounts = append(sysAccounts, p.Account)
			sysAmounts = append(sysAmounts, p.Amount)
		}
	}
	return d, sysAccounts, sysAmounts
}
