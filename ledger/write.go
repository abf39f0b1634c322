package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loyalty-engine/loyalty/internal/audit"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/idempotency"
	"github.com/loyalty-engine/loyalty/internal/nullable"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
	"github.com/loyalty-engine/loyalty/tiers"
)

// Errors of the write path.
var (
	ErrInsufficientPoints  = problem.New(problem.Precondition, "INSUFFICIENT_POINTS", "not enough available points")
	ErrIdempotencyConflict = problem.New(problem.Conflict, "IDEMPOTENCY_CONFLICT",
		"this requestId was already used with a different request")
)

// plan is an entry about to be appended: the outcome of a pure domain step.
type plan struct {
	memberID  string
	kind      Kind
	requestID string
	// fingerprint identifies the request body, so a reused requestId with another
	// body is recognised.
	fingerprint []byte
	postings    []Posting
	// allowNegative lets the available balance go below zero (refund claw-backs).
	allowNegative bool
	orderID       string
	holdID        int64
	reverses      int64
	memo          string
	actorKeyID    string
	reasonCode    string
	ticketID      string
	// releaseTime, for a pending earning: when its points become available.
	releaseTime time.Time
	// at is the business time the entry's rules were judged at (zero: the time it
	// is sent). The write statement stamps the entry with it, or with the member's
	// last entry's time if that is later, so a member's entries are in time order.
	at time.Time

	// Lots (see ledger_settle_lots in the migrations). lotExpire is the expiry of
	// the lot a credit to available opens, and every such credit names one, even
	// one that gives back consumed points, in case there is nothing to give back;
	// for a pending earning it is kept until release. lotOrigin is the earning a
	// released lot comes from. restoreFrom lists the entries whose lot consumption
	// a credit gives back (a hold, a redemption). preferLotOrigin is the earning
	// whose lot a debit consumes before any other (its reversal or refund).
	lotExpire       time.Time
	lotOrigin       int64
	restoreFrom     []int64
	preferLotOrigin int64

	// recordOrder: an order's earning, recorded with its spend for refunds, and
	// the member's tier and perks at that moment (orderTierID, orderPerks).
	recordOrder     bool
	orderSpendMinor int64
	orderCurrency   string
	orderPoints     int64
	orderTierID     string
	orderPerks      []byte

	// qualify: the entry moves the member's qualifying metric (see tier_qualify
	// in the migrations), which may upgrade the member at once.
	qualify *qualifying
	// tier: the statement applies the member's effective tier to an earning (see
	// tier_part in the migrations): its multiplier on tier.base, and the tier and
	// perks recorded on the order.
	tier *tierPlan

	// call is the audit record of the API call the entry is the effect of (nil for
	// the engine's own entries): written in the entry's transaction, if it writes
	// the entry.
	call *audit.Pending
}

// tierPlan is what the write statement needs to apply the member's tier.
type tierPlan struct {
	base        int64 // the BASE points the multiplier scales
	ids         []string
	multipliers []int32
	perks       []byte // perks by tier id, a JSON object
	counts      bool   // the TIER part counts towards the metric
	at          time.Time
}

// qualifying is what an entry adds to (or, negative, takes off) the member's
// qualifying metric, on which day, under which policy.
type qualifying struct {
	day           time.Time
	points, spend int64
	policy        tiers.Qualification
}

// errNotApplied: the append matched no balance row (unknown member or overdraft).
var errNotApplied = errors.New("entry not applied")

// appendAll runs the write statement for each plan in one round trip on db. On the
// pool the statements form one implicit transaction: they commit together, or, when
// err is set, none of them does. applied[i] is false when plan i matched no balance
// row (unknown member or overdraft), which does not fail the others.
func (s *Service) appendAll(ctx context.Context, db ledgerdb.DBTX, plans []plan) (entries []Entry, applied []bool, err error) {
	params := make([]ledgerdb.AppendEntryParams, len(plans))
	sentAt := s.clock.Now()
	for i, p := range plans {
		if err := checkBalanced(p.postings); err != nil {
			return nil, nil, fmt.Errorf("%s entry for %s: %w", p.kind, p.memberID, err)
		}
		d, sysAccounts, sysAmounts := split(p.postings)
		if d.available > 0 && p.lotExpire.IsZero() {
			return nil, nil, fmt.Errorf("%s entry for %s credits available points without a lot expiry", p.kind, p.memberID)
		}
		accounts := make([]string, len(p.postings))
		amounts := make([]int64, len(p.postings))
		for j, posting := range p.postings {
			accounts[j], amounts[j] = posting.Account, posting.Amount
		}
		params[i] = ledgerdb.AppendEntryParams{
			DAvailable: d.available, DPending: d.pending, DHeld: d.held,
			MemberID: p.memberID, CheckAvailable: !p.allowNegative,
			Kind: string(p.kind), Accounts: accounts, Amounts: amounts,
			RequestID: p.requestID, Fingerprint: p.fingerprint, OrderID: optional(p.orderID), HoldID: optionalID(p.holdID),
			ReversesEntryID: optionalID(p.reverses), Memo: p.memo, ActorKeyID: p.actorKeyID,
			ReasonCode: optional(p.reasonCode), TicketID: optional(p.ticketID), ReleaseTime: optionalTime(p.releaseTime),
			SystemAccounts: sysAccounts, SystemAmounts: sysAmounts,
			LotExpireTime: optionalTime(p.lotExpire), LotOriginEntryID: optionalID(p.lotOrigin),
			PreferLotOrigin: optionalID(p.preferLotOrigin), RestoreFrom: p.restoreFrom,
			RecordOrder: p.recordOrder, OrderSpendMinor: optionalID(p.orderSpendMinor), OrderCurrency: p.orderCurrency,
			OrderEarnedPoints: p.orderPoints, OrderTierID: optional(p.orderTierID), OrderPerks: p.orderPerks,
			TierIds: []string{}, TierThresholds: []int64{}, CreateTime: sentAt,
		}
		if !p.at.IsZero() {
			params[i].CreateTime = p.at
		}
		params[i].TierMultipliers = []int32{}
		// Both tier_part and tier_qualify take the policy's ladder (tier ids) and
		// the instant; an earning that needs both has them from one policy read.
		if t := p.tier; t != nil {
			params[i].TierInStatement, params[i].TierBasePoints, params[i].TierToPending = true, t.base, !p.releaseTime.IsZero()
			params[i].TierMultipliers, params[i].TierPerks, params[i].TierCounts = t.multipliers, t.perks, t.counts
			params[i].TierIds, params[i].TierNow = t.ids, t.at
		}
		if q := p.qualify; q != nil {
			params[i].Qualify, params[i].MetricDay, params[i].MetricPoints, params[i].MetricSpend = true, q.day, q.points, q.spend
			params[i].TierMetric, params[i].TierWindowStart, params[i].TierPeriodEnd = q.policy.Metric, q.policy.WindowStart, q.policy.PeriodEnd
			params[i].TierIds, params[i].TierThresholds, params[i].TierPolicyVersion = q.policy.TierIDs, q.policy.Thresholds, q.policy.Version
			params[i].TierNow = q.policy.At
		}
		if params[i].RestoreFrom == nil {
			params[i].RestoreFrom = []int64{}
		}
		// Where the lots are settled: a pending earning opens its lot on release;
		// a plain credit opens one in the statement; anything else moving the
		// available balance goes through ledger_settle_lots.
		switch {
		case !p.releaseTime.IsZero() || d.available == 0:
		case d.available > 0 && len(p.restoreFrom) == 0:
			params[i].LotInStatement = true
		default:
			params[i].LotInFunction = true
		}
	}
	entries = make([]Entry, len(plans))
	applied = make([]bool, len(plans))
	sent := &closeOnceDB{DBTX: db}
	for _, p := range plans {
		if p.call != nil {
			sent.calls = append(sent.calls, audit.EntryCall{Call: p.call, MemberID: p.memberID, RequestID: p.requestID})
		}
	}
	results := s.q.AppendEntry(ctx, sent, params)
	results.QueryRow(func(i int, row ledgerdb.AppendEntryRow, rowErr error) {
		switch {
		case rowErr == nil:
			entries[i], applied[i] = toEntry(appendedEntry(row)), true
			entries[i].tierPoints, entries[i].tierID = nullable.Value(row.TierPoints), row.TierID
		case errors.Is(rowErr, pgx.ErrNoRows):
		case err == nil:
			err = fmt.Errorf("append %s entry for %s: %w", plans[i].kind, plans[i].memberID, rowErr)
		}
	})
	if closeErr := sent.results.Close(); err == nil && closeErr != nil {
		err = fmt.Errorf("append entries: %w", closeErr)
	}
	if err != nil {
		return nil, nil, err
	}
	tx, _ := db.(pgx.Tx)
	sent.auditSent(tx)
	return entries, applied, nil
}

// appendedEntry is the entry part of the write statement's answer.
func appendedEntry(r ledgerdb.AppendEntryRow) ledgerdb.Entry {
	return ledgerdb.Entry{
		EntryID: r.EntryID, MemberID: r.MemberID, Kind: r.Kind, Accounts: r.Accounts, Amounts: r.Amounts,
		AvailableAfter: r.AvailableAfter, PendingAfter: r.PendingAfter, HeldAfter: r.HeldAfter,
		RequestID: r.RequestID, Fingerprint: r.Fingerprint, OrderID: r.OrderID, HoldID: r.HoldID,
		ReversesEntryID: r.ReversesEntryID, Memo: r.Memo, ActorKeyID: r.ActorKeyID, CreateTime: r.CreateTime,
		ReasonCode: r.ReasonCode, TicketID: r.TicketID,
	}
}

// closeOnceDB hands sqlc batch results whose Close runs once and remembers its
// error. sqlc's QueryRow closes the batch itself and drops that error, which is the
// commit's outcome for an implicit transaction; and closing pgx pool batch results a
// second time would touch a connection already back in the pool.
//
// It also adds to the batch, last, the statement that writes the audit records of
// the calls whose entries the batch writes, so that they commit together.
type closeOnceDB struct {
	ledgerdb.DBTX
	results   *closeOnceResults
	calls     []audit.EntryCall
	auditSent func(pgx.Tx)
}

func (d *closeOnceDB) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	d.auditSent = audit.QueueForEntries(b, d.calls)
	d.results = &closeOnceResults{BatchResults: d.DBTX.SendBatch(ctx, b)}
	return d.results
}

type closeOnceResults struct {
	pgx.BatchResults
	once sync.Once
	err  error
}

func (r *closeOnceResults) Close() error {
	r.once.Do(func() { r.err = r.BatchResults.Close() })
	return r.err
}

// append runs the write statement for one plan, inside the caller's transaction
// or, on the pool, as its own.
func (s *Service) append(ctx context.Context, db ledgerdb.DBTX, p plan) (Entry, error) {
	if p.call == nil {
		p.call = audit.From(ctx)
	}
	entries, applied, err := s.appendAll(ctx, db, []plan{p})
	if err != nil {
		return Entry{}, err
	}
	if !applied[0] {
		return Entry{}, errNotApplied
	}
	return entries[0], nil
}

// post appends a plan that needs nothing read first. Concurrent posts are grouped
// into one round trip and one commit (see committer); repeats and refusals are
// sorted out afterwards.
func (s *Service) post(ctx context.Context, p plan) (Entry, error) {
	var (
		entry Entry
		err   error
	)
	p.call = audit.From(ctx) // the group committer runs it on a context of its own
	if s.committer.maxBatch > 1 {
		entry, err = s.committer.submit(ctx, p)
	} else {
		err = s.retry(ctx, func() error {
			entry, err = s.append(ctx, s.pool, p)
			return err
		})
	}
	return s.settlePost(ctx, p, entry, err)
}

// settlePost turns the outcome of appending a plan into the caller's answer: a
// repeated request gets its first result, a refusal says why.
func (s *Service) settlePost(ctx context.Context, p plan, entry Entry, err error) (Entry, error) {
	switch {
	case err == nil:
		return entry, nil
	case database.IsUniqueViolation(err, "entries_request_idx"):
		return s.replay(ctx, p)
	case errors.Is(err, errNotApplied):
		// A racing duplicate may have committed first and spent the points: it
		// answers the first result, not a refusal.
		if e, found, rerr := s.stored(ctx, s.pool, p); found || rerr != nil {
			return e, rerr
		}
		return Entry{}, s.whyNotApplied(ctx, s.pool, p)
	default:
		return Entry{}, err
	}
}

// postInTx appends a plan in a transaction, after check has run in it (taking the
// locks the decision needs), and sorts out repeats and refusals like post.
func (s *Service) postInTx(ctx context.Context, p plan, check func(pgx.Tx) error) (Entry, error) {
	var entry Entry
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := check(tx); err != nil {
			return err
		}
		var err error
		entry, err = s.append(ctx, tx, p)
		return err
	})
	return s.settlePost(ctx, p, entry, err)
}

// inTx runs fn in a transaction, again after a deadlock or serialization failure.
// The call's audit record commits in it: with fn's entries, or written last when
// fn wrote none (a goodwill grant waiting for approval, a rejection).
func (s *Service) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return s.retry(ctx, func() error {
		return audit.InTx(ctx, s.pool, fn)
	})
}

const maxAttempts = 5

// retry runs fn again, a bounded number of times with a little jittered backoff, when
// PostgreSQL aborted it for a deadlock or serialization failure; each retry is counted.
func (s *Service) retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !database.IsRetryable(err) || attempt == maxAttempts {
			return err
		}
		var pgErr *pgconn.PgError
		errors.As(err, &pgErr)
		s.retries.WithLabelValues(pgErr.Code).Inc()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * time.Millisecond):
		}
	}
}

// stored returns the entry a request already produced, if it did.
func (s *Service) stored(ctx context.Context, db ledgerdb.DBTX, p plan) (Entry, bool, error) {
	row, err := s.q.EntryByRequest(ctx, db, ledgerdb.EntryByRequestParams{MemberID: p.memberID, RequestID: p.requestID})
	if errors.Is(err, pgx.ErrNoRows) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("look up request %q: %w", p.requestID, err)
	}
	if !bytes.Equal(row.Fingerprint, p.fingerprint) {
		return Entry{}, true, ErrIdempotencyConflict.With("requestId %q was already used with a different request", p.requestID)
	}
	return toEntry(row), true, nil
}

// replay answers a repeated request with its first result.
func (s *Service) replay(ctx context.Context, p plan) (Entry, error) {
	e, found, err := s.stored(ctx, s.pool, p)
	if err != nil {
		return Entry{}, err
	}
	if !found {
		return Entry{}, fmt.Errorf("request %q conflicted but is not stored", p.requestID)
	}
	return e, nil
}

// whyNotApplied tells an unknown member from an overdraft.
func (s *Service) whyNotApplied(ctx context.Context, db ledgerdb.DBTX, p plan) error {
	bal, err := s.q.GetMemberBalance(ctx, db, p.memberID)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrMemberNotFound.With("member %q not found", p.memberID)
	}
	if err != nil {
		return fmt.Errorf("read balance of %s: %w", p.memberID, err)
	}
	d, _, _ := split(p.postings)
	return ErrInsufficientPoints.
		With("member %q has %d available points, %d needed", p.memberID, bal.Available, -d.available).
		WithMetadata("available", strconv.FormatInt(bal.Available, 10), "requested", strconv.FormatInt(-d.available, 10))
}

// fingerprint hashes an operation and its command.
func fingerprint(op string, cmd any) []byte { return idempotency.Fingerprint(op, cmd) }

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func optionalID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// systemRequestID names an entry the engine makes by itself (hold expiry, ...). The
// '#' cannot appear in a caller's requestId, so no caller can take the id first.
func systemRequestID(job string, id int64) string {
	return "system#" + job + ":" + strconv.FormatInt(id, 10)
}
