package tiers

import (
	"strconv"
	"time"

	"github.com/loyalty-engine/loyalty/events"
)

// The events of the tiers (docs/EVENTS.md), written in the transaction of the change
// they tell of (events.AppendTx), once per transaction: a transaction that changes
// several members writes their events in one statement, which takes the members'
// event counters in member order.

// tierChangeEvent is the event of a change of the tier history, by its reason: a
// membership bought, cancelled or ended, an upgrade, a downgrade or a grace
// started. A renewal (the same tier for another period) tells nothing new: ok is
// false.
func tierChangeEvent(memberID, from, to, reason string, membershipID int64, periodEnd time.Time, now time.Time) (ev events.Event, ok bool) {
	data := events.TierData{FromTierID: from, ToTierID: to, Reason: reason}
	if !periodEnd.IsZero() {
		data.PeriodEnd = &periodEnd
	}
	if membershipID != 0 {
		data.MembershipID = strconv.FormatInt(membershipID, 10)
	}
	ev = events.Event{OccurTime: now, MemberID: memberID}
	switch reason {
	case ReasonMembershipPurchased:
		ev.Type, data.Change = events.MembershipPurchased, "PURCHASED"
	case ReasonMembershipCancelled:
		ev.Type, data.Change = events.MembershipCancelled, "CANCELLED"
	case ReasonMembershipEnded:
		ev.Type, data.Change = events.MembershipEnded, "ENDED"
	case ReasonUpgrade:
		ev.Type, data.Change = events.TierChanged, "UPGRADE"
	case ReasonDowngrade:
		ev.Type, data.Change = events.TierChanged, "DOWNGRADE"
	case ReasonGraceStarted:
		ev.Type, data.Change = events.TierGraceStarted, "GRACE"
	default:
		return events.Event{}, false
	}
	ev.Data = data
	return ev, true
}
