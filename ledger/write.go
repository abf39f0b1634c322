package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/internal/audit"
	"github.com/loyalty-engine/loyalty/internal/idempotency"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
	"github.com/loyalty-engine/loyalty/tiers"
)

// Errors of the write path.
var (
	ErrInsufficientPoints  = problem.New(problem.Precondition, "INSUFFICIENT_POINTS", "not enough available points")
	ErrIdempotencyConflict = idempotency.ErrConflict
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

	// Lots (see batchState.settleLots). lotExpire is the expiry of
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

	// qualify: the entry moves the member's qualifying metric, which may upgrade
	// the member at once (batchState.qualify).
	qualify *qualifying
	// earn: an earning whose tier and campaign parts the apply step decides; its
	// postings and qualify are set then.
	earn *earnPlan
	// close: a capture or void of a hold known by id; the apply step finds its
	// member, checks it and sets kind and postings.
	close *holdClose
	// placeHold: the entry places a hold (held until expire), whose row the
	// batch writes with the entry.
	placeHold *holdPlace
	// release: the release job's posting of a pending earning, known by its entry
	// id; expireLots: the expiry job's for a member's due lots. The apply step
	// decides, under the locks, whether there is still something to post and sets
	// the postings (batchState.decideJob).
	release    *pendingRef
	expireLots *lotsDue
	// goodwill: a goodwill grant, which a limited key's limits may turn into an
	// approval instead of an entry; decide: an admin's decision on an approval
	// (apply_goodwill.go).
	goodwill *goodwillGrant
	decide   *approvalDecision
	// refund: a refund of the order (orderID); the apply step decides its
	// entries, a take-back and a give-back, from the order as the batch locked it.
	refund *refundPlan
	// reverseOrder: a reversal of an entry on an order (apply_reverse.go).
	reverseOrder *orderReversal
	// compensation: an after-sales claim on the compensation campaigns, which
	// they decide in the apply step (compensation.go).
	compensation *compensationPlan
	// opening: a member's import (opening.go): enrolled in the read step, then
	// its opening balance, metric and start tier.
	opening *openingPlan
	// activity: a member's activity claiming the ACTIVITY_REWARD campaigns'
	// points (activity.go).
	activity *activityPlan
	// referral: a referral claiming the REFERRAL campaigns' points for both of
	// its members (referral.go).
	referral *referralPlan
	// bulk: a bulk credit's member credit funded by a campaign, whose points the
	// apply step takes from the budget (bulk.go).
	bulk *bulkCredit

	// call is the audit record of the API call the entry is the effect of (nil for
	// the engine's own entries): written in the entry's transaction, if it writes
	// the entry.
	call *audit.Pending
}

// earnPlan is an earning whose tier and campaign parts, and so its postings, the
// apply step decides from the state it reads under the member's lock.
type earnPlan struct {
	policy tiers.Policy
	// lines are the parts known before: the BASE points of a spend, or EXPLICIT
	// points; points is their sum.
	lines  []BreakdownLine
	points int64
	// base: the BASE points the tier's multiplier and the campaigns scale.
	base int64
	// qualifyingPoints: of points, those the policy counts towards the tiers.
	qualifyingPoints int64
	spend            int64
	// applyTier: an order's or a spend's earning gets the member's tier part, and
	// its order records the tier and its perks.
	applyTier bool
	// campaigns: the points campaigns that may add to the earning.
	campaigns []string
	// credit: the account the earning credits (available, or pending while the
	// order's return window runs).
	credit string
}

// holdPlace is a hold being placed.
type holdPlace struct {
	points int64
	expire time.Time
}

// holdClose is a capture (of points, zero: all of them) or a void of a hold.
type holdClose struct {
	holdID  int64
	capture bool
	points  int64
	// expire: the hold-expiry job's release of a hold whose time is up.
	expire bool
}

// mayQualify tells whether the earning may move the qualifying metric up (and so
// upgrade the member): some part of it counts, or it has a spend. The read step reads
// the metric and the tier only then.
func (e *earnPlan) mayQualify() bool {
	return e.qualifyingPoints > 0 || e.spend > 0 ||
		(e.applyTier && e.policy.Counts(tiers.SourceTier)) || (len(e.campaigns) > 0 && e.policy.Counts(tiers.SourceCampaign))
}

// qualifying is what an entry adds to (or, negative, takes off) the member's
// qualifying metric, on which day, under which policy, at which instant.
type qualifying struct {
	day           time.Time
	points, spend int64
	policy        tiers.Policy
	at            time.Time
}

// post runs a plan through the write path on its own: concurrent posts are grouped
// into one batch, one transaction and one commit (see committer).
func (s *Service) post(ctx context.Context, p plan) (outcome, error) {
	p.call = audit.From(ctx) // the group committer runs it on a context of its own
	if s.committer.maxBatch > 1 {
		return s.committer.submit(ctx, p)
	}
	var out outcome
	err := s.retry(ctx, func() error {
		o, err := s.appendAll(ctx, s.pool, []plan{p})
		if err == nil {
			out = o[0]
		}
		return err
	})
	return out, err
}

// postEntry is post for a plan whose answer is its entry.
func (s *Service) postEntry(ctx context.Context, p plan) (Entry, error) {
	o, err := s.post(ctx, p)
	if err != nil {
		return Entry{}, err
	}
	return o.entry, o.err
}

// inTx runs fn in a transaction, again after a deadlock or serialization failure.
// The call's audit record commits in it: with fn's entries, or written last when
// fn wrote none.
func (s *Service) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return audit.RunInTx(ctx, s.tx, s.pool, fn)
}

// retry runs fn again after a deadlock or serialization failure (bounded, counted).
func (s *Service) retry(ctx context.Context, fn func() error) error { return s.tx.Retry(ctx, fn) }

// stored returns the entry a request already produced, if it did.
func (s *Service) stored(ctx context.Context, db ledgerdb.DBTX, p plan) (Entry, bool, error) {
	row, err := s.q.EntryByRequest(ctx, db, ledgerdb.EntryByRequestParams{MemberID: p.memberID, RequestID: p.requestID})
	if errors.Is(err, pgx.ErrNoRows) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("look up request %q: %w", p.requestID, err)
	}
	if err := idempotency.Check(row.Fingerprint, p.fingerprint, p.requestID); err != nil {
		return Entry{}, true, err
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

// fingerprint hashes an operation and its command.
func fingerprint(op string, cmd any) []byte { return idempotency.Fingerprint(op, cmd) }

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
