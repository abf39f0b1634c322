package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
	"github.com/loyalty-engine/loyalty/tiers"
)

// Entry is an immutable journal entry.
type Entry struct {
	ID              int64
	MemberID        string
	Kind            Kind
	Postings        []Posting
	AvailableAfter  int64
	PendingAfter    int64
	HeldAfter       int64
	RequestID       string
	OrderID         string
	HoldID          int64
	ReversesEntryID int64
	Memo            string
	ActorKeyID      string
	ReasonCode      string
	TicketID        string
	CreateTime      time.Time

	// The tier's part of an earning the write statement applied, and the tier
	// (only on the answer to the request that posted it).
	tierPoints int64
	tierID     string
}

// Delta is the entry's net change to one account.
func (e Entry) Delta(account string) int64 {
	var sum int64
	for _, p := range e.Postings {
		if p.Account == account {
			sum += p.Amount
		}
	}
	return sum
}

func toEntry(r ledgerdb.Entry) Entry {
	e := Entry{
		ID: r.EntryID, MemberID: r.MemberID, Kind: Kind(r.Kind),
		AvailableAfter: r.AvailableAfter, PendingAfter: r.PendingAfter, HeldAfter: r.HeldAfter,
		RequestID: r.RequestID, Memo: r.Memo, ActorKeyID: r.ActorKeyID, CreateTime: r.CreateTime,
	}
	e.Postings = make([]Posting, len(r.Accounts))
	for i := range r.Accounts {
		e.Postings[i] = Posting{Account: r.Accounts[i], Amount: r.Amounts[i]}
	}
	if r.OrderID != nil {
		e.OrderID = *r.OrderID
	}
	if r.HoldID != nil {
		e.HoldID = *r.HoldID
	}
	if r.ReversesEntryID != nil {
		e.ReversesEntryID = *r.ReversesEntryID
	}
	if r.ReasonCode != nil {
		e.ReasonCode = *r.ReasonCode
	}
	if r.TicketID != nil {
		e.TicketID = *r.TicketID
	}
	return e
}

// Actor is who acts: the API key behind the call, recorded on every entry.
type Actor struct {
	KeyID string
	// GoodwillLimited: this key's goodwill grants are held to its limits (agent
	// keys); above them a grant waits for approval.
	GoodwillLimited bool
}

// Earn credits points: explicit ones, or those a spend earns under the program's
// rules.
type Earn struct {
	MemberID   string `json:"memberId" validate:"required,shopid"`
	RequestID  string `json:"requestId" validate:"required,requestid"`
	Points     int64  `json:"points" validate:"gte=0,lte=1000000000000"`
	SpendMinor int64  `json:"spend.amountMinor" validate:"gte=0,lte=10000000000000"`
	// Currency is checked against the program's currencies (SpendRule).
	Currency string `json:"spend.currency"`
	OrderID  string `json:"orderId" validate:"omitempty,shopid"`
	Reason   string `json:"reason" validate:"max=200"`
}

// EarnResult is an earning and how it was computed. Entry is zero when the spend
// earned no points (nothing was posted).
type EarnResult struct {
	Entry     Entry
	Points    int64
	Breakdown []BreakdownLine
	// CampaignRefusals are campaigns the earning qualified for that gave nothing.
	CampaignRefusals []BonusRefusal
}

// BreakdownLine explains part of an earning.
type BreakdownLine struct {
	Source      string // EXPLICIT, BASE, TIER, CAMPAIGN
	CampaignID  string // of a CAMPAIGN line
	Points      int64
	Description string
}

// ErrOrderAlreadyEarned refuses a second earning on one order.
var ErrOrderAlreadyEarned = problem.New(problem.Conflict, "ORDER_ALREADY_EARNED", "this order has already earned points")

// Earn credits points: to available, or, for an order while the program has a
// return window, to pending until the window is over.
func (s *Service) Earn(ctx context.Context, actor Actor, cmd Earn) (EarnResult, error) {
	if err := validation.Struct(cmd); err != nil {
		return EarnResult{}, err
	}
	// Every earning needs the settings: its lot's expiry, and the rate of a spend.
	prog, err := s.programOn(ctx, s.pool)
	if err != nil {
		return EarnResult{}, err
	}
	policy, err := s.tiers.PolicyOn(ctx, s.pool)
	if err != nil {
		return EarnResult{}, err
	}
	now := s.clock.Now()
	// An order's earning applies the member's tier (its multiplier on a spend)
	// and records it with its perks, for the order's refunds. The write statement
	// does it (tier_part), unless campaigns may apply: they need the tier first,
	// for their eligibility.
	promoted := s.promotions != nil && cmd.OrderID != "" && cmd.SpendMinor > 0 && s.promotions.MayApply(ctx, now)
	tierInStatement := (cmd.OrderID != "" || cmd.SpendMinor > 0) && !promoted
	var standing *tiers.Standing
	if promoted {
		st, err := s.tiers.StandingAt(ctx, s.pool, policy, cmd.MemberID, now)
		if err != nil {
			return EarnResult{}, err
		}
		standing = &st
	}
	breakdown, err := earnBreakdown(prog, standing, cmd)
	if err != nil {
		return EarnResult{}, err
	}
	var points, qualifyingPoints int64
	for _, l := range breakdown {
		points += l.Points
		if policy.Counts(l.Source) {
			qualifyingPoints += l.Points
		}
	}
	res := EarnResult{Points: points, Breakdown: breakdown}
	if points == 0 && !promoted {
		return res, nil
	}
	p := plan{
		memberID: cmd.MemberID, kind: KindEarn, requestID: cmd.RequestID,
		fingerprint: fingerprint("earn", cmd), postings: earnPostings(points),
		orderID: cmd.OrderID, memo: cmd.Reason, actorKeyID: actor.KeyID,
		lotExpire: prog.LotExpiry(now),
		qualify:   qualification(policy, now, qualifyingPoints, cmd.SpendMinor),
		at:        now,
	}
	if tierInStatement {
		if p.tier, err = tierPlanOf(policy, breakdown, now); err != nil {
			return EarnResult{}, err
		}
	}
	if cmd.OrderID != "" {
		p.recordOrder, p.orderSpendMinor, p.orderCurrency, p.orderPoints = true, cmd.SpendMinor, cmd.Currency, points
		if standing != nil {
			p.orderTierID = standing.TierID
			if p.orderPerks, err = json.Marshal(standing.Perks); err != nil {
				return EarnResult{}, fmt.Errorf("encode perks: %w", err)
			}
		}
		if prog.ReturnWindowDays > 0 {
			p.postings = pendingEarnPostings(points)
			p.releaseTime = now.AddDate(0, 0, int(prog.ReturnWindowDays))
		}
	}
	if promoted {
		res, err = s.earnWithCampaigns(ctx, cmd, p, res, *standing, policy, now)
	} else {
		res.Entry, err = s.post(ctx, p)
		if err == nil && res.Entry.tierPoints > 0 {
			res.Breakdown = append(res.Breakdown, tierLine(policy, res.Entry.tierID, res.Entry.tierPoints))
			res.Points += res.Entry.tierPoints
		}
	}
	if database.IsUniqueViolation(err, "entries_order_earned_once") {
		if e, found, serr := s.stored(ctx, s.pool, p); found || serr != nil {
			res.Entry = e
			return withStoredCampaignLines(res), serr
		}
		return EarnResult{}, ErrOrderAlreadyEarned.With("order %q has already earned points for member %q", cmd.OrderID, cmd.MemberID)
	}
	if err != nil {
		return EarnResult{}, err
	}
	return withStoredCampaignLines(res), nil
}

// withStoredCampaignLines makes the answer to a repeated earning show what the
// stored entry holds: a repeat does not ask the campaigns again (they granted
// once), so its campaign lines come from the entry's postings, one per campaign
// account; its tier part is what the entry credited beyond the base and the
// campaigns; and its points are the entry's.
func withStoredCampaignLines(res EarnResult) EarnResult {
	if res.Entry.ID == 0 {
		return res
	}
	credit := res.Entry.Delta(AccountAvailable) + res.Entry.Delta(AccountPending)
	if credit == res.Points {
		return res
	}
	lines := slices.DeleteFunc(slices.Clone(res.Breakdown), func(l BreakdownLine) bool {
		return l.Source == tiers.SourceCampaign || l.Source == tiers.SourceTier
	})
	var known int64
	for _, l := range lines {
		known += l.Points
	}
	var campaigns []BreakdownLine
	for _, p := range res.Entry.Postings {
		if id, ok := strings.CutPrefix(p.Account, campaignAccountPrefix); ok && p.Amount < 0 {
			campaigns = append(campaigns, BreakdownLine{Source: tiers.SourceCampaign, CampaignID: id, Points: -p.Amount, Description: "campaign " + id})
			known -= p.Amount
		}
	}
	if tier := credit - known; tier > 0 {
		lines = append(lines, BreakdownLine{Source: tiers.SourceTier, Points: tier, Description: "tier part, as first recorded"})
	}
	res.Breakdown, res.Points = append(lines, campaigns...), credit
	return res
}

// tierPlanOf is what the write statement needs to apply the member's tier to an
// earning whose breakdown so far is lines (BASE, or EXPLICIT).
func tierPlanOf(policy tiers.Policy, lines []BreakdownLine, now time.Time) (*tierPlan, error) {
	t := &tierPlan{counts: policy.Counts(tiers.SourceTier), at: now}
	perks := make(map[string]tiers.Perks, len(policy.Tiers))
	for _, tier := range policy.Tiers {
		t.ids = append(t.ids, tier.ID)
		t.multipliers = append(t.multipliers, tier.Perks.EarnMultiplierPercent)
		perks[tier.ID] = tier.Perks
	}
	for _, l := range lines {
		if l.Source == tiers.SourceBase {
			t.base += l.Points
		}
	}
	var err error
	if t.perks, err = json.Marshal(perks); err != nil {
		return nil, fmt.Errorf("encode perks: %w", err)
	}
	return t, nil
}

// tierLine is the breakdown line of a tier's part.
func tierLine(policy tiers.Policy, tierID string, points int64) BreakdownLine {
	return BreakdownLine{Source: tiers.SourceTier, Points: points,
		Description: fmt.Sprintf("%s tier: %d%% of the base", tierID, policy.Tier(tierID).Perks.EarnMultiplierPercent)}
}

// earnWithCampaigns posts an earning that campaigns may add to: in one
// transaction, the campaigns take their bonuses from their budgets and the member's
// caps, and the entry credits base, tier and campaign points together, each from
// its own account (system:issued, system:campaign:<id>). A repeat of the request
// answers the first result and takes nothing.
func (s *Service) earnWithCampaigns(ctx context.Context, cmd Earn, p plan, res EarnResult, standing tiers.Standing, policy tiers.Policy, now time.Time) (EarnResult, error) {
	base := res.Breakdown[0].Points
	var out EarnResult
	q := p
	var entry Entry
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out, q = res, p
		out.Breakdown = slices.Clone(res.Breakdown)
		// No look for a stored answer first: a repeat takes its bonuses again, then
		// fails on the request's unique key, and the rollback gives them back;
		// settlePost answers the first result.
		bonuses, refusals, err := s.promotions.Grant(ctx, tx, PromotedEarning{
			MemberID: cmd.MemberID, TierID: standing.TierID, JoinTime: standing.JoinTime, OrderID: cmd.OrderID, SpendMinor: cmd.SpendMinor,
			Currency: cmd.Currency, BasePoints: base, Now: now,
		})
		if err != nil {
			return err
		}
		out.CampaignRefusals = refusals
		credit := p.postings[0].Account // available, or pending for an order in its return window
		var qualifyingBonus int64
		q.postings = nil
		if out.Points > 0 {
			q.postings = []Posting{{AccountIssued, -out.Points}}
		}
		for _, b := range bonuses {
			out.Breakdown = append(out.Breakdown, BreakdownLine{Source: tiers.SourceCampaign, CampaignID: b.CampaignID, Points: b.Points, Description: b.Description})
			out.Points += b.Points
			q.postings = append(q.postings, Posting{b.Account, -b.Points})
			if policy.Counts(tiers.SourceCampaign) {
				qualifyingBonus += b.Points
			}
		}
		if out.Points == 0 {
			return nil
		}
		q.postings = append([]Posting{{credit, out.Points}}, q.postings...)
		q.orderPoints = out.Points
		if qualifyingBonus > 0 {
			var qualifyingPoints int64
			if p.qualify != nil {
				qualifyingPoints = p.qualify.points
			}
			q.qualify = qualification(policy, now, qualifyingPoints+qualifyingBonus, cmd.SpendMinor)
		}
		entry, err = s.append(ctx, tx, q)
		return err
	})
	if out.Points == 0 && err == nil && entry.ID == 0 {
		return out, nil
	}
	out.Entry, err = s.settlePost(ctx, q, entry, err)
	return out, err
}

// earnBreakdown computes what an earning is made of: explicit points, or the base
// rate applied to the spend and the tier's multiplier on top (rounded down, each
// part on its own).
func earnBreakdown(prog Program, standing *tiers.Standing, cmd Earn) ([]BreakdownLine, error) {
	switch {
	case cmd.Points > 0 && cmd.SpendMinor > 0:
		return nil, problem.InvalidField("points", "cannot be given together with spend")
	case cmd.Points > 0 && cmd.Currency != "":
		return nil, problem.InvalidField("spend.currency", "is only used with spend.amountMinor, not with points")
	case cmd.Points > 0:
		return []BreakdownLine{{Source: tiers.SourceExplicit, Points: cmd.Points, Description: "explicit points"}}, nil
	case cmd.SpendMinor == 0:
		return nil, problem.InvalidFields(
			problem.FieldViolation{Field: "points", Description: "give points or a spend"},
			problem.FieldViolation{Field: "spend.amountMinor", Description: "give points or a spend"})
	}
	if err := SpendRule(prog, cmd.OrderID, cmd.Currency); err != nil {
		return nil, err
	}
	base := prog.PointsForSpend(cmd.SpendMinor)
	if base > MaxPoints {
		// Past this the tier's and campaigns' parts could overflow in the write
		// statement; no real order earns a trillion points.
		return nil, problem.InvalidField("spend.amountMinor", fmt.Sprintf(
			"earns %d points at the program's rate, more than the %d one entry may move", base, int64(MaxPoints)))
	}
	lines := []BreakdownLine{{
		Source: tiers.SourceBase, Points: base,
		Description: fmt.Sprintf("%d point(s) per %d minor units spent", prog.EarnPoints, prog.EarnPerAmountMinor),
	}}
	if standing == nil {
		return lines, nil // the write statement adds the tier's part
	}
	if m := standing.Perks.EarnMultiplierPercent; m > 100 {
		lines = append(lines, BreakdownLine{
			Source: tiers.SourceTier, Points: mulDiv(base, int64(m-100), 100),
			Description: fmt.Sprintf("%s tier: %d%% of the base", standing.TierID, m),
		})
	}
	return lines, nil
}

// qualification is what an earning adds to the member's qualifying metric, or nil
// when it adds nothing.
func qualification(policy tiers.Policy, now time.Time, points, spend int64) *qualifying {
	if points <= 0 && spend <= 0 {
		return nil
	}
	return &qualifying{day: tiers.Day(now), points: points, spend: spend, policy: policy.QualificationAt(now)}
}

// Redeem spends available points.
type Redeem struct {
	MemberID  string `json:"memberId" validate:"required,shopid"`
	RequestID string `json:"requestId" validate:"required,requestid"`
	Points    int64  `json:"points" validate:"gt=0,lte=1000000000000"`
	OrderID   string `json:"orderId" validate:"omitempty,shopid"`
	Memo      string `json:"memo" validate:"max=200"`
}

// Redeem spends available points, or fails with ErrInsufficientPoints and changes
// nothing.
func (s *Service) Redeem(ctx context.Context, actor Actor, cmd Redeem) (Entry, error) {
	if err := validation.Struct(cmd); err != nil {
		return Entry{}, err
	}
	return s.post(ctx, plan{
		memberID: cmd.MemberID, kind: KindRedeem, requestID: cmd.RequestID,
		fingerprint: fingerprint("redeem", cmd), postings: redeemPostings(cmd.Points),
		orderID: cmd.OrderID, memo: cmd.Memo, actorKeyID: actor.KeyID,
	})
}

// Errors of reversals.
var (
	ErrEntryNotFound   = problem.New(problem.NotFound, "ENTRY_NOT_FOUND", "entry not found")
	ErrNotReversible   = problem.New(problem.Precondition, "NOT_REVERSIBLE", "this kind of entry cannot be reversed")
	ErrAlreadyReversed = problem.New(problem.Precondition, "ALREADY_REVERSED", "the entry is already reversed")
)

// Reverse posts the opposite of an entry.
type Reverse struct {
	EntryID   int64  `json:"entryId" validate:"gt=0"`
	RequestID string `json:"requestId" validate:"required,requestid"`
	Reason    string `json:"reason" validate:"required,max=200"`
}
