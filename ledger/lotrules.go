package ledger

import (
	"cmp"
	"slices"
	"time"
)

// The rules of the write path that are the ledger's own, each a function of its
// own with a table test (lotrules_test.go). docs/LEDGER.md lists every rule and
// where it lives.

// refusesOverdraft is the overdraft rule: a credit always applies (even to a
// balance in debt); a debit only if it leaves the available balance at zero or
// above, unless the entry may take the member into debt (a refund's claw-back).
func refusesOverdraft(available, delta int64, allowNegative bool) bool {
	return delta < 0 && !allowNegative && available+delta < 0
}

// lotCredit is how much of a credit of delta, leaving availableAfter, goes into
// lots: what is above zero. The rest repays debt.
func lotCredit(delta, availableAfter int64) int64 {
	return min(delta, max(availableAfter, 0))
}

// lotDebit is how much of a debit of delta (negative), from availableBefore, comes
// out of lots: no more than what was above zero (lots hold max(available, 0)).
func lotDebit(delta, availableBefore int64) int64 {
	return min(-delta, max(availableBefore, 0))
}

// consumeOrder is the order a debit consumes lots in: those of the earning prefer
// (its reversal or refund takes its own points first), then earliest expiry first,
// the oldest lot first among equals. Only lots with points left are listed.
func consumeOrder(lots []*lotState, prefer int64) []*lotState {
	open := make([]*lotState, 0, len(lots))
	for _, l := range lots {
		if l.remaining > 0 {
			open = append(open, l)
		}
	}
	preferred := func(l *lotState) bool { return prefer != 0 && l.origin == prefer }
	slices.SortStableFunc(open, func(a, b *lotState) int {
		if pa, pb := preferred(a), preferred(b); pa != pb {
			if pa {
				return -1
			}
			return 1
		}
		return cmp.Or(a.expire.Compare(b.expire), cmp.Compare(a.id, b.id))
	})
	return open
}

// restoreOrder is the order a give-back returns points to the lots they were
// consumed from: latest expiry first, so the member keeps points longest.
func restoreOrder(rs []sourcedRestorable) []sourcedRestorable {
	slices.SortStableFunc(rs, func(a, b sourcedRestorable) int {
		return cmp.Or(b.lot.expire.Compare(a.lot.expire), cmp.Compare(b.lot.id, a.lot.id), cmp.Compare(b.source, a.source))
	})
	return rs
}

// entryTime is the time an entry is stamped with: its business time, never before
// the member's last entry, so that a member's entries are in time order by id (see
// the business clock migration).
func entryTime(last, at time.Time) time.Time {
	if at.Before(last) {
		return last
	}
	return at
}
