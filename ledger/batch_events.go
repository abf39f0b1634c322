package ledger

import (
	"strconv"
	"strings"
	"time"

	"github.com/loyalty-engine/loyalty/events"
)

// The events of a batch (docs/EVENTS.md): every entry, approval and upgrade the apply
// step produces adds its event to the write set, in the order the batch applies its
// commands, and the write step queues them as one statement (events.Queue) with the
// batch's other rows, under the members' row locks: an event commits with its change
// or not at all, and a member's events are numbered in the order they happened.

// entryEventType is the event of an entry of kind k (a CAMPAIGN entry is a
// campaign's compensation: the only CAMPAIGN entries there are).
func entryEventType(k Kind) events.Type {
	switch k {
	case KindEarn:
		return events.PointsEarned
	case KindRedeem:
		return events.PointsRedeemed
	case KindHold:
		return events.HoldPlaced
	case KindHoldCapture:
		return events.HoldCaptured
	case KindHoldVoid:
		return events.HoldVoided
	case KindHoldExpire:
		return events.HoldExpired
	case KindReversal:
		return events.EntryReversed
	case KindRefund:
		return events.PointsRefunded
	case KindRefundReturn:
		return events.PointsRefundReturned
	case KindPendingRelease:
		return events.PointsReleased
	case KindExpiry:
		return events.PointsExpired
	case KindGoodwill:
		return events.PointsGoodwill
	case KindCampaign:
		return events.PointsCompensation
	case KindOpening:
		return events.PointsOpened
	case KindActivity:
		return events.PointsActivity
	case KindBirthday:
		return events.PointsBirthday
	case KindBulkCredit:
		return events.PointsBulkCredited
	case KindReferral:
		return events.PointsReferral
	}
	return ""
}

// entryEventPoints is the change an entry's event reports: to the member's
// available points, or, for an entry that leaves them as they are, to the pending
// points (an earning inside its order's return window, a refund of it) or to the
// held points (a capture of a whole hold).
func entryEventPoints(d memberDeltas) int64 {
	switch {
	case d.available != 0:
		return d.available
	case d.pending != 0:
		return d.pending
	}
	return d.held
}

// entryEvent is the event of an entry the batch posts.
func entryEvent(e Entry, d memberDeltas) events.Event {
	data := events.EntryData{
		EntryID: strconv.FormatInt(e.ID, 10), Kind: string(e.Kind), Points: entryEventPoints(d),
		Available: e.AvailableAfter, Pending: e.PendingAfter, Held: e.HeldAfter,
		RequestID: e.RequestID, OrderID: e.OrderID, ReasonCode: e.ReasonCode, Memo: e.Memo,
		HoldID: optionalString(e.HoldID), ReversesEntryID: optionalString(e.ReversesEntryID),
	}
	if e.Kind == KindBulkCredit {
		data.BulkCreditID = bulkCreditOf(e.RequestID)
	}
	if e.Kind == KindCampaign || e.Kind == KindActivity || e.Kind == KindBulkCredit || e.Kind == KindReferral {
		// The compensating campaign (an earning's bonuses are in its breakdown).
		for _, p := range e.Postings {
			if id, ok := strings.CutPrefix(p.Account, campaignAccountPrefix); ok {
				data.CampaignID = id
			}
		}
	}
	return events.Event{Type: entryEventType(e.Kind), OccurTime: e.CreateTime, MemberID: e.MemberID, Data: data}
}

// approvalEvent is the event of an approval recorded (requested) or decided.
func approvalEvent(a Approval, requested bool) events.Event {
	ev := events.Event{Type: events.ApprovalDecided, OccurTime: a.DecideTime, MemberID: a.MemberID}
	data := events.ApprovalData{ApprovalID: strconv.FormatInt(a.ID, 10), Points: a.Points, ReasonCode: a.ReasonCode, RequestedBy: a.RequestedBy}
	if requested {
		ev.Type, ev.OccurTime = events.ApprovalRequested, a.CreateTime
	} else {
		data.Decision, data.DecidedBy, data.EntryID = a.Status, a.DecidedBy, optionalString(a.EntryID)
	}
	ev.Data = data
	return ev
}

// upgradeEvent is the event of an upgrade the batch's qualifying move brought (or
// of an imported member's start tier, reason IMPORTED).
func upgradeEvent(u upgradeRow) events.Event {
	end := u.periodEnd
	return events.Event{Type: events.TierChanged, OccurTime: u.at, MemberID: u.memberID, Data: events.TierData{
		FromTierID: u.from, ToTierID: u.to, Change: "UPGRADE", Reason: u.reasonOrUpgrade(), PeriodEnd: &end,
	}}
}

// importedEvent is what a member's import did, told in one member.imported event:
// an import writes one event a member, where enrolling, posting an opening and
// starting a tier one by one would write three (the events statement is the
// largest part of an import's time).
type importedEvent struct {
	memberID, displayName string
	joinTime, at          time.Time
	created               bool
	// opening is the OPENING entry (nil: none), points its change to the available
	// points, lot the lot it opened (nil: none, its points repaid a debt).
	opening *Entry
	points  int64
	lot     *lotState
	// tierID and metric: the member's qualified tier and metric after the import;
	// started: the start tier the import gave (nil: the member kept its tier).
	tierID  string
	metric  int64
	started *upgradeRow
}

// event is the member.imported event, at the import's time. A member that existed
// keeps its name, so the event names it only when the import enrolled it.
func (ev importedEvent) event() events.Event {
	data := events.ImportedData{MemberID: ev.memberID, JoinTime: ev.joinTime, Created: ev.created, TierID: ev.tierID, Metric: ev.metric}
	if ev.created {
		data.DisplayName = ev.displayName
	}
	if e := ev.opening; e != nil {
		o := &events.ImportedOpening{EntryID: strconv.FormatInt(e.ID, 10), Points: ev.points,
			Available: e.AvailableAfter, Pending: e.PendingAfter, Held: e.HeldAfter}
		if ev.lot != nil {
			expire := ev.lot.expire
			o.LotID, o.ExpireTime = strconv.FormatInt(ev.lot.id, 10), &expire
		}
		data.Opening = o
	}
	if u := ev.started; u != nil {
		end := u.periodEnd
		data.Started = &events.ImportedTier{FromTierID: u.from, Reason: u.reasonOrUpgrade(), PeriodEnd: &end}
	}
	return events.Event{Type: events.MemberImported, OccurTime: ev.at, MemberID: ev.memberID, Data: data}
}

func optionalString(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}
