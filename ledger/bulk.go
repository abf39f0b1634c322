package ledger

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/problem"
)

// Bulk credits (docs/BULK.md): a chunk of a bulk credit's members is one batch of
// the write path, a BULK_CREDIT entry per member, like any other batch (lock and
// read, apply in Go, set-based write), with the bulk credit's own progress locked
// and written in the same transaction (BulkChunk.Lock, BulkChunk.Record).

// BulkMemberCredit is one member's credit in a chunk.
type BulkMemberCredit struct {
	MemberID string
	Points   int64
}

// BulkChunk is a chunk of a bulk credit, posted as one batch.
type BulkChunk struct {
	BulkCreditID int64
	Credits      []BulkMemberCredit
	Memo         string
	// LotExpire is the expiry of the lots the credits open; zero: the program's
	// expiry policy at the time of posting.
	LotExpire time.Time
	// CampaignID, when set, funds the credits from the campaign's budget: each
	// takes what the budget (and the member's cap) leave, and a member the
	// campaign cannot give anything any more fails.
	CampaignID string
	ActorKeyID string
	// Lock is queued among the batch's reads, after the ledger's own locks (the
	// members', then the campaign's budget): the check it returns runs before
	// the rules apply, and an error from it rolls the batch back and is
	// PostBulkChunk's error (the chunk was done by another run, say).
	Lock func(pipe *database.Pipeline) (check func() error)
	// Record is queued among the batch's writes, before the commit, with every
	// credit's result: the bulk credit's progress commits with its entries.
	Record func(pipe *database.Pipeline, results []BulkResult)
}

// BulkResult is what became of one member's credit.
type BulkResult struct {
	MemberID string
	// Entry is the member's BULK_CREDIT entry (zero when the credit failed);
	// Replayed: it was posted before (by an earlier run of the chunk).
	Entry    Entry
	Replayed bool
	// Reason and Message say why the credit failed (MEMBER_NOT_FOUND,
	// BUDGET_EXHAUSTED, MEMBER_CAP_REACHED, CAMPAIGN_NOT_ACTIVE, ...).
	Reason, Message string
}

// Failed tells whether the credit failed.
func (r BulkResult) Failed() bool { return r.Reason != "" }

// ErrCampaignRefused is a campaign-funded credit its campaign could not give (the
// reason is the campaign's refusal).
var ErrCampaignRefused = problem.New(problem.Precondition, "CAMPAIGN_REFUSED", "the campaign cannot fund the credit")

// bulkCredit is the part of a plan that a bulk credit's campaign funds: the apply
// step takes its points from the budget (Budgets.TakePoints).
type bulkCredit struct {
	campaignID string
	points     int64
}

// BulkRequestID is the request id of every entry of bulk credit id: one per member
// (the unique (member, request id) of entries), so the credit happens once per
// member whatever runs its chunks again. The '#' keeps callers' ids apart.
func BulkRequestID(id int64) string { return systemRequestID("bulk", id) }

// bulkCreditOf is the bulk credit a BULK_CREDIT entry's request id names.
func bulkCreditOf(requestID string) string {
	id, _ := strings.CutPrefix(requestID, "system#bulk:")
	return id
}

// PostBulkChunk posts a chunk: one batch of the write path, again after a deadlock
// or a serialization failure. A member that cannot be credited is a result with a
// reason; the others commit. An error means the chunk wrote nothing.
func (s *Service) PostBulkChunk(ctx context.Context, c BulkChunk) ([]BulkResult, error) {
	expire := c.LotExpire
	if expire.IsZero() {
		var err error
		if expire, err = s.lotExpiry(ctx, s.pool); err != nil {
			return nil, err
		}
	}
	now := s.clock.Now()
	requestID := BulkRequestID(c.BulkCreditID)
	from := AccountIssued
	if c.CampaignID != "" {
		from = CampaignAccount(c.CampaignID)
	}
	plans := make([]plan, len(c.Credits))
	for i, cr := range c.Credits {
		p := plan{memberID: cr.MemberID, kind: KindBulkCredit, requestID: requestID,
			fingerprint: fingerprint("bulkCredit", bulkFingerprint{c.BulkCreditID, cr.Points}),
			postings:    bulkCreditPostings(cr.Points, from),
			memo:        c.Memo, actorKeyID: c.ActorKeyID, lotExpire: expire, at: now}
		if c.CampaignID != "" {
			p.bulk = &bulkCredit{campaignID: c.CampaignID, points: cr.Points}
		}
		plans[i] = p
	}
	hook := &batchHook{lock: c.Lock}
	if c.Record != nil {
		hook.record = func(pipe *database.Pipeline, out []outcome) { c.Record(pipe, bulkResults(plans, out)) }
	}
	var out []outcome
	err := s.retry(ctx, func() error {
		var err error
		out, err = s.appendInLane(ctx, s.pool, plans, AllSlices, hook)
		return err
	})
	if err != nil {
		return nil, err
	}
	return bulkResults(plans, out), nil
}

type bulkFingerprint struct {
	BulkCreditID int64
	Points       int64
}

// bulkResults are the outcomes of a chunk's plans as results.
func bulkResults(plans []plan, out []outcome) []BulkResult {
	res := make([]BulkResult, len(plans))
	for i, o := range out {
		r := BulkResult{MemberID: plans[i].memberID, Entry: o.entry, Replayed: o.replayed}
		if o.err != nil {
			r.Entry = Entry{}
			r.Reason, r.Message = failureReason(o.err), o.err.Error()
		}
		res[i] = r
	}
	return res
}

// failureReason is the reason code of a refusal.
func failureReason(err error) string {
	var pe *problem.Error
	if errors.As(err, &pe) {
		if r := pe.Metadata["refusal"]; r != "" {
			return r
		}
		return pe.Reason
	}
	return "ERROR"
}

// decideBulkCampaign takes a campaign-funded credit's points from the budget: what
// the budget and the member's cap leave (so the budget stops at exactly zero), or a
// refusal.
func (st *batchState) decideBulkCampaign(p plan) (plan, error) {
	if st.budgets == nil {
		return p, ErrCampaignRefused.With("campaign %s has no budget to fund the credit", p.bulk.campaignID).
			WithMetadata("refusal", "CAMPAIGN_NOT_ACTIVE")
	}
	got, refusal, err := st.budgets.TakePoints(p.bulk.campaignID, p.memberID, p.bulk.points, p.at)
	if err != nil {
		return p, err
	}
	if refusal != "" {
		return p, ErrCampaignRefused.With("campaign %s refused the credit of %s: %s", p.bulk.campaignID, p.memberID, refusal).
			WithMetadata("refusal", refusal)
	}
	p.postings = bulkCreditPostings(got, CampaignAccount(p.bulk.campaignID))
	if got < p.bulk.points {
		p.memo = strings.TrimSpace(p.memo + " (" + strconv.FormatInt(got, 10) + " of " + strconv.FormatInt(p.bulk.points, 10) + ": the campaign's budget ran out)")
	}
	return p, nil
}
