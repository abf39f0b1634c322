package ledger

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/pagetoken"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
	"github.com/loyalty-engine/loyalty/tiers"
)

// ReasonCodes is the catalogue of goodwill reasons and after-sales event types.
var ReasonCodes = []string{"LATE_DELIVERY", "DAMAGED_ITEM", "WRONG_ITEM", "MISSING_ITEM", "REFUND_DELAY", "SERVICE_COMPLAINT", "OTHER"}

// Default goodwill limits of a limited (agent) key.
const (
	DefaultGoodwillPerGrant = 500
	DefaultGoodwillPerDay   = 2000
)

// Approval statuses.
const (
	ApprovalPending  = "PENDING"
	ApprovalApproved = "APPROVED"
	ApprovalRejected = "REJECTED"
)

// Errors of goodwill.
var (
	ErrApprovalNotFound   = problem.New(problem.NotFound, "APPROVAL_NOT_FOUND", "approval not found")
	ErrApprovalNotPending = problem.New(problem.Precondition, "APPROVAL_NOT_PENDING", "the approval is already decided")
	ErrKeyNotFound        = problem.New(problem.NotFound, "API_KEY_NOT_FOUND", "API key not found")
)

// GrantGoodwill is an agent's grant of goodwill points.
type GrantGoodwill struct {
	MemberID   string `json:"memberId" validate:"required,shopid"`
	RequestID  string `json:"requestId" validate:"required,requestid"`
	Points     int64  `json:"points" validate:"gt=0,lte=1000000000"`
	ReasonCode string `json:"reasonCode" validate:"required,oneof=LATE_DELIVERY DAMAGED_ITEM WRONG_ITEM MISSING_ITEM REFUND_DELAY SERVICE_COMPLAINT OTHER"`
	TicketID   string `json:"ticketId" validate:"required,max=100"`
	Note       string `json:"note" validate:"max=500"`
}

// Approval is a goodwill grant above the agent's limits, waiting for an admin.
type Approval struct {
	ID          int64
	MemberID    string
	Points      int64
	ReasonCode  string
	TicketID    string
	Note        string
	RequestedBy string
	Status      string
	DecidedBy   string
	EntryID     int64
	CreateTime  time.Time
	DecideTime  time.Time
}

// GoodwillResult is either a posted entry or an approval waiting for an admin.
type GoodwillResult struct {
	Entry    Entry
	Approval *Approval
}

// GoodwillLimits are a key's goodwill limits.
type GoodwillLimits struct {
	KeyID    string
	PerGrant int64 `json:"perGrant" validate:"gte=0,lte=1000000000"`
	PerDay   int64 `json:"perDay" validate:"gte=0,lte=1000000000"`
	// Default: the key has no limits of its own, these are the defaults.
	Default bool `json:"-"`
}

// GrantGoodwill credits goodwill points, or, when the grant is above a limited key's
// per-grant limit or would take its day's total above the daily limit, records an
// approval for an admin. It goes through the write path's group commit: the batch
// locks the member, then the key's usage row of the day, so racing grants of one
// key are decided one after the other (goodwillNeedsApproval) and cannot pass the
// daily limit together. The limits, like the program's settings, are read before.
func (s *Service) GrantGoodwill(ctx context.Context, actor Actor, cmd GrantGoodwill) (GoodwillResult, error) {
	if err := validation.Struct(cmd); err != nil {
		return GoodwillResult{}, err
	}
	p := plan{
		memberID: cmd.MemberID, kind: KindGoodwill, requestID: cmd.RequestID,
		fingerprint: fingerprint("goodwill", cmd), postings: goodwillPostings(cmd.Points, cmd.ReasonCode),
		memo: cmd.Note, actorKeyID: actor.KeyID, reasonCode: cmd.ReasonCode, ticketID: cmd.TicketID,
		goodwill: &goodwillGrant{points: cmd.Points},
	}
	var err error
	if p.qualify, err = s.goodwillQualification(ctx, cmd.Points); err != nil {
		return GoodwillResult{}, err
	}
	if p.lotExpire, err = s.lotExpiry(ctx, s.pool); err != nil {
		return GoodwillResult{}, err
	}
	if actor.GoodwillLimited {
		limits, err := s.goodwillLimits(ctx, s.pool, actor.KeyID)
		if err != nil {
			return GoodwillResult{}, err
		}
		g := p.goodwill
		g.limited, g.keyID, g.perGrant, g.perDay = true, actor.KeyID, limits.PerGrant, limits.PerDay
		g.day = s.clock.Now().UTC().Truncate(24 * time.Hour)
	}
	o, err := s.post(ctx, p)
	if err != nil {
		return GoodwillResult{}, err
	}
	if o.err != nil {
		return GoodwillResult{}, o.err
	}
	if o.approval != nil {
		return GoodwillResult{Approval: o.approval}, nil
	}
	return GoodwillResult{Entry: o.entry}, nil
}

func (s *Service) goodwillLimits(ctx context.Context, db ledgerdb.DBTX, keyID string) (GoodwillLimits, error) {
	row, err := s.q.GetGoodwillLimits(ctx, db, keyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return GoodwillLimits{KeyID: keyID, PerGrant: DefaultGoodwillPerGrant, PerDay: DefaultGoodwillPerDay, Default: true}, nil
	}
	if err != nil {
		return GoodwillLimits{}, fmt.Errorf("goodwill limits of %s: %w", keyID, err)
	}
	return GoodwillLimits{KeyID: keyID, PerGrant: row.PerGrant, PerDay: row.PerDay}, nil
}

// GoodwillLimitsOf reads a key's goodwill limits, its own or the defaults: the
// limits GrantGoodwill applies to it. The key's existence is the caller's to check
// (keys are access's).
func (s *Service) GoodwillLimitsOf(ctx context.Context, keyID string) (GoodwillLimits, error) {
	return s.goodwillLimits(ctx, s.pool, keyID)
}

// SetGoodwillLimits sets a key's goodwill limits.
func (s *Service) SetGoodwillLimits(ctx context.Context, l GoodwillLimits) (GoodwillLimits, error) {
	if err := validation.Struct(l); err != nil {
		return GoodwillLimits{}, err
	}
	row, err := s.q.SetGoodwillLimits(ctx, s.pool, ledgerdb.SetGoodwillLimitsParams{KeyID: l.KeyID, PerGrant: l.PerGrant, PerDay: l.PerDay})
	if database.IsForeignKeyViolation(err) {
		return GoodwillLimits{}, ErrKeyNotFound.With("API key %q not found", l.KeyID)
	}
	if err != nil {
		return GoodwillLimits{}, fmt.Errorf("set goodwill limits of %s: %w", l.KeyID, err)
	}
	return GoodwillLimits{KeyID: row.KeyID, PerGrant: row.PerGrant, PerDay: row.PerDay}, nil
}

// DecideApproval approves (posting the grant) or rejects a waiting grant. Deciding a
// decided approval is refused. It goes through the write path's group commit: the
// batch locks the approval's member, then the approval, and decides it
// (approvalStatusAfter). The approval's grant (member, request, points) never
// changes, so it is read before, with the program's settings, to build the plan.
func (s *Service) DecideApproval(ctx context.Context, actor Actor, approvalID int64, approve bool) (Approval, Entry, error) {
	row, err := s.q.GetApproval(ctx, s.pool, approvalID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Approval{}, Entry{}, ErrApprovalNotFound.With("approval %d not found", approvalID)
	}
	if err != nil {
		return Approval{}, Entry{}, fmt.Errorf("get approval %d: %w", approvalID, err)
	}
	// The entry carries the grant's own request id and fingerprint: a retry of the
	// agent's original request then answers this entry.
	p := plan{
		memberID: row.MemberID, kind: KindGoodwill, requestID: row.RequestID, fingerprint: row.Fingerprint,
		actorKeyID: row.RequestedBy, decide: &approvalDecision{approvalID: approvalID, approve: approve, decidedBy: actor.KeyID},
	}
	if approve {
		p.postings = goodwillPostings(row.Points, row.ReasonCode)
		p.memo = row.Note + " (approved by " + actor.KeyID + ", approval " + strconv.FormatInt(row.ApprovalID, 10) + ")"
		p.reasonCode, p.ticketID = row.ReasonCode, row.TicketID
		if p.lotExpire, err = s.lotExpiry(ctx, s.pool); err != nil {
			return Approval{}, Entry{}, err
		}
		if p.qualify, err = s.goodwillQualification(ctx, row.Points); err != nil {
			return Approval{}, Entry{}, err
		}
	}
	o, err := s.post(ctx, p)
	if err != nil {
		return Approval{}, Entry{}, err
	}
	if o.err != nil {
		return Approval{}, Entry{}, o.err
	}
	if o.approval == nil {
		return Approval{}, Entry{}, fmt.Errorf("approval %d: the batch answered no decision", approvalID)
	}
	return *o.approval, o.entry, nil
}

// ListApprovals lists approvals, newest first, optionally only those of a status.
func (s *Service) ListApprovals(ctx context.Context, status string, pageSize int32, pageToken string) ([]Approval, string, error) {
	return s.listApprovals(ctx, "", status, pageSize, pageToken)
}

// ListApprovalsRequestedBy lists the approvals one key asked for, newest first
// (an agent's own): the same filters and pages as ListApprovals, with page tokens
// of their own, so that a token of one key's list does not page another's.
func (s *Service) ListApprovalsRequestedBy(ctx context.Context, keyID, status string, pageSize int32, pageToken string) ([]Approval, string, error) {
	if keyID == "" {
		return nil, "", problem.InvalidField("keyId", "is required")
	}
	return s.listApprovals(ctx, keyID, status, pageSize, pageToken)
}

// listApprovals is everyone's approvals (requestedBy empty) or one key's.
func (s *Service) listApprovals(ctx context.Context, requestedBy, status string, pageSize int32, pageToken string) ([]Approval, string, error) {
	if status != "" && status != ApprovalPending && status != ApprovalApproved && status != ApprovalRejected {
		return nil, "", problem.InvalidField("status", "must be PENDING, APPROVED or REJECTED")
	}
	if pageSize < 0 || pageSize > 200 {
		return nil, "", problem.InvalidField("pageSize", "must be at most 200")
	}
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	page := pagetoken.For("approvals", status)
	if requestedBy != "" {
		page = pagetoken.For("ownApprovals", requestedBy, status)
	}
	before := int64(math.MaxInt64)
	if pageToken != "" {
		id, err := s.pageTokens.DecodeID(page, pageToken)
		if err != nil {
			return nil, "", err
		}
		before = id
	}
	var rows []ledgerdb.GoodwillApproval
	var err error
	if requestedBy == "" {
		rows, err = s.q.ListApprovals(ctx, s.pool, ledgerdb.ListApprovalsParams{Status: status, BeforeID: before, PageSize: pageSize + 1})
	} else {
		rows, err = s.q.ListApprovalsRequestedBy(ctx, s.pool, ledgerdb.ListApprovalsRequestedByParams{
			RequestedBy: requestedBy, Status: status, BeforeID: before, PageSize: pageSize + 1})
	}
	if err != nil {
		return nil, "", fmt.Errorf("list approvals: %w", err)
	}
	next := ""
	if len(rows) > int(pageSize) {
		rows = rows[:pageSize]
		next = s.pageTokens.EncodeID(page, rows[len(rows)-1].ApprovalID)
	}
	out := make([]Approval, len(rows))
	for i, r := range rows {
		out[i] = toApproval(r)
	}
	return out, next, nil
}

func toApproval(r ledgerdb.GoodwillApproval) Approval {
	a := Approval{ID: r.ApprovalID, MemberID: r.MemberID, Points: r.Points, ReasonCode: r.ReasonCode, TicketID: r.TicketID,
		Note: r.Note, RequestedBy: r.RequestedBy, Status: r.Status, CreateTime: r.CreateTime}
	if r.DecidedBy != nil {
		a.DecidedBy = *r.DecidedBy
	}
	if r.EntryID != nil {
		a.EntryID = *r.EntryID
	}
	if r.DecideTime != nil {
		a.DecideTime = *r.DecideTime
	}
	return a
}

// goodwillQualification is what goodwill points add to the qualifying metric: nothing
// unless the tier policy counts GOODWILL (a setting, read before the batch).
func (s *Service) goodwillQualification(ctx context.Context, points int64) (*qualifying, error) {
	policy, err := s.tiers.Policy(ctx)
	if err != nil || !policy.Counts(tiers.SourceGoodwill) {
		return nil, err
	}
	return qualification(policy, s.clock.Now(), points, 0), nil
}
