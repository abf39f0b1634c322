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
	"github.com/loyalty-engine/loyalty/internal/idempotency"
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
}

// GrantGoodwill credits goodwill points, or, when the grant is above a limited key's
// per-grant limit or would take its day's total above the daily limit, records an
// approval for an admin. The key's usage row is locked while the grant is decided,
// so racing grants cannot pass the daily limit together.
func (s *Service) GrantGoodwill(ctx context.Context, actor Actor, cmd GrantGoodwill) (GoodwillResult, error) {
	if err := validation.Struct(cmd); err != nil {
		return GoodwillResult{}, err
	}
	p := plan{
		memberID: cmd.MemberID, kind: KindGoodwill, requestID: cmd.RequestID,
		fingerprint: fingerprint("goodwill", cmd), postings: goodwillPostings(cmd.Points, cmd.ReasonCode),
		memo: cmd.Note, actorKeyID: actor.KeyID, reasonCode: cmd.ReasonCode, ticketID: cmd.TicketID,
	}
	var err error
	if p.qualify, err = s.goodwillQualification(ctx, s.pool, cmd.Points); err != nil {
		return GoodwillResult{}, err
	}
	var res GoodwillResult
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		res = GoodwillResult{}
		day := s.clock.Now().UTC().Truncate(24 * time.Hour)
		if actor.GoodwillLimited {
			// Lock first: a repeat of this request waits here for the first.
			if err := s.q.EnsureGoodwillUsage(ctx, tx, ledgerdb.EnsureGoodwillUsageParams{KeyID: actor.KeyID, Day: day}); err != nil {
				return fmt.Errorf("goodwill usage: %w", err)
			}
		}
		var granted int64
		if actor.GoodwillLimited {
			var err error
			if granted, err = s.q.LockGoodwillUsage(ctx, tx, ledgerdb.LockGoodwillUsageParams{KeyID: actor.KeyID, Day: day}); err != nil {
				return fmt.Errorf("lock goodwill usage: %w", err)
			}
		}
		if e, found, err := s.stored(ctx, tx, p); found || err != nil {
			res.Entry = e
			return err
		}
		if a, found, err := s.storedApproval(ctx, tx, p); found || err != nil {
			res.Approval = a
			return err
		}
		if actor.GoodwillLimited {
			limits, err := s.goodwillLimits(ctx, tx, actor.KeyID)
			if err != nil {
				return err
			}
			if cmd.Points > limits.PerGrant || granted > math.MaxInt64-cmd.Points || granted+cmd.Points > limits.PerDay {
				row, err := s.q.InsertApproval(ctx, tx, ledgerdb.InsertApprovalParams{
					MemberID: cmd.MemberID, RequestID: cmd.RequestID, Fingerprint: p.fingerprint, Points: cmd.Points,
					ReasonCode: cmd.ReasonCode, TicketID: cmd.TicketID, Note: cmd.Note, RequestedBy: actor.KeyID,
					CreateTime: s.clock.Now(),
				})
				if err != nil {
					return fmt.Errorf("record approval: %w", err)
				}
				a := toApproval(row)
				res.Approval = &a
				return nil
			}
		}
		var err error
		if p.lotExpire, err = s.lotExpiry(ctx, tx); err != nil {
			return err
		}
		e, err := s.append(ctx, tx, p)
		if err != nil {
			return err
		}
		if actor.GoodwillLimited {
			if err := s.q.AddGoodwillUsage(ctx, tx, ledgerdb.AddGoodwillUsageParams{KeyID: actor.KeyID, Day: day, Points: cmd.Points}); err != nil {
				return fmt.Errorf("count goodwill usage: %w", err)
			}
		}
		res.Entry = e
		return nil
	})
	switch {
	case errors.Is(err, errRepeated):
		// An unlimited key's racing duplicate committed first: answer its entry.
		e, err := s.replay(ctx, p)
		return GoodwillResult{Entry: e}, err
	}
	return res, err
}

// storedApproval returns the approval a request already produced, if it did.
func (s *Service) storedApproval(ctx context.Context, db ledgerdb.DBTX, p plan) (*Approval, bool, error) {
	row, err := s.q.ApprovalByRequest(ctx, db, ledgerdb.ApprovalByRequestParams{MemberID: p.memberID, RequestID: p.requestID})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("look up approval of request %q: %w", p.requestID, err)
	}
	if err := idempotency.Check(row.Fingerprint, p.fingerprint, p.requestID); err != nil {
		return nil, true, err
	}
	a := toApproval(row)
	return &a, true, nil
}

func (s *Service) goodwillLimits(ctx context.Context, db ledgerdb.DBTX, keyID string) (GoodwillLimits, error) {
	row, err := s.q.GetGoodwillLimits(ctx, db, keyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return GoodwillLimits{KeyID: keyID, PerGrant: DefaultGoodwillPerGrant, PerDay: DefaultGoodwillPerDay}, nil
	}
	if err != nil {
		return GoodwillLimits{}, fmt.Errorf("goodwill limits of %s: %w", keyID, err)
	}
	return GoodwillLimits{KeyID: keyID, PerGrant: row.PerGrant, PerDay: row.PerDay}, nil
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
// decided approval is refused.
func (s *Service) DecideApproval(ctx context.Context, actor Actor, approvalID int64, approve bool) (Approval, Entry, error) {
	var (
		out   Approval
		entry Entry
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		row, err := s.q.LockApproval(ctx, tx, approvalID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrApprovalNotFound.With("approval %d not found", approvalID)
		}
		if err != nil {
			return fmt.Errorf("lock approval %d: %w", approvalID, err)
		}
		if row.Status != ApprovalPending {
			return ErrApprovalNotPending.With("approval %d is already %s", approvalID, row.Status)
		}
		status := ApprovalRejected
		var entryID *int64
		if approve {
			status = ApprovalApproved
			expire, err := s.lotExpiry(ctx, tx)
			if err != nil {
				return err
			}
			qualify, err := s.goodwillQualification(ctx, tx, row.Points)
			if err != nil {
				return err
			}
			// The entry carries the grant's own request id and fingerprint: a retry
			// of the agent's original request then answers this entry.
			entry, err = s.append(ctx, tx, plan{
				memberID: row.MemberID, kind: KindGoodwill, requestID: row.RequestID, fingerprint: row.Fingerprint,
				postings: goodwillPostings(row.Points, row.ReasonCode), actorKeyID: row.RequestedBy,
				memo:       row.Note + " (approved by " + actor.KeyID + ", approval " + strconv.FormatInt(row.ApprovalID, 10) + ")",
				reasonCode: row.ReasonCode, ticketID: row.TicketID, lotExpire: expire, qualify: qualify,
			})
			if err != nil {
				return err
			}
			entryID = &entry.ID
		}
		decided, err := s.q.DecideApproval(ctx, tx, ledgerdb.DecideApprovalParams{
			ApprovalID: approvalID, Status: status, DecidedBy: &actor.KeyID, EntryID: entryID, DecideTime: s.clock.Now(),
		})
		if err != nil {
			return fmt.Errorf("decide approval %d: %w", approvalID, err)
		}
		out = toApproval(decided)
		return nil
	})
	return out, entry, err
}

// ListApprovals lists approvals, newest first, optionally only those of a status.
func (s *Service) ListApprovals(ctx context.Context, status string, pageSize int32, pageToken string) ([]Approval, string, error) {
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
	before := int64(math.MaxInt64)
	if pageToken != "" {
		id, err := s.pageTokens.DecodeID(page, pageToken)
		if err != nil {
			return nil, "", err
		}
		before = id
	}
	rows, err := s.q.ListApprovals(ctx, s.pool, ledgerdb.ListApprovalsParams{Status: status, BeforeID: before, PageSize: pageSize + 1})
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
// unless the tier policy counts GOODWILL.
//
// db is the caller's transaction when it has one: a read on the pool from inside a
// transaction waits for a second connection, which never comes once every pooled
// connection is such a transaction.
func (s *Service) goodwillQualification(ctx context.Context, db ledgerdb.DBTX, points int64) (*qualifying, error) {
	policy, err := s.tiers.PolicyOn(ctx, db)
	if err != nil || !policy.Counts(tiers.SourceGoodwill) {
		return nil, err
	}
	return qualification(policy, s.clock.Now(), points, 0), nil
}
