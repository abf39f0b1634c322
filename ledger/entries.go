package ledger

import (
	"context"
	"time"

	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
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
	return e
}

// Actor is who acts: the API key behind the call, recorded on every entry.
type Actor struct {
	KeyID string
}

// Earn credits explicit points.
type Earn struct {
	MemberID  string `json:"memberId" validate:"required,shopid"`
	RequestID string `json:"requestId" validate:"required,requestid"`
	Points    int64  `json:"points" validate:"gt=0,lte=1000000000000"`
	OrderID   string `json:"orderId" validate:"omitempty,shopid"`
	Reason    string `json:"reason" validate:"max=200"`
}

// EarnResult is an earning and how it was computed.
type EarnResult struct {
	Entry     Entry
	Breakdown []BreakdownLine
}

// BreakdownLine explains part of an earning.
type BreakdownLine struct {
	Source      string // EXPLICIT, BASE, TIER, CAMPAIGN
	Points      int64
	Description string
}

// Earn credits points to the member's available balance.
func (s *Service) Earn(ctx context.Context, actor Actor, cmd Earn) (EarnResult, error) {
	if err := validation.Struct(cmd); err != nil {
		return EarnResult{}, err
	}
	e, err := s.post(ctx, plan{
		memberID: cmd.MemberID, kind: KindEarn, requestID: cmd.RequestID,
		fingerprint: fingerprint("earn", cmd), postings: earnPostings(cmd.Points),
		orderID: cmd.OrderID, memo: cmd.Reason, actorKeyID: actor.KeyID,
	})
	if err != nil {
		return EarnResult{}, err
	}
	return EarnResult{Entry: e, Breakdown: []BreakdownLine{{Source: "EXPLICIT", Points: e.Delta(AccountAvailable), Description: "explicit points"}}}, nil
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
