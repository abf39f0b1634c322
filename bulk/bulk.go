// Package bulk credits points to many members at once (docs/BULK.md): a bulk
// credit lists its members (given, uploaded as CSV, a tier, a CEL rule over the
// member, or everyone), then a job credits them chunk by chunk, each chunk one
// batch of the ledger's write path (ledger.Service.PostBulkChunk) whose entries,
// failures and progress commit together.
package bulk

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/bulk/internal/bulkdb"
	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/idempotency"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

// Statuses of a bulk credit.
const (
	StatusPreparing       = "PREPARING"
	StatusRunning         = "RUNNING"
	StatusPaused          = "PAUSED"
	StatusSucceeded       = "SUCCEEDED"
	StatusCancelled       = "CANCELLED"
	StatusBudgetExhausted = "BUDGET_EXHAUSTED"
)

// Target kinds.
const (
	TargetMembers = "MEMBERS"
	TargetTier    = "TIER"
	TargetRule    = "RULE"
	TargetAll     = "ALL"
)

// Limits.
const (
	// MaxListed bounds the members a request lists (or uploads as CSV).
	MaxListed = 200_000
	// MaxReason bounds the reason, which every entry carries as its memo.
	MaxReason = 200
)

// Errors.
var (
	ErrNotFound   = problem.New(problem.NotFound, "BULK_CREDIT_NOT_FOUND", "bulk credit not found")
	ErrNotAllowed = problem.New(problem.Precondition, "BULK_CREDIT_STATUS", "the bulk credit cannot do that in its status")
	// errStale: the chunk found the bulk credit changed under its lock (another
	// run did the chunk, or it was paused or cancelled); nothing was written.
	errStale = errors.New("bulk credit changed since the chunk was read")
)

// Options tune the job.
type Options struct {
	// Chunk is how many members one transaction credits (default DefaultChunk).
	Chunk int
	// Yield is how long the job waits between chunks, so that the API's own
	// batches get the database in between; zero waits not at all (loyaltyd's
	// --bulk-yield defaults to DefaultYield).
	Yield time.Duration
	// Page is how many members one listing transaction scans (default 20,000).
	Page int
	// Parallel is how many chunks of one bulk credit are credited at once, each
	// on its own members (default 2); a campaign-funded bulk credit runs one
	// chunk at a time, in order, whatever it says.
	Parallel int
}

// Defaults of Options.
const (
	// DefaultChunk: an earning of a member in a chunk waits for the chunk's
	// commit, and a chunk of 1,000 commits in well under 100 ms on a small
	// machine, where one of 5,000 held its members for half a second
	// (docs/BULK.md, "Earnings beside a bulk credit"). Larger chunks are a little
	// faster per member: a bulk credit at night can use them.
	DefaultChunk = 1000
	DefaultYield = 20 * time.Millisecond
	DefaultPage  = 20_000
	// DefaultParallel: two chunks at once keep both of a small machine's cores
	// busy (one chunk spends much of its time waiting for the database).
	DefaultParallel = 2
)

// Clock gives business time.
type Clock interface{ Now() time.Time }

// Service runs bulk credits.
type Service struct {
	pool   *pgxpool.Pool
	q      *bulkdb.Queries
	ledger *ledger.Service
	tiers  *tiers.Service
	camps  *campaigns.Service
	clock  Clock
	opts   Options
	tx     database.Runner
}

// NewService builds the service; camps may be nil (then no bulk credit can be
// funded by a campaign).
func NewService(pool *pgxpool.Pool, l *ledger.Service, t *tiers.Service, camps *campaigns.Service, clock Clock, opts Options) *Service {
	if opts.Chunk <= 0 {
		opts.Chunk = DefaultChunk
	}
	if opts.Yield < 0 {
		opts.Yield = 0
	}
	if opts.Page <= 0 {
		opts.Page = DefaultPage
	}
	if opts.Parallel <= 0 {
		opts.Parallel = DefaultParallel
	}
	return &Service{pool: pool, q: bulkdb.New(), ledger: l, tiers: t, camps: camps, clock: clock, opts: opts, tx: database.NewRunner("bulk")}
}

// MemberPoints is a listed member, with its own points (zero: the bulk credit's).
type MemberPoints struct {
	MemberID string
	Points   int64
}

// Target is who a bulk credit credits: exactly one of its fields.
type Target struct {
	Members []MemberPoints
	// CSV: lines "memberId" or "memberId,points" (a header line memberId[,points]
	// is skipped).
	CSV  string
	Tier string
	Rule string
	All  bool
}

// Create is a bulk credit's request.
type Create struct {
	RequestID  string
	Points     int64
	Reason     string
	LotExpire  time.Time // zero: the program's expiry policy
	Target     Target
	CampaignID string
	ActorKeyID string
}

// BulkCredit is a bulk credit and its progress.
type BulkCredit struct {
	ID             int64
	RequestID      string
	Points         int64
	Reason         string
	LotExpire      time.Time
	TargetKind     string
	TargetValue    string
	CampaignID     string
	Status         string
	Total          int64
	Done           int64
	Failed         int64
	PointsCredited int64
	// Prepared: the members are all listed (Total is final).
	Prepared   bool
	ActorKeyID string
	CreateTime time.Time
	StartTime  time.Time
	EndTime    time.Time
	UpdateTime time.Time
}

// Ended tells whether the bulk credit has nothing left to do.
func (b BulkCredit) Ended() bool {
	return b.Status == StatusSucceeded || b.Status == StatusCancelled || b.Status == StatusBudgetExhausted
}

// Failure is a member that could not be credited.
type Failure struct {
	Seq      int64
	MemberID string
	Reason   string
	Message  string
}

// target is a validated target.
type target struct {
	kind, value string
	members     []MemberPoints
	rule        *campaigns.Rule
}

// validate checks a request, naming each bad field, and resolves its target.
func (s *Service) validate(ctx context.Context, c Create) (target, error) {
	var fields []problem.FieldViolation
	bad := func(field, why string) {
		fields = append(fields, problem.FieldViolation{Field: field, Description: why})
	}
	if c.RequestID == "" {
		bad("requestId", "is required")
	} else if len(c.RequestID) > 128 || strings.Contains(c.RequestID, "#") {
		bad("requestId", "must be at most 128 characters, without '#'")
	}
	if c.Points <= 0 || c.Points > ledger.MaxPoints {
		bad("points", fmt.Sprintf("must be between 1 and %d", ledger.MaxPoints))
	}
	if strings.TrimSpace(c.Reason) == "" {
		bad("reason", "is required: every member's entry carries it")
	} else if len(c.Reason) > MaxReason {
		bad("reason", fmt.Sprintf("must be at most %d characters", MaxReason))
	}
	if !c.LotExpire.IsZero() && !c.LotExpire.After(s.clock.Now()) {
		bad("expiry", "must be in the future")
	}
	t, tfields := s.resolveTarget(c.Target)
	fields = append(fields, tfields...)
	if c.CampaignID != "" && s.camps != nil && len(fields) == 0 {
		if _, err := s.camps.Get(ctx, c.CampaignID); err != nil {
			if errors.Is(err, campaigns.ErrCampaignNotFound) {
				bad("campaignId", fmt.Sprintf("campaign %q does not exist", c.CampaignID))
			} else {
				return t, err
			}
		}
	} else if c.CampaignID != "" && s.camps == nil {
		bad("campaignId", "campaign funding is not available on this server")
	}
	if len(fields) > 0 {
		return t, problem.InvalidFields(fields...)
	}
	return t, nil
}

// resolveTarget checks that exactly one target is given and reads it.
func (s *Service) resolveTarget(tg Target) (target, []problem.FieldViolation) {
	var fields []problem.FieldViolation
	bad := func(field, why string) {
		fields = append(fields, problem.FieldViolation{Field: field, Description: why})
	}
	given := 0
	for _, set := range []bool{len(tg.Members) > 0, tg.CSV != "", tg.Tier != "", tg.Rule != "", tg.All} {
		if set {
			given++
		}
	}
	if given != 1 {
		bad("target", "must name exactly one of members, csv, tier, rule or all")
		return target{}, fields
	}
	switch {
	case len(tg.Members) > 0:
		members, fs := listed(tg.Members, "target.members")
		return target{kind: TargetMembers, members: members}, fs
	case tg.CSV != "":
		rows, fs := parseCSV(tg.CSV)
		if len(fs) > 0 {
			return target{}, fs
		}
		members, fs := listed(rows, "target.csv")
		return target{kind: TargetMembers, members: members}, fs
	case tg.Tier != "":
		policy, err := s.tiers.Policy(context.Background())
		if err == nil {
			if policy.Index(tg.Tier) < 0 {
				bad("target.tier", fmt.Sprintf("%q is not a tier of the policy", tg.Tier))
			}
		}
		return target{kind: TargetTier, value: tg.Tier}, fields
	case tg.Rule != "":
		rule, err := campaigns.CompileRule(tg.Rule)
		if err != nil {
			var pe *problem.Error
			if errors.As(err, &pe) {
				for _, f := range pe.Fields {
					bad("target.rule", f.Description)
				}
				if len(pe.Fields) == 0 {
					bad("target.rule", pe.Message)
				}
			} else {
				bad("target.rule", err.Error())
			}
		}
		return target{kind: TargetRule, value: tg.Rule, rule: rule}, fields
	}
	return target{kind: TargetAll}, nil
}

// listed checks listed members: known ids, at most MaxListed, each once (a member
// listed twice is credited once, with its first points).
func listed(in []MemberPoints, field string) ([]MemberPoints, []problem.FieldViolation) {
	var fields []problem.FieldViolation
	if len(in) > MaxListed {
		return nil, []problem.FieldViolation{{Field: field, Description: fmt.Sprintf("lists %d members, at most %d", len(in), MaxListed)}}
	}
	seen := make(map[string]bool, len(in))
	out := make([]MemberPoints, 0, len(in))
	for i, m := range in {
		switch {
		case m.MemberID == "" || len(m.MemberID) > 64:
			fields = append(fields, problem.FieldViolation{Field: fmt.Sprintf("%s[%d]", field, i), Description: "memberId must be 1 to 64 characters"})
		case m.Points < 0 || m.Points > ledger.MaxPoints:
			fields = append(fields, problem.FieldViolation{Field: fmt.Sprintf("%s[%d]", field, i), Description: "points must be positive"})
		case !seen[m.MemberID]:
			seen[m.MemberID] = true
			out = append(out, m)
		}
		if len(fields) >= 10 {
			break
		}
	}
	return out, fields
}

// parseCSV reads "memberId[,points]" lines, a header line allowed.
func parseCSV(text string) ([]MemberPoints, []problem.FieldViolation) {
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	var out []MemberPoints
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, []problem.FieldViolation{{Field: "target.csv", Description: err.Error()}}
		}
		if len(rec) == 0 || (len(rec) == 1 && strings.TrimSpace(rec[0]) == "") {
			continue
		}
		if line == 1 && strings.EqualFold(strings.TrimSpace(rec[0]), "memberId") {
			continue
		}
		if len(rec) > 2 {
			return nil, []problem.FieldViolation{{Field: "target.csv", Description: fmt.Sprintf("line %d has %d fields: want memberId[,points]", line, len(rec))}}
		}
		m := MemberPoints{MemberID: strings.TrimSpace(rec[0])}
		if len(rec) == 2 && strings.TrimSpace(rec[1]) != "" {
			p, err := strconv.ParseInt(strings.TrimSpace(rec[1]), 10, 64)
			if err != nil || p <= 0 {
				return nil, []problem.FieldViolation{{Field: "target.csv", Description: fmt.Sprintf("line %d: points %q must be a positive integer", line, rec[1])}}
			}
			m.Points = p
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, []problem.FieldViolation{{Field: "target.csv", Description: "lists no member"}}
	}
	return out, nil
}

// Create records a bulk credit (a repeat of its request id answers the first); the
// job credits its members. Listed members are recorded with it; a tier, a rule or
// everyone are listed by the job first.
func (s *Service) Create(ctx context.Context, c Create) (BulkCredit, error) {
	t, err := s.validate(ctx, c)
	if err != nil {
		return BulkCredit{}, err
	}
	fp := idempotency.Fingerprint("bulkCredit", c)
	now := s.clock.Now()
	var row bulkdb.BulkCredit
	err = s.tx.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		p := bulkdb.InsertBulkCreditParams{RequestID: c.RequestID, Fingerprint: fp, Points: c.Points, Reason: c.Reason,
			TargetKind: t.kind, TargetValue: t.value, Status: StatusPreparing, ChunkSize: int64(s.opts.Chunk), ActorKeyID: c.ActorKeyID, Now: now}
		if !c.LotExpire.IsZero() {
			p.LotExpireTime = &c.LotExpire
		}
		if c.CampaignID != "" {
			p.CampaignID = &c.CampaignID
		}
		var err error
		row, err = s.q.InsertBulkCredit(ctx, tx, p)
		if err != nil {
			return err
		}
		if t.kind != TargetMembers {
			return nil
		}
		ids, points := make([]string, len(t.members)), make([]int64, len(t.members))
		for i, m := range t.members {
			ids[i], points[i] = m.MemberID, cmp(m.Points, c.Points)
		}
		if err := s.q.InsertBulkMembers(ctx, tx, bulkdb.InsertBulkMembersParams{BulkCreditID: row.BulkCreditID, FirstSeq: 0, MemberIds: ids, Points: points}); err != nil {
			return err
		}
		row, err = s.q.RecordPrepared(ctx, tx, bulkdb.RecordPreparedParams{BulkCreditID: row.BulkCreditID, Found: int64(len(ids)),
			After: "", Done: true, Now: now, ExpectedAfter: ""})
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		stored, gerr := s.q.BulkCreditByRequest(ctx, s.pool, c.RequestID)
		if gerr != nil {
			return BulkCredit{}, fmt.Errorf("bulk credit %q: %w", c.RequestID, gerr)
		}
		if err := idempotency.Check(stored.BulkCredit.Fingerprint, fp, c.RequestID); err != nil {
			return BulkCredit{}, err
		}
		return toBulkCredit(stored.BulkCredit, tally{stored.Done, stored.Failed, stored.PointsCredited, stored.UpdateTime}), nil
	}
	if err != nil {
		return BulkCredit{}, fmt.Errorf("create bulk credit: %w", err)
	}
	return toBulkCredit(row, tally{updated: row.UpdateTime}), nil
}

// cmp is v, or def when v is zero.
func cmp(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}

// Get reads a bulk credit.
func (s *Service) Get(ctx context.Context, id int64) (BulkCredit, error) {
	row, err := s.q.GetBulkCredit(ctx, s.pool, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return BulkCredit{}, ErrNotFound.With("bulk credit %d not found", id)
	}
	if err != nil {
		return BulkCredit{}, fmt.Errorf("bulk credit %d: %w", id, err)
	}
	return toBulkCredit(row.BulkCredit, tally{row.Done, row.Failed, row.PointsCredited, row.UpdateTime}), nil
}

// List pages through bulk credits, newest first (beforeID 0: from the newest).
func (s *Service) List(ctx context.Context, beforeID int64, limit int32) ([]BulkCredit, error) {
	rows, err := s.q.ListBulkCredits(ctx, s.pool, bulkdb.ListBulkCreditsParams{BeforeID: beforeID, MaxRows: limit})
	if err != nil {
		return nil, fmt.Errorf("list bulk credits: %w", err)
	}
	out := make([]BulkCredit, len(rows))
	for i, r := range rows {
		out[i] = toBulkCredit(r.BulkCredit, tally{r.Done, r.Failed, r.PointsCredited, r.UpdateTime})
	}
	return out, nil
}

// Failures pages through a bulk credit's failures, in member order (afterSeq -1:
// from the first).
func (s *Service) Failures(ctx context.Context, id, afterSeq int64, limit int32) ([]Failure, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	rows, err := s.q.ListBulkFailures(ctx, s.pool, bulkdb.ListBulkFailuresParams{BulkCreditID: id, AfterSeq: afterSeq, MaxRows: limit})
	if err != nil {
		return nil, fmt.Errorf("failures of bulk credit %d: %w", id, err)
	}
	out := make([]Failure, len(rows))
	for i, r := range rows {
		out[i] = Failure{Seq: r.Seq, MemberID: r.MemberID, Reason: r.Reason, Message: r.Message}
	}
	return out, nil
}

// Transition is a change of status an operator asks for.
type Transition string

// Transitions.
const (
	Pause  Transition = "pause"
	Resume Transition = "resume"
	Cancel Transition = "cancel"
)

// transitionRule is where each transition may start from and where it goes: pause
// stops at the next chunk boundary (the chunks in flight commit first), resume
// continues where it stopped, cancel ends it (what was credited stays).
func transitionRule(t Transition, prepared bool) (from []string, to string) {
	switch t {
	case Pause:
		return []string{StatusPreparing, StatusRunning}, StatusPaused
	case Resume:
		if prepared {
			return []string{StatusPaused}, StatusRunning
		}
		return []string{StatusPaused}, StatusPreparing
	case Cancel:
		return []string{StatusPreparing, StatusRunning, StatusPaused}, StatusCancelled
	}
	return nil, ""
}

// Change pauses, resumes or cancels a bulk credit. Changing it to the status it is
// in answers it as it is (a retry).
func (s *Service) Change(ctx context.Context, id int64, t Transition) (BulkCredit, error) {
	cur, err := s.Get(ctx, id)
	if err != nil {
		return BulkCredit{}, err
	}
	from, to := transitionRule(t, cur.Prepared)
	if to == "" {
		return BulkCredit{}, fmt.Errorf("unknown transition %q", t)
	}
	if cur.Status == to || (t == Resume && (cur.Status == StatusRunning || cur.Status == StatusPreparing)) {
		return cur, nil
	}
	_, err = s.q.SetBulkStatus(ctx, s.pool, bulkdb.SetBulkStatusParams{BulkCreditID: id, Status: to, Now: s.clock.Now(), FromStatuses: from})
	if errors.Is(err, pgx.ErrNoRows) {
		now, gerr := s.Get(ctx, id)
		if gerr != nil {
			return BulkCredit{}, gerr
		}
		return BulkCredit{}, ErrNotAllowed.With("bulk credit %d is %s: it cannot %s", id, now.Status, t).WithMetadata("status", now.Status)
	}
	if err != nil {
		return BulkCredit{}, fmt.Errorf("%s bulk credit %d: %w", t, id, err)
	}
	// Read again for the progress: the chunks that were in flight have
	// committed (the change waited for them).
	return s.Get(ctx, id)
}

// tally is a bulk credit's progress: the sums over its committed chunks, and
// when it last changed (its row or its last chunk).
type tally struct {
	done, failed, points int64
	updated              time.Time
}

func toBulkCredit(r bulkdb.BulkCredit, p tally) BulkCredit {
	b := BulkCredit{ID: r.BulkCreditID, RequestID: r.RequestID, Points: r.Points, Reason: r.Reason, TargetKind: r.TargetKind,
		TargetValue: r.TargetValue, Status: r.Status, Total: r.Total, Done: p.done, Failed: p.failed,
		PointsCredited: p.points, Prepared: r.Prepared, ActorKeyID: r.ActorKeyID, CreateTime: r.CreateTime, UpdateTime: p.updated}
	if r.LotExpireTime != nil {
		b.LotExpire = *r.LotExpireTime
	}
	if r.CampaignID != nil {
		b.CampaignID = *r.CampaignID
	}
	if r.StartTime != nil {
		b.StartTime = *r.StartTime
	}
	if r.EndTime != nil {
		b.EndTime = *r.EndTime
	}
	return b
}
