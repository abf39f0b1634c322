package ledger

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

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
// return window, to pending until the window is over. The member's tier part and
// the campaigns' bonuses are decided in the write path, under the member's lock
// (decideEarn), so an earning needs no read before it and is group-committed with
// others, campaign earnings included.
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
	fp := fingerprint("earn", cmd)
	lines, err := earnBreakdown(prog, cmd)
	if err != nil {
		// A repeat answers its first result even if today's settings refuse it.
		if e, found, serr := s.stored(ctx, s.pool, plan{memberID: cmd.MemberID, requestID: cmd.RequestID, fingerprint: fp}); found && serr == nil {
			return withStoredCampaignLines(EarnResult{Entry: e}), nil
		}
		return EarnResult{}, err
	}
	ep := &earnPlan{policy: policy, lines: lines, spend: cmd.SpendMinor, credit: AccountAvailable,
		applyTier: cmd.OrderID != "" || cmd.SpendMinor > 0}
	for _, l := range lines {
		ep.points += l.Points
		if l.Source == tiers.SourceBase {
			ep.base += l.Points
		}
		if policy.Counts(l.Source) {
			ep.qualifyingPoints += l.Points
		}
	}
	if s.promotions != nil && cmd.OrderID != "" && cmd.SpendMinor > 0 {
		if ep.campaigns, err = s.promotions.PointsCampaignsAt(ctx, now); err != nil {
			return EarnResult{}, err
		}
	}
	res := EarnResult{Points: ep.points, Breakdown: lines}
	if ep.points == 0 && len(ep.campaigns) == 0 {
		return res, nil
	}
	p := plan{
		memberID: cmd.MemberID, kind: KindEarn, requestID: cmd.RequestID, fingerprint: fp,
		orderID: cmd.OrderID, memo: cmd.Reason, actorKeyID: actor.KeyID,
		lotExpire: prog.LotExpiry(now), at: now, earn: ep,
	}
	if cmd.OrderID != "" {
		p.recordOrder, p.orderSpendMinor, p.orderCurrency = true, cmd.SpendMinor, cmd.Currency
		if prog.ReturnWindowDays > 0 {
			ep.credit = AccountPending
			p.releaseTime = now.AddDate(0, 0, int(prog.ReturnWindowDays))
		}
	}
	o, err := s.post(ctx, p)
	switch {
	case err != nil:
		return EarnResult{}, err
	case o.err != nil:
		return EarnResult{}, o.err
	case o.replayed:
		res.Entry = o.entry
		return withStoredCampaignLines(res), nil
	}
	res.Entry, res.Breakdown, res.Points, res.CampaignRefusals = o.entry, o.breakdown, o.points, o.refusals
	return res, nil
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

// earnBreakdown computes what an earning is made of before the member's tier and
// the campaigns add to it: explicit points, or the base rate applied to the spend.
func earnBreakdown(prog Program, cmd Earn) ([]BreakdownLine, error) {
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
	return lines, nil
}

// qualification is what an earning adds to the member's qualifying metric, or nil
// when it adds nothing.
func qualification(policy tiers.Policy, now time.Time, points, spend int64) *qualifying {
	if points <= 0 && spend <= 0 {
		return nil
	}
	return &qualifying{day: tiers.Day(now), points: points, spend: spend, policy: policy, at: now}
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
	return s.postEntry(ctx, plan{
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
