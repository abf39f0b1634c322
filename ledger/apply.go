package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/loyalty-engine/loyalty/internal/idempotency"
	"github.com/loyalty-engine/loyalty/tiers"
)

// The apply step of the write path (see docs/LEDGER.md): pure Go, no I/O. It applies
// the commands of a batch, in order, to the state the read step loaded under the
// batch's locks, exactly as if they ran one by one, and leaves the rows to write
// (writeSet) and each command's answer (outcome). Every rule it applies is a named
// function of its own (rules.go, lotrules.go, the tiers and campaigns packages).

// batchState is what the rules of a batch need, as read under its locks and as the
// batch's own commands change it.
type batchState struct {
	// sentAt stamps entries that name no business time of their own.
	sentAt  time.Time
	members map[string]*memberState
	// stored: what request ids already produced, by member and request id.
	stored map[requestKey]storedEntry
	// earned: orders that have an earning already.
	earned map[orderKey]bool
	// reversed: entries reversed already.
	reversed map[int64]bool
	// restorable: what each entry consumed from lots and has not had back.
	restorable map[int64][]*restorable
	// holds: the holds the batch closes, locked, with the entry that placed each.
	holds map[int64]*holdState
	// releases: the pending earnings the batch releases, locked, by entry id.
	releases map[int64]*pendingState
	// metrics: the qualifying metric over a window as stored; moves: the batch's.
	metrics map[metricKey]metricSum
	moves   map[string][]metricMove
	// Ids for the batch's entries, lots and holds, drawn in the read step.
	entryIDs, lotIDs, holdIDs []int64
	budgets                   Budgets
	goodwill                  goodwillState
	// refunds: the orders the batch refunds and what their rules need (nil when
	// the batch refunds nothing).
	refunds *refundState
	out     writeSet
	// broken: a command found the books out of line with a rule (lots short of the
	// balance, say) after its entry joined the write set; the batch must not commit.
	broken error
	// imported: the members imported before, with the fingerprint of their row,
	// and those the batch imports; enrolled: the members its read step created.
	imported map[string][]byte
	enrolled map[string]bool
}

type requestKey struct{ memberID, requestID string }

type orderKey struct{ memberID, orderID string }

type metricKey struct {
	memberID    string
	windowStart time.Time
}

type metricSum struct{ points, spend int64 }

type storedEntry struct {
	entry       Entry
	fingerprint []byte
}

// memberState is a member's balances and what the rules know of the member.
type memberState struct {
	id                       string
	available, pending, held int64
	lastEntryTime            time.Time
	joinTime                 time.Time
	// birthday, channel, attributes: the member's profile as read (attributes
	// decoded only when a campaign asks: profile).
	birthday   *Birthday
	channel    string
	attributes []byte
	// lots the batch knows of: the open ones (read for a debit), those entries it
	// gives back consumed from, and those it opens; kept in consumption order.
	lots []*lotState
	tier *tierState
	// touched: the batch changed the balances (they are written back).
	touched bool
}

// profile is the member's profile, for campaigns' rules.
func (m *memberState) profile() Profile {
	return Profile{Birthday: m.birthday, Channel: m.channel, Attributes: attributesOf(m.attributes)}
}

type lotState struct {
	id, origin int64
	remaining  int64
	expire     time.Time
	// A lot the batch opened (inserted with what is left of it), or one it moved
	// (its remaining is written back).
	opened, moved bool
	entryID       int64
	points        int64
	createTime    time.Time
}

// restorable is what an entry consumed from one lot and may get back.
type restorable struct {
	lot    *lotState
	points int64
}

type tierState struct {
	state       tiers.State
	memberships []tiers.Membership
	// upgraded: the batch upgraded the member (member_tiers is written back).
	upgraded bool
}

type holdState struct {
	hold    Hold
	entryID int64
}

type metricMove struct {
	day           time.Time
	points, spend int64
}

// outcome is a command's answer: its entry, or why it was refused.
type outcome struct {
	entry Entry
	err   error
	// replayed: the entry is a repeated request's first result.
	replayed bool
	// skipped: the command had nothing to post (an earning of zero points, a
	// job's release or expiry that another run or command settled first, a grant
	// answered with an approval, a rejection).
	skipped bool
	// An earning's parts the apply step decided.
	breakdown []BreakdownLine
	points    int64
	refusals  []BonusRefusal
	// hold: the hold a capture or void closed (or found, for a repeat).
	hold Hold
	// approval: a goodwill grant's approval (recorded instead of an entry, or found
	// for a repeat), or the approval a decision closed.
	approval *Approval
	// refund: what a refund did (or, for a repeat, its first answer).
	refund *RefundResult
	// compensation: the campaigns' answer to a compensation claim; compensated:
	// the claim's outcome was recorded by this batch.
	compensation any
	compensated  bool
	// created: a member import enrolled the member.
	created bool
}

// apply runs the batch's plans in order. It stops at a command that broke an
// invariant half-way (st.broken): nothing of the batch may be written then.
func (st *batchState) apply(ctx context.Context, plans []plan) []outcome {
	out := make([]outcome, len(plans))
	for i := range plans {
		if out[i] = st.applyOne(ctx, plans[i]); st.broken != nil {
			break
		}
	}
	return out
}

// applyOne applies one command: a repeat answers its first result; otherwise the
// command is checked against the state and, if it holds, its rows join the write
// set and the state moves on.
func (st *batchState) applyOne(ctx context.Context, p plan) outcome {
	if p.opening != nil {
		return st.applyOpening(p)
	}
	if p.refund != nil {
		return st.applyRefund(ctx, p)
	}
	if p.activity != nil {
		return st.applyActivity(ctx, p)
	}
	if p.referral != nil {
		return st.applyReferral(ctx, p)
	}
	if p.compensation != nil {
		return st.applyCompensation(ctx, p)
	}
	var hold *holdState
	if p.close != nil {
		if hold = st.holds[p.close.holdID]; hold == nil {
			return outcome{err: ErrHoldNotFound.With("hold %d not found", p.close.holdID)}
		}
		p.memberID, p.orderID, p.holdID = hold.hold.MemberID, hold.hold.OrderID, hold.hold.ID
	}
	if p.decide != nil {
		if o, done := st.openDecision(p); done {
			return o
		}
	}
	if stored, ok := st.stored[requestKey{p.memberID, p.requestID}]; ok {
		if err := idempotency.Check(stored.fingerprint, p.fingerprint, p.requestID); err != nil {
			return outcome{err: err}
		}
		o := outcome{entry: stored.entry, replayed: true}
		if hold != nil {
			o.hold = hold.hold
		}
		return o
	}
	if p.goodwill != nil {
		if o, done := st.grantOrAsk(p); done {
			return o
		}
	}
	m := st.members[p.memberID]
	if m == nil {
		return outcome{err: ErrMemberNotFound.With("member %q not found", p.memberID)}
	}
	if p.kind == KindEarn && p.orderID != "" && st.earned[orderKey{p.memberID, p.orderID}] {
		return outcome{err: ErrOrderAlreadyEarned.With("order %q has already earned points for member %q", p.orderID, p.memberID)}
	}
	if p.reverses != 0 && st.reversed[p.reverses] {
		return outcome{err: ErrAlreadyReversed.With("entry %d is already reversed", p.reverses)}
	}
	if p.reverseOrder != nil {
		if err := st.checkOrderReversal(p); err != nil {
			return outcome{err: err}
		}
	}
	var res outcome
	if hold != nil {
		var err error
		if p, err = st.decideClose(p, hold); err != nil {
			return outcome{err: err}
		}
	}
	if p.earn != nil {
		var ok bool
		if p, res, ok = st.decideEarn(ctx, p, m); !ok {
			return res
		}
	}
	if p.bulk != nil {
		var err error
		if p, err = st.decideBulkCampaign(p); err != nil {
			if errors.Is(err, ErrBudgetsIncomplete) {
				st.broken = err
			}
			return outcome{err: err}
		}
	}
	if p.release != nil || p.expireLots != nil {
		var ok bool
		var err error
		if p, ok, err = st.decideJob(p, m); err != nil || !ok {
			return outcome{err: err, skipped: err == nil}
		}
	}
	if err := checkBalanced(p.postings); err != nil {
		return outcome{err: fmt.Errorf("%s entry for %s: %w", p.kind, p.memberID, err)}
	}
	d, _, _ := split(p.postings)
	if refusesOverdraft(m.available, d.available, p.allowNegative) {
		return outcome{err: ErrInsufficientPoints.
			With("member %q has %d available points, %d needed", p.memberID, m.available, -d.available).
			WithMetadata("available", strconv.FormatInt(m.available, 10), "requested", strconv.FormatInt(-d.available, 10))}
	}
	if m.pending+d.pending < 0 || m.held+d.held < 0 {
		return outcome{err: fmt.Errorf("%s entry for %s would leave pending or held below zero", p.kind, p.memberID)}
	}
	if d.available > 0 && p.lotExpire.IsZero() && p.releaseTime.IsZero() {
		return outcome{err: fmt.Errorf("%s entry for %s credits available points without a lot expiry", p.kind, p.memberID)}
	}
	if p.placeHold != nil {
		if len(st.holdIDs) == 0 {
			return outcome{err: fmt.Errorf("a hold for %s, and the batch drew no hold id for it", p.memberID)}
		}
		p.holdID, st.holdIDs = st.holdIDs[0], st.holdIDs[1:]
	}
	e := st.post(p, m, d)
	if err := st.settleLots(p, m, e, d.available); err != nil {
		st.broken = err
		return outcome{err: err}
	}
	st.recordEffects(p, e, d)
	st.stored[requestKey{p.memberID, p.requestID}] = storedEntry{entry: e, fingerprint: p.fingerprint}
	if p.kind == KindEarn && p.orderID != "" {
		st.earned[orderKey{p.memberID, p.orderID}] = true
	}
	if p.reverses != 0 {
		st.reversed[p.reverses] = true
	}
	if p.placeHold != nil {
		h := Hold{ID: p.holdID, MemberID: p.memberID, Points: p.placeHold.points, Status: HoldActive, OrderID: p.orderID,
			CreateTime: p.at, ExpireTime: p.placeHold.expire}
		st.out.newHolds = append(st.out.newHolds, h)
		res.hold = h
	}
	if hold != nil {
		hold.hold.Status = closedStatus(p.kind)
		if p.kind == KindHoldCapture {
			hold.hold.CapturedPoints = p.close.captured(hold.hold.Points)
		}
		st.out.closedHolds = append(st.out.closedHolds, hold.hold)
		res.hold = hold.hold
	}
	res.entry = e
	st.goodwillPosted(p, e, &res)
	return res
}

// decideClose checks that a hold can be closed now and sets the closing entry:
// a capture redeems (part of) the points and releases the rest, a void releases
// them all; released points go back to the lots the hold consumed.
func (st *batchState) decideClose(p plan, h *holdState) (plan, error) {
	if h.hold.Status != HoldActive {
		return p, ErrHoldNotActive.With("hold %d is %s", h.hold.ID, h.hold.Status)
	}
	expired := !st.sentAt.Before(h.hold.ExpireTime)
	switch {
	case p.close.expire && !expired:
		return p, ErrHoldNotActive.With("hold %d does not expire before %s", h.hold.ID, h.hold.ExpireTime.UTC().Format(time.RFC3339))
	case !p.close.expire && expired:
		return p, ErrHoldExpired.With("hold %d expired at %s", h.hold.ID, h.hold.ExpireTime.UTC().Format(time.RFC3339))
	}
	switch {
	case p.close.expire:
		p.kind, p.postings = KindHoldExpire, releasePostings(h.hold.Points)
	case p.close.capture:
		captured := p.close.captured(h.hold.Points)
		if captured > h.hold.Points {
			return p, ErrOverCapture.With("hold %d has %d points, %d asked", h.hold.ID, h.hold.Points, captured).
				WithMetadata("held", strconv.FormatInt(h.hold.Points, 10))
		}
		p.kind, p.postings = KindHoldCapture, capturePostings(h.hold.Points, captured)
	default:
		p.kind, p.postings = KindHoldVoid, releasePostings(h.hold.Points)
	}
	if h.entryID != 0 {
		p.restoreFrom = []int64{h.entryID}
	}
	return p, nil
}

// captured is what a capture takes of a hold of held points.
func (c *holdClose) captured(held int64) int64 {
	if c.points == 0 {
		return held
	}
	return c.points
}

// closedStatus is the status a closing entry leaves its hold in.
func closedStatus(k Kind) string {
	switch k {
	case KindHoldCapture:
		return HoldCaptured
	case KindHoldExpire:
		return HoldExpired
	}
	return HoldVoided
}

// post moves the member's balances and adds the entry to the write set.
func (st *batchState) post(p plan, m *memberState, d memberDeltas) Entry {
	at := p.at
	if at.IsZero() {
		at = st.sentAt
	}
	m.available += d.available
	m.pending += d.pending
	m.held += d.held
	m.lastEntryTime = entryTime(m.lastEntryTime, at)
	m.touched = true
	e := Entry{
		ID: st.entryIDs[len(st.out.entries)], MemberID: p.memberID, Kind: p.kind, Postings: p.postings,
		AvailableAfter: m.available, PendingAfter: m.pending, HeldAfter: m.held,
		RequestID: p.requestID, OrderID: p.orderID, HoldID: p.holdID, ReversesEntryID: p.reverses,
		Memo: p.memo, ActorKeyID: p.actorKeyID, ReasonCode: p.reasonCode, TicketID: p.ticketID,
		CreateTime: m.lastEntryTime,
	}
	st.out.entries = append(st.out.entries, entryRow{entry: e, fingerprint: p.fingerprint})
	if p.opening == nil { // an import's opening is told in its member.imported event
		st.out.events = append(st.out.events, entryEvent(e, d))
	}
	for _, posting := range p.postings {
		if IsSystemAccount(posting.Account) {
			st.out.addSystem(posting.Account, posting.Amount)
		}
	}
	return e
}

// settleLots brings the member's lots in line with an entry that changed the
// available balance by delta: a credit fills lots with what is above zero (the rest
// repays debt), first giving back what the entries it restores consumed, then
// opening a lot for the rest; a debit consumes lots earliest expiry first. A
// pending earning opens its lot on release instead.
func (st *batchState) settleLots(p plan, m *memberState, e Entry, delta int64) error {
	switch {
	case delta > 0:
		left := lotCredit(delta, m.available)
		for _, r := range restoreOrder(st.restorableOf(p.restoreFrom)) {
			if left == 0 {
				break
			}
			take := min(left, r.points)
			r.points -= take
			r.lot.remaining += take
			st.moveLot(m, r.lot, e.ID, r.source, take)
			left -= take
		}
		if left > 0 {
			origin := p.lotOrigin
			if origin == 0 {
				origin = e.ID
			}
			if len(st.lotIDs) == 0 {
				return fmt.Errorf("%s entry for %s opens a lot, and the batch drew no lot id for it", p.kind, p.memberID)
			}
			lot := &lotState{id: st.lotIDs[0], origin: origin, remaining: left, expire: p.lotExpire,
				opened: true, entryID: e.ID, points: left, createTime: e.CreateTime}
			st.lotIDs = st.lotIDs[1:]
			m.addLot(lot)
			st.out.newLots = append(st.out.newLots, newLot{memberID: m.id, lot: lot})
		}
	case delta < 0:
		left := lotDebit(delta, m.available-delta)
		for _, lot := range consumeOrder(m.lots, p.preferLotOrigin) {
			if left == 0 {
				break
			}
			take := min(left, lot.remaining)
			lot.remaining -= take
			st.moveLot(m, lot, e.ID, e.ID, -take)
			left -= take
			// What this entry consumed, a later command of the batch may give back.
			st.restorable[e.ID] = append(st.restorable[e.ID], &restorable{lot: lot, points: take})
		}
		if left > 0 {
			return fmt.Errorf("lots of member %s are %d points short for a %s entry", p.memberID, left, p.kind)
		}
	}
	return nil
}

// moveLot records a move of a lot by an entry (negative: consumed).
func (st *batchState) moveLot(m *memberState, lot *lotState, entryID, source, points int64) {
	if !lot.opened && !lot.moved {
		lot.moved = true
		st.out.movedLots = append(st.out.movedLots, lot)
	}
	st.out.lotMoves = append(st.out.lotMoves, lotMove{memberID: m.id, lotID: lot.id, entryID: entryID, source: source, points: points})
}

// restorableOf is what the given entries consumed and may get back, with the
// entry each part came from.
func (st *batchState) restorableOf(sources []int64) []sourcedRestorable {
	var out []sourcedRestorable
	for _, s := range sources {
		for _, r := range st.restorable[s] {
			if r.points > 0 {
				out = append(out, sourcedRestorable{restorable: r, source: s})
			}
		}
	}
	return out
}

type sourcedRestorable struct {
	*restorable
	source int64
}

// addLot adds a lot the member did not have in the batch's view.
func (m *memberState) addLot(lot *lotState) {
	for _, l := range m.lots {
		if l.id == lot.id {
			return
		}
	}
	m.lots = append(m.lots, lot)
}

// recordEffects adds the rows an entry causes besides itself: its pending release,
// its order, and its move of the qualifying metric (with the upgrade it may bring).
func (st *batchState) recordEffects(p plan, e Entry, d memberDeltas) {
	if p.reverseOrder != nil {
		st.giveBackReversed(p)
	}
	if !p.releaseTime.IsZero() {
		st.out.pending = append(st.out.pending, pendingRow{entryID: e.ID, memberID: p.memberID, orderID: p.orderID,
			points: d.pending, releaseTime: p.releaseTime, lotExpire: p.lotExpire})
	}
	if p.recordOrder {
		o := orderRow{memberID: p.memberID, orderID: p.orderID, earnEntryID: e.ID, spendMinor: p.orderSpendMinor,
			currency: p.orderCurrency, earnedPoints: p.orderPoints, tierID: p.orderTierID, perks: string(p.orderPerks)}
		if q := p.qualify; q != nil {
			o.qualifies, o.metricPoints, o.metricSpend, o.metricDay = true, q.points, q.spend, q.day
		}
		st.out.orders = append(st.out.orders, o)
	}
	if q := p.qualify; q != nil {
		st.qualify(p.memberID, e, q)
	}
	st.recordRelease(p)
	st.noteOrderEntry(p, e, d)
}

// qualify moves the member's qualifying metric and, on a gain, upgrades the member
// at once if the metric over the window now reaches a higher tier (tiers.Evaluate;
// downgrades wait for the end of the period, which the tiers' job decides).
func (st *batchState) qualify(memberID string, e Entry, q *qualifying) {
	st.out.metricMoves = append(st.out.metricMoves, metricMoveRow{memberID: memberID, entryID: e.ID, orderID: e.OrderID,
		day: q.day, points: q.points, spend: q.spend, at: e.CreateTime})
	st.moves[memberID] = append(st.moves[memberID], metricMove{day: q.day, points: q.points, spend: q.spend})
	if q.points <= 0 && q.spend <= 0 {
		return
	}
	windowStart := q.policy.WindowStart(q.at)
	sum := st.metrics[metricKey{memberID, windowStart}]
	for _, mv := range st.moves[memberID] {
		if !mv.day.Before(windowStart) {
			sum.points += mv.points
			sum.spend += mv.spend
		}
	}
	metric := q.policy.MetricOf(sum.points, sum.spend)
	ts := st.tierOf(memberID)
	next, change := tiers.Evaluate(q.policy, ts.state, metric, q.at)
	if change == nil || change.Reason != tiers.ReasonUpgrade {
		return
	}
	from := change.From
	if from == "" {
		from = q.policy.Bottom().ID
	}
	ts.state, ts.upgraded = next, true
	u := upgradeRow{memberID: memberID, from: from, to: next.TierID, metric: metric,
		periodEnd: next.PeriodEnd, version: q.policy.Version, at: q.at}
	st.out.upgrades = append(st.out.upgrades, u)
	st.out.events = append(st.out.events, upgradeEvent(u))
}

// tierOf is the member's qualified tier and paid memberships, as read (the bottom
// tier, none, when the read step had no reason to read them).
func (st *batchState) tierOf(memberID string) *tierState {
	m := st.members[memberID]
	if m.tier == nil {
		m.tier = &tierState{}
	}
	return m.tier
}

// decideEarn settles an earning's parts from the state: the tier's (the member's
// effective tier, its multiplier on the base), the campaigns' (eligibility, budgets
// and caps), and from them the entry's postings, its qualifying move and its
// order's record. ok is false when the earning is answered without an entry.
func (st *batchState) decideEarn(ctx context.Context, p plan, m *memberState) (plan, outcome, bool) {
	e := p.earn
	res := outcome{breakdown: slices.Clone(e.lines), points: e.points}
	var tierID string
	var perks tiers.Perks
	if e.applyTier || len(e.campaigns) > 0 {
		ts := st.tierOf(p.memberID)
		tierID, _ = tiers.Effective(e.policy, ts.state.TierID, ts.memberships, p.at)
		perks = e.policy.Tier(tierID).Perks
	}
	var tierPoints int64
	if e.applyTier {
		if tierPoints = tiers.MultiplierPart(e.base, perks.EarnMultiplierPercent); tierPoints > 0 {
			res.breakdown = append(res.breakdown, tierLine(tierID, perks.EarnMultiplierPercent, tierPoints))
		}
	}
	var bonuses []Bonus
	if len(e.campaigns) > 0 && st.budgets != nil {
		var err error
		bonuses, res.refusals, err = st.budgets.Grant(ctx, PromotedEarning{
			MemberID: p.memberID, TierID: tierID, JoinTime: m.joinTime, Profile: m.profile, OrderID: p.orderID, SpendMinor: e.spend,
			Currency: p.orderCurrency, BasePoints: e.base, Now: p.at,
		})
		if err != nil {
			// The batch cannot be answered from what it read (ErrBudgetsIncomplete).
			st.broken = err
			return p, outcome{err: err}, false
		}
	}
	issued := e.points + tierPoints
	res.points = issued
	qualifying := e.qualifyingPoints
	if e.policy.Counts(tiers.SourceTier) {
		qualifying += tierPoints
	}
	p.postings = nil
	if issued > 0 {
		p.postings = []Posting{{AccountIssued, -issued}}
	}
	for _, b := range bonuses {
		res.breakdown = append(res.breakdown, BreakdownLine{Source: tiers.SourceCampaign, CampaignID: b.CampaignID, Points: b.Points, Description: b.Description})
		res.points += b.Points
		p.postings = append(p.postings, Posting{b.Account, -b.Points})
		if e.policy.Counts(tiers.SourceCampaign) {
			qualifying += b.Points
		}
	}
	if res.points == 0 {
		res.skipped = true
		return p, res, false
	}
	p.postings = append([]Posting{{e.credit, res.points}}, p.postings...)
	p.qualify = qualification(e.policy, p.at, qualifying, e.spend)
	if p.recordOrder {
		p.orderPoints = res.points
		if e.applyTier {
			p.orderTierID = tierID
			p.orderPerks, _ = json.Marshal(perks) // a struct of numbers and bools: never fails
		}
	}
	return p, res, true
}

// tierLine is the breakdown line of a tier's part.
func tierLine(tierID string, multiplierPercent int32, points int64) BreakdownLine {
	return BreakdownLine{Source: tiers.SourceTier, Points: points,
		Description: fmt.Sprintf("%s tier: %d%% of the base", tierID, multiplierPercent)}
}
