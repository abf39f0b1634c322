package campaigns

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/nullable"
	"github.com/loyalty-engine/loyalty/ledger"
)

// budgetSlice is one slice of a campaign's budget (see the budget slices
// migration): a grant takes from its member's slice first, from the others when
// that one runs dry, so concurrent grants spread over rows; the slices add up to
// the budget.
type budgetSlice struct {
	slice                       int16
	budgetPoints, budgetCoupons int64 // -1: unbounded
	spentPoints, issuedCoupons  int64
	grants                      int64
	changed                     bool
}

// campaignBudget is a campaign's state as a grant needs it: whether it still runs,
// its per-member caps (zero: none), and its slices: all of them, or (partial) those
// of one lane (see ledger.BudgetLane).
type campaignBudget struct {
	campaign   Campaign // status and schedule as stored now
	capPoints  int64
	capCoupons int64
	slices     []*budgetSlice
	// partial: the campaign has slices that were not locked, so what the locked
	// ones cannot give is not known to be missing.
	partial bool
	// exhausted: its budget ran out before (campaign.budget_exhausted was told).
	exhausted bool
}

// memberUse is what a member got from a campaign so far.
type memberUse struct {
	points, coupons int64
	changed         bool
}

// TakeResult is what a grant got from a campaign's budget and a member's cap.
type takeResult struct {
	points, coupons int64
	refusal         string
	// incomplete: the slices read could not give all that was asked and others
	// were not read; the answer needs every slice (the counters moved so far are
	// to be thrown away with the batch).
	incomplete bool
}

// take is the budget and cap rule of every grant (earnings' bonuses, coupon drops,
// compensations, and their dry runs): a campaign that no longer runs at now
// refuses; a member whose cap is reached for what is asked refuses; otherwise the
// grant gets what is asked, less what the member's cap and the budget leave, taken
// slice by slice from start; nothing left anywhere refuses. It moves the counters.
// With only some slices read (b.partial), a grant they cannot give in full is
// incomplete: only every slice can say what is left, and the slices are shards of
// one budget, so a grant they can give is the same whichever slices give it.
func take(b *campaignBudget, use *memberUse, wantPoints, wantCoupons int64, start int, now time.Time) takeResult {
	if !b.campaign.ActiveAt(now) {
		return takeResult{refusal: RefusedNotActive}
	}
	if (b.capPoints > 0 && wantPoints > 0 && use.points >= b.capPoints) ||
		(b.capCoupons > 0 && wantCoupons > 0 && use.coupons >= b.capCoupons) {
		return takeResult{refusal: RefusedMemberCap}
	}
	if b.capPoints > 0 {
		wantPoints = min(wantPoints, b.capPoints-use.points)
	}
	if b.capCoupons > 0 {
		wantCoupons = min(wantCoupons, b.capCoupons-use.coupons)
	}
	var got takeResult
	first := true
	for i := range b.slices {
		if got.points >= wantPoints && got.coupons >= wantCoupons {
			break
		}
		sl := b.slices[(start+i)%len(b.slices)]
		p := leftOf(sl.budgetPoints, sl.spentPoints, wantPoints-got.points)
		c := leftOf(sl.budgetCoupons, sl.issuedCoupons, wantCoupons-got.coupons)
		if p <= 0 && c <= 0 {
			continue
		}
		p, c = max(p, 0), max(c, 0)
		sl.spentPoints += p
		sl.issuedCoupons += c
		if first {
			sl.grants++
			first = false
		}
		sl.changed = true
		got.points += p
		got.coupons += c
	}
	if b.partial && (got.points < wantPoints || got.coupons < wantCoupons) {
		return takeResult{incomplete: true}
	}
	if got.points == 0 && got.coupons == 0 {
		return takeResult{refusal: RefusedBudgetExhausted}
	}
	use.points += got.points
	use.coupons += got.coupons
	use.changed = true
	return got
}

// giveBack is the rule of a refund or a reversal returning campaign points: the
// member's use goes down by them (never below zero), so the cap allows them again,
// and the slices get them back, starting at start, none below zero spent. Slices
// are shards of one budget, so any start returns the same total; the member's own
// slice first keeps give-backs where that member's grants took from. Nothing is
// given back for points <= 0.
func giveBack(b *campaignBudget, use *memberUse, points int64, start int) {
	if points <= 0 {
		return
	}
	use.points = max(use.points-points, 0)
	use.changed = true
	for i := range b.slices {
		if points == 0 {
			break
		}
		sl := b.slices[(start+i)%len(b.slices)]
		p := min(points, sl.spentPoints)
		if p <= 0 {
			continue
		}
		sl.spentPoints -= p
		sl.changed = true
		points -= p
	}
}

// leftOf is how much of want a slice can still give (budget -1: unbounded).
func leftOf(budget, spent, want int64) int64 {
	if budget < 0 {
		return want
	}
	return min(want, budget-spent)
}

// memberLane is the lane of one slice, the member's own: a coupon drop, one
// member per transaction, locks only that slice first, so racing
// drops of one campaign to different members mostly lock different rows; a grant the
// slice cannot give in full runs again with every slice (inLanes).
func memberLane(memberID string) ledger.BudgetLane {
	return ledger.BudgetLane{Lane: sliceOf(memberID, budgetSlices), Lanes: budgetSlices}
}

// inLanes runs a transaction that takes from a member's budgets with the member's
// lane, and again with every slice if that lane could not answer
// (ledger.ErrBudgetsIncomplete): the second run rolls the first back and locks
// every slice from the start, so it never waits for a lock it asked for later.
func (s *Service) inLanes(ctx context.Context, memberID string, fn func(tx pgx.Tx, lane ledger.BudgetLane) error) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error { return fn(tx, memberLane(memberID)) })
	if errors.Is(err, ledger.ErrBudgetsIncomplete) {
		err = s.inTx(ctx, func(tx pgx.Tx) error { return fn(tx, ledger.AllSlices) })
	}
	return err
}

// sliceOf is the slice a member takes from first.
func sliceOf(memberID string, slices int) int {
	if slices <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(memberID))
	return int(h.Sum32() % uint32(slices))
}

// budgets are the budgets and member caps read under lock (by a ledger batch of
// earnings, compensations and give-backs, or by a coupon drop), and what was taken
// from them or given back (ledger.Budgets for the batches).
type budgets struct {
	s         *Service
	campaigns []Campaign // the running points campaigns asked, in their order
	state     map[string]*campaignBudget
	uses      map[useKey]*memberUse
	grants    []orderGrant
	// read: the pairs whose uses were read (a pair without a row has none yet);
	// usesLocked: they were locked (else only their points are written back).
	read       map[useKey]bool
	usesLocked bool
	// claims: the batch's compensation claims (nil outside a batch with some);
	// activities: its activity claims (activity_batch.go).
	claims     *claims
	activities *activityClaims
	referrals  *referralClaims
	// exhaustedNow: campaigns whose budget the takes ran out (at exhaustedAt),
	// and their events.
	exhaustedNow []string
	exhaustedAt  time.Time
	events       []events.Event
}

type useKey struct{ campaignID, memberID string }

type orderGrant struct {
	memberID, orderID, campaignID string
	points                        int64
}

var _ ledger.Budgets = (*budgets)(nil)

// PointsCampaignsAt lists the points campaigns running at now (from the cache).
func (s *Service) PointsCampaignsAt(ctx context.Context, now time.Time) ([]string, error) {
	running, err := s.runningAt(ctx, now)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, c := range running {
		if c.Type == TypeMultiplier || c.Type == TypeBonus {
			ids = append(ids, c.ID)
		}
	}
	return ids, nil
}

// QueueBudgets queues the locks and reads of the campaigns' budgets and of what
// the members got from them (readBudgets), and of the outcomes recorded for the
// compensation claims (queueClaims), and adds the campaigns' definitions from the
// cache. A batch with claims locks the members' uses and writes them back whole:
// a claim counts its coupon against the member's cap as well as its points.
func (s *Service) QueueBudgets(ctx context.Context, pipe *database.Pipeline, campaignIDs, memberIDs []string, lane ledger.BudgetLane, cs ledger.Claims) func() (ledger.Budgets, error) {
	read := s.readBudgets(ctx, pipe, campaignIDs, memberIDs, lane, len(cs.Compensations) > 0)
	readClaims := s.queueClaims(ctx, pipe, cs.Compensations)
	readActivities := s.queueActivities(ctx, pipe, cs.Activities)
	readReferrals := s.queueReferrals(ctx, pipe, cs.Referrals)
	return func() (ledger.Budgets, error) {
		b, err := read()
		if err != nil {
			return nil, err
		}
		if err := readClaims(b); err != nil {
			return nil, err
		}
		if err := readActivities(b); err != nil {
			return nil, err
		}
		if err := readReferrals(b); err != nil {
			return nil, err
		}
		// The campaigns' definitions (type, rule, bonus) come from the cache, in
		// their order; a campaign gone from it since the earning asked is skipped.
		s.running.mu.Lock()
		for _, c := range s.running.campaigns {
			if _, ok := b.state[c.ID]; ok && slices.Contains(campaignIDs, c.ID) {
				b.campaigns = append(b.campaigns, c)
			}
		}
		s.running.mu.Unlock()
		return b, nil
	}
}

// lockBudgets reads under lock, in the caller's transaction and in one round trip,
// the campaigns' budgets (the lane's slices) and what the members got from them
// (readBudgets): what a coupon drop changes in Go and writes back with
// writeBudgets before it commits.
func (s *Service) lockBudgets(ctx context.Context, tx pgx.Tx, campaignIDs, memberIDs []string, lane ledger.BudgetLane) (*budgets, error) {
	var pipe database.Pipeline
	read := s.readBudgets(ctx, &pipe, campaignIDs, memberIDs, lane, true)
	pipe.Send(ctx, tx)
	b, err := read()
	if cerr := pipe.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("campaign budgets: %w", cerr)
	}
	return b, err
}

// writeBudgets writes back, in the caller's transaction, the slices and uses that
// b's takes and give-backs changed (one round trip, none when nothing changed).
func (s *Service) writeBudgets(ctx context.Context, tx pgx.Tx, b *budgets) error {
	var pipe database.Pipeline
	b.QueueWrites(ctx, &pipe)
	if pipe.Len() == 0 {
		return nil
	}
	pipe.Send(ctx, tx)
	if err := pipe.Close(); err != nil {
		return fmt.Errorf("write campaign budgets: %w", err)
	}
	return nil
}

// readBudgets queues the locks and reads of the campaigns' budgets and of what the
// members got from them, then the slices locked (all of them, or the lane's), each
// sorted by campaign (and member), for every caller alike: two grants or give-backs
// never wait for each other's rows of these tables in a cycle. read answers them
// once pipe has been sent.
//
// What the members got (campaign_members) is locked (lockUses: a row for each pair
// first, then the pairs locked) by a coupon drop, in a transaction of its own, and
// by a ledger batch with compensation claims (their coupons count too). Other
// batches read it without a lock and write back only the points, with an upsert:
// every change of a member's points from a campaign holds the member's row lock
// (the batches), so what a batch read under that lock stays true until it
// commits, and a batch writes one row version per pair instead of three (insert,
// lock, update).
func (s *Service) readBudgets(ctx context.Context, pipe *database.Pipeline, campaignIDs, memberIDs []string, lane ledger.BudgetLane, lockUses bool) (read func() (*budgets, error)) {
	var pairs campaignsdb.EnsureCampaignUsesParams
	for _, c := range campaignIDs {
		for _, m := range memberIDs {
			pairs.CampaignIds = append(pairs.CampaignIds, c)
			pairs.MemberIds = append(pairs.MemberIds, m)
		}
	}
	var ensure *campaignsdb.EnsureCampaignUsesBatchResults
	var uses interface {
		Query(func(int, []campaignsdb.CampaignMember, error))
	}
	if lockUses {
		ensure = s.q.EnsureCampaignUses(ctx, pipe, []campaignsdb.EnsureCampaignUsesParams{pairs})
		uses = s.q.LockCampaignUses(ctx, pipe, []campaignsdb.LockCampaignUsesParams{campaignsdb.LockCampaignUsesParams(pairs)})
	} else {
		uses = s.q.CampaignUsesOf(ctx, pipe, []campaignsdb.CampaignUsesOfParams{campaignsdb.CampaignUsesOfParams(pairs)})
	}
	budgetRows := s.q.LockCampaignBudgets(ctx, pipe, []campaignsdb.LockCampaignBudgetsParams{{
		CampaignIds: campaignIDs, Lanes: int32(lane.Lanes), Lane: int32(lane.Lane)}})
	exhaustedRows := s.q.ExhaustedCampaignsOf(ctx, pipe, [][]string{campaignIDs})
	return func() (*budgets, error) {
		b := &budgets{s: s, state: map[string]*campaignBudget{}, uses: map[useKey]*memberUse{}, usesLocked: lockUses, read: map[useKey]bool{}}
		for i := range pairs.CampaignIds {
			b.read[useKey{pairs.CampaignIds[i], pairs.MemberIds[i]}] = true
		}
		var errs []error
		if ensure != nil {
			ensure.Exec(func(_ int, err error) {
				if err != nil {
					errs = append(errs, err)
				}
			})
		}
		uses.Query(func(_ int, rows []campaignsdb.CampaignMember, err error) {
			if err != nil {
				errs = append(errs, err)
			}
			for _, r := range rows {
				b.uses[useKey{r.CampaignID, r.MemberID}] = &memberUse{points: r.Points, coupons: int64(r.Coupons)}
			}
		})
		budgetRows.Query(func(_ int, rows []campaignsdb.LockCampaignBudgetsRow, err error) {
			if err != nil {
				errs = append(errs, err)
			}
			for _, r := range rows {
				cb := b.state[r.CampaignID]
				if cb == nil {
					cb = &campaignBudget{
						campaign:  Campaign{ID: r.CampaignID, Status: r.Status, Start: nullable.Value(r.StartTime), End: nullable.Value(r.EndTime)},
						capPoints: nullable.Value(r.CapPoints), capCoupons: int64(nullable.Value(r.CapCoupons)),
					}
					b.state[r.CampaignID] = cb
				}
				cb.slices = append(cb.slices, &budgetSlice{slice: r.Slice, budgetPoints: unboundedIfNull(r.BudgetPoints),
					budgetCoupons: unboundedIfNull(r.BudgetCoupons), spentPoints: r.SpentPoints, issuedCoupons: r.IssuedCoupons, grants: r.Grants})
				cb.partial = len(cb.slices) < int(r.SliceCount)
			}
		})
		exhaustedRows.Query(func(_ int, ids []string, err error) {
			if err != nil {
				errs = append(errs, err)
			}
			for _, id := range ids {
				if cb := b.state[id]; cb != nil {
					cb.exhausted = true
				}
			}
		})
		if len(errs) > 0 {
			return nil, fmt.Errorf("campaign budgets: %w", errs[0])
		}
		return b, nil
	}
}

// use is what the member got from the campaign so far, as read (zero if unread).
func (b *budgets) use(campaignID, memberID string) *memberUse {
	k := useKey{campaignID, memberID}
	u := b.uses[k]
	if u == nil {
		u = &memberUse{}
		b.uses[k] = u
	}
	return u
}

// take applies the budget and cap rule (take) to a grant of the campaign to the
// member, starting at the member's slice. A campaign without a budget read (gone)
// is not active, as it was for campaign_take.
func (b *budgets) take(campaignID, memberID string, wantPoints, wantCoupons int64, now time.Time) takeResult {
	cb := b.state[campaignID]
	if cb == nil {
		return takeResult{refusal: RefusedNotActive}
	}
	got := take(cb, b.use(campaignID, memberID), wantPoints, wantCoupons, sliceOf(memberID, len(cb.slices)), now)
	// Told once, by the first take that sees every slice spent: the one that
	// spent the last of it, or, when a lane's slices gave the last points, the
	// first later one that had to read every slice to be answered.
	if !got.incomplete && !cb.partial && !cb.exhausted && budgetRanOut(cb) {
		cb.exhausted = true
		b.exhaustedNow, b.exhaustedAt = append(b.exhaustedNow, campaignID), now
		b.events = append(b.events, exhaustedEvent(campaignID, cb, now))
	}
	return got
}

// budgetRanOut is the rule of a budget that ran out: a bounded points budget or a
// bounded coupon budget is all given (whichever comes first: the campaign cannot
// give what its grants ask any more). Only all the slices can tell.
func budgetRanOut(cb *campaignBudget) bool {
	var budgetP, spentP, budgetC, issuedC int64
	boundedP, boundedC := true, true
	for _, sl := range cb.slices {
		if sl.budgetPoints < 0 {
			boundedP = false
		}
		if sl.budgetCoupons < 0 {
			boundedC = false
		}
		budgetP, spentP = budgetP+max(sl.budgetPoints, 0), spentP+sl.spentPoints
		budgetC, issuedC = budgetC+max(sl.budgetCoupons, 0), issuedC+sl.issuedCoupons
	}
	return (boundedP && budgetP > 0 && spentP >= budgetP) || (boundedC && budgetC > 0 && issuedC >= budgetC)
}

// exhaustedEvent is the campaign.budget_exhausted event of a campaign whose budget
// ran out at now.
func exhaustedEvent(id string, cb *campaignBudget, now time.Time) events.Event {
	d := events.CampaignData{CampaignID: id, Status: cb.campaign.EffectiveStatus(now)}
	for _, sl := range cb.slices {
		d.Budget += max(sl.budgetPoints, 0)
		d.Spent += sl.spentPoints
	}
	return events.Event{Type: events.CampaignBudgetSpent, OccurTime: now, Data: d}
}

// Events are the events of what the takes did to the budgets (a budget that ran
// out), for the caller to write with the budgets (ledger.Budgets).
func (b *budgets) Events() []events.Event { return b.events }

func unboundedIfNull(v *int64) int64 {
	if v == nil {
		return -1
	}
	return *v
}

// Grant applies every running points campaign the member and the order qualify for:
// each bonus (Campaign.Bonus) within what the budget and the member's cap leave
// (take), and records what each gave the order, for refunds. A grant the lane's
// slices cannot answer is ledger.ErrBudgetsIncomplete.
func (b *budgets) Grant(ctx context.Context, e ledger.PromotedEarning) ([]ledger.Bonus, []ledger.BonusRefusal, error) {
	facts := Facts{
		Member: MemberFacts{TierID: e.TierID, MemberID: e.MemberID, JoinTime: e.JoinTime},
		Order:  OrderFacts{OrderID: e.OrderID, SpendMinor: e.SpendMinor, Currency: e.Currency},
	}
	if e.Profile != nil && slices.ContainsFunc(b.campaigns, func(c Campaign) bool { return c.rule != nil }) {
		profileFacts(&facts.Member, e.Profile()) // only a rule reads it
	}
	var bonuses []ledger.Bonus
	var refusals []ledger.BonusRefusal
	for _, c := range b.campaigns {
		want := c.Bonus(e.BasePoints)
		if want <= 0 {
			continue
		}
		ok, ruleErr := b.s.eligible(ctx, c, facts)
		if ruleErr != nil {
			refusals = append(refusals, ledger.BonusRefusal{CampaignID: c.ID, Reason: RefusedRuleError, RuleError: ruleErr.Err.Error()})
			continue
		}
		if !ok {
			continue
		}
		got := b.take(c.ID, e.MemberID, want, 0, e.Now)
		if got.incomplete {
			return nil, nil, fmt.Errorf("campaign %s: %w", c.ID, ledger.ErrBudgetsIncomplete)
		}
		if got.refusal != "" {
			refusals = append(refusals, ledger.BonusRefusal{CampaignID: c.ID, Reason: got.refusal})
			continue
		}
		if e.OrderID != "" {
			b.grants = append(b.grants, orderGrant{memberID: e.MemberID, orderID: e.OrderID, campaignID: c.ID, points: got.points})
		}
		bonuses = append(bonuses, ledger.Bonus{CampaignID: c.ID, Account: Account(c.ID), Points: got.points,
			Description: c.describe(got.points < want)})
	}
	return bonuses, refusals, nil
}

// QueueWrites queues the slices, member uses and order grants that were changed.
func (b *budgets) QueueWrites(ctx context.Context, pipe *database.Pipeline) {
	var sl campaignsdb.WriteCampaignBudgetsParams
	for id, cb := range b.state {
		for _, s := range cb.slices {
			if s.changed {
				sl.CampaignIds = append(sl.CampaignIds, id)
				sl.Slices = append(sl.Slices, s.slice)
				sl.SpentPoints = append(sl.SpentPoints, s.spentPoints)
				sl.IssuedCoupons = append(sl.IssuedCoupons, s.issuedCoupons)
				sl.Grants = append(sl.Grants, s.grants)
			}
		}
	}
	if len(sl.CampaignIds) > 0 {
		b.s.q.WriteCampaignBudgets(ctx, pipe, []campaignsdb.WriteCampaignBudgetsParams{sl})
	}
	var uses campaignsdb.WriteCampaignUsesParams
	for k, u := range b.uses {
		if u.changed {
			uses.CampaignIds = append(uses.CampaignIds, k.campaignID)
			uses.MemberIds = append(uses.MemberIds, k.memberID)
			uses.Points = append(uses.Points, u.points)
			uses.Coupons = append(uses.Coupons, int32(u.coupons))
		}
	}
	switch {
	case len(uses.CampaignIds) == 0:
	case b.usesLocked:
		b.s.q.WriteCampaignUses(ctx, pipe, []campaignsdb.WriteCampaignUsesParams{uses})
	default:
		b.s.q.WriteCampaignUsePoints(ctx, pipe, []campaignsdb.WriteCampaignUsePointsParams{{
			CampaignIds: uses.CampaignIds, MemberIds: uses.MemberIds, Points: uses.Points}})
	}
	if len(b.grants) > 0 {
		var g campaignsdb.WriteOrderGrantsParams
		for _, o := range b.grants {
			g.MemberIds = append(g.MemberIds, o.memberID)
			g.OrderIds = append(g.OrderIds, o.orderID)
			g.CampaignIds = append(g.CampaignIds, o.campaignID)
			g.Points = append(g.Points, o.points)
		}
		b.s.q.WriteOrderGrants(ctx, pipe, []campaignsdb.WriteOrderGrantsParams{g})
	}
	if len(b.exhaustedNow) > 0 {
		b.s.q.MarkBudgetsExhausted(ctx, pipe, []campaignsdb.MarkBudgetsExhaustedParams{{CampaignIds: b.exhaustedNow, Now: b.exhaustedAt}})
	}
	b.queueClaimWrites(ctx, pipe)
	b.queueActivityWrites(ctx, pipe)
	b.queueReferralWrites(ctx, pipe)
}

// TakePoints takes a bulk credit's points for the member from the campaign's budget
// (take, from the member's slice): what the budget and the member's cap leave, so
// a bulk credit stops at the budget exactly, or a refusal.
func (b *budgets) TakePoints(campaignID, memberID string, points int64, now time.Time) (int64, string, error) {
	got := b.take(campaignID, memberID, points, 0, now)
	if got.incomplete {
		return 0, "", fmt.Errorf("campaign %s: %w", campaignID, ledger.ErrBudgetsIncomplete)
	}
	return got.points, got.refusal, nil
}
