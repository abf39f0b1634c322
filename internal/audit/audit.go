// Package audit is the audit trail: one record per mutating API call by a key, who
// called, what the call acted on and how it ended. The transport starts a Pending
// record for each such call and puts it in the context; a domain transaction that
// carries the call's effect may write it in that transaction (the ledger does, so a
// movement of points and its record commit together); whatever no transaction
// wrote, the transport writes right after the call with the call's real outcome.
// Both write the same call id, so a call is recorded once.
package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/internal/audit/internal/auditdb"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/nullable"
	"github.com/loyalty-engine/loyalty/internal/pagetoken"
	"github.com/loyalty-engine/loyalty/internal/problem"
)

// OutcomeOK is the outcome of a call that succeeded.
const OutcomeOK = "OK"

// Record is one audited call.
type Record struct {
	ID int64 // order of the log, set when stored
	// CallID identifies the call, so that its record is written once.
	CallID string
	KeyID  string
	Role   string
	// Method is the gRPC full method name (REST calls go through the same server).
	Method string
	// Target is what the call acted on, as a resource name ("members/alice").
	Target   string
	MemberID string
	// RequestID is the call's idempotency key, where the method has one.
	RequestID string
	// Outcome is the gRPC code name; Reason the ErrorInfo reason of a failure.
	Outcome string
	Reason  string
	// Time is business time at the start of the call.
	Time time.Time
}

// Pending is the record of a call in flight. The transport fills it in; domain
// transactions may write it; the transport writes it after the call unless a
// committed transaction did.
type Pending struct {
	mu       sync.Mutex
	rec      Record
	stagedIn pgx.Tx // the transaction that wrote it, not yet known to have committed
	written  bool
}

// NewPending starts the record of a call to method at business time now.
func NewPending(method string, now time.Time) *Pending {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return &Pending{rec: Record{CallID: hex.EncodeToString(b), Method: method, Time: now}}
}

// Identify names the key that calls.
func (p *Pending) Identify(keyID, role string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rec.KeyID, p.rec.Role = Clean(keyID), Clean(role)
}

// Describe sets what the call acts on.
func (p *Pending) Describe(target, memberID, requestID string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rec.Target, p.rec.MemberID, p.rec.RequestID = Clean(target), Clean(memberID), Clean(requestID)
}

// MaxText bounds each text of a record, in bytes.
const MaxText = 200

// Clean is a request's text as a record keeps it: a refused call is recorded with
// what it sent, however hostile, so invalid UTF-8 and NUL (which PostgreSQL text
// cannot hold) become U+FFFD, and text beyond MaxText bytes is cut at a character
// boundary and marked with "…".
func Clean(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) <= MaxText {
		return s
	}
	cut := 0
	for i := range s {
		if i > MaxText-len("…") {
			break
		}
		cut = i
	}
	return s[:cut] + "…"
}

// Snapshot is the record as it stands.
func (p *Pending) Snapshot() Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rec
}

// Written tells whether a committed transaction holds the record.
func (p *Pending) Written() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.written
}

// staged notes that tx wrote the record; on the pool (tx nil, an implicit
// transaction that has already committed) it is written.
func (p *Pending) staged(tx pgx.Tx) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tx == nil {
		p.written = true
		return
	}
	p.stagedIn = tx
}

// Committed tells the record of the call in ctx that tx has committed: if tx wrote
// it, it is written. The runner of a transaction that may have written it calls
// this after the commit; a runner that does not only costs the transport a write
// that changes nothing.
func Committed(ctx context.Context, tx pgx.Tx) {
	p := From(ctx)
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stagedIn == tx {
		p.written, p.stagedIn = true, nil
	}
}

type ctxKey struct{}

// With puts the pending record of a call in the context.
func With(ctx context.Context, p *Pending) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From is the pending record of the call, or nil outside an audited call.
func From(ctx context.Context) *Pending {
	p, _ := ctx.Value(ctxKey{}).(*Pending)
	return p
}

// Detach is ctx without the call's record, for work done on behalf of several
// calls (a group commit), which must not be written as any one call's.
func Detach(ctx context.Context) context.Context {
	return context.WithValue(ctx, ctxKey{}, (*Pending)(nil))
}

// Clock gives business time, the time of every record.
type Clock interface{ Now() time.Time }

// Store writes and reads the audit log.
type Store struct {
	pool       *pgxpool.Pool
	q          *auditdb.Queries
	clock      Clock
	pageTokens *pagetoken.Codec
}

// NewStore returns a Store on the pool, timing records by clock. Page tokens of the
// log are signed with pageTokens (nil: a key good only within this process).
func NewStore(pool *pgxpool.Pool, clock Clock, pageTokens *pagetoken.Codec) *Store {
	if pageTokens == nil {
		pageTokens = pagetoken.Ephemeral()
	}
	return &Store{pool: pool, q: auditdb.New(), clock: clock, pageTokens: pageTokens}
}

// Start begins the record of a call to method, now.
func (s *Store) Start(method string) *Pending { return NewPending(method, s.clock.Now()) }

// Finish writes the record of a finished call with its outcome, unless a
// committed transaction already wrote it. A record that transaction wrote and
// whose commit was not seen (a transaction run by another domain) is kept as it is.
func (s *Store) Finish(ctx context.Context, p *Pending, outcome, reason string) error {
	if p.Written() {
		return nil
	}
	r := p.Snapshot()
	if err := s.q.InsertRecord(ctx, s.pool, insertParams(r, outcome, reason)); err != nil {
		return fmt.Errorf("write audit record of %s: %w", r.Method, err)
	}
	return nil
}

// Query filters the log. Empty fields match everything.
type Query struct {
	KeyID, MemberID, Method string
	Start, End              time.Time
	PageSize                int32
	PageToken               string
}

// Page is one page of the log, newest first.
type Page struct {
	Records       []Record
	NextPageToken string
}

// Page sizes.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// methodName is a gRPC full method name.
var methodName = regexp.MustCompile(`^/[A-Za-z0-9_.]+/[A-Za-z0-9_]+$`)

// List returns a page of the log, newest first.
func (s *Store) List(ctx context.Context, q Query) (Page, error) {
	if err := q.validate(); err != nil {
		return Page{}, err
	}
	if q.PageSize == 0 {
		q.PageSize = DefaultPageSize
	}
	// A token is bound to the filters it was made for (not to the page size).
	page := pagetoken.For("auditLog", q.KeyID, q.MemberID, q.Method, pagetoken.Time(q.Start), pagetoken.Time(q.End))
	before := int64(math.MaxInt64)
	if q.PageToken != "" {
		id, err := s.pageTokens.DecodeID(page, q.PageToken)
		if err != nil {
			return Page{}, err
		}
		before = id
	}
	rows, err := s.q.ListRecords(ctx, s.pool, auditdb.ListRecordsParams{
		BeforeID: before, KeyID: q.KeyID, MemberID: q.MemberID, Method: q.Method,
		StartTime: nullable.Of(q.Start), EndTime: nullable.Of(q.End), PageSize: q.PageSize + 1,
	})
	if err != nil {
		return Page{}, fmt.Errorf("list audit log: %w", err)
	}
	var out Page
	if len(rows) > int(q.PageSize) {
		rows = rows[:q.PageSize]
		out.NextPageToken = s.pageTokens.EncodeID(page, rows[len(rows)-1].AuditID)
	}
	out.Records = make([]Record, len(rows))
	for i, r := range rows {
		out.Records[i] = Record{ID: r.AuditID, CallID: r.CallID, KeyID: r.KeyID, Role: r.Role, Method: r.Method,
			Target: r.Target, MemberID: nullable.Value(r.MemberID), RequestID: r.RequestID, Outcome: r.Outcome,
			Reason: r.Reason, Time: r.Time}
	}
	return out, nil
}

func (q Query) validate() error {
	var v []problem.FieldViolation
	if q.Method != "" && !methodName.MatchString(q.Method) {
		v = append(v, problem.FieldViolation{Field: "method", Description: "must be a gRPC full method name such as /loyalty.v1.PointsService/Earn"})
	}
	if !q.Start.IsZero() && !q.End.IsZero() && !q.End.After(q.Start) {
		v = append(v, problem.FieldViolation{Field: "endTime", Description: "must be after startTime"})
	}
	if q.PageSize < 0 || q.PageSize > MaxPageSize {
		v = append(v, problem.FieldViolation{Field: "pageSize", Description: fmt.Sprintf("must be between 1 and %d", MaxPageSize)})
	}
	if len(v) > 0 {
		return problem.InvalidFields(v...)
	}
	return nil
}

// WriteTx writes the record of the call in ctx in tx, as a success: a domain
// transaction that carries a call's whole effect writes it last, so that the record
// commits with the effect, and reports the commit (Committed). Outside an audited
// call it does nothing.
func WriteTx(ctx context.Context, tx pgx.Tx) error {
	p := From(ctx)
	if p == nil {
		return nil
	}
	p.mu.Lock()
	already := p.stagedIn == tx // the ledger's batch wrote it with the entry
	p.mu.Unlock()
	if already {
		return nil
	}
	r := p.Snapshot()
	if err := auditdb.New().InsertRecord(ctx, tx, insertParams(r, OutcomeOK, "")); err != nil {
		return fmt.Errorf("write audit record of %s: %w", r.Method, err)
	}
	p.staged(tx)
	return nil
}

// RunInTx is InTx under the runner r: the whole transaction, the record with it,
// runs again after a deadlock or a serialization failure. Each attempt writes the
// record in its own transaction (a rolled-back one took it with it), so the record
// commits once, with the attempt that commits.
func RunInTx(ctx context.Context, r database.Runner, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	return r.Retry(ctx, func() error { return InTx(ctx, pool, fn) })
}

// InTx runs fn in a transaction on pool, as pgx.BeginFunc does, with the record of
// the call in ctx written last in it (WriteTx) when fn succeeds, and counted as
// written once the transaction has committed. It makes one attempt: RunInTx runs
// it again after a deadlock.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	var run pgx.Tx
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		run = tx
		if err := fn(tx); err != nil {
			return err
		}
		return WriteTx(ctx, tx)
	})
	if err == nil {
		Committed(ctx, run)
	}
	return err
}

// Retarget records a written call against target, what its answer says it created.
func (s *Store) Retarget(ctx context.Context, p *Pending, target string) error {
	target = Clean(target)
	p.mu.Lock()
	p.rec.Target = target
	callID := p.rec.CallID
	p.mu.Unlock()
	if err := s.q.RetargetRecord(ctx, s.pool, auditdb.RetargetRecordParams{CallID: callID, Target: target}); err != nil {
		return fmt.Errorf("retarget audit record: %w", err)
	}
	return nil
}

func insertParams(r Record, outcome, reason string) auditdb.InsertRecordParams {
	return auditdb.InsertRecordParams{
		CallID: r.CallID, KeyID: r.KeyID, Role: r.Role, Method: r.Method, Target: r.Target,
		MemberID: nullable.Of(r.MemberID), RequestID: r.RequestID, Outcome: outcome, Reason: reason, Time: r.Time,
	}
}
