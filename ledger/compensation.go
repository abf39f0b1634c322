package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/audit"
	"github.com/loyalty-engine/loyalty/tiers"
)

// CompensationClaim is an after-sales event's claim on the compensation campaigns
// (the campaigns package builds it and owns its rules). The ledger runs it as a
// command of the group commit: the batch locks the member, then the campaigns'
// budgets and the member's uses of them, and reads the outcome an earlier claim of
// the same order and type (or request id) recorded; in the apply step the campaigns
// decide it (Budgets.Compensate), the ledger posts the CAMPAIGN entries the decision
// credits as any entry is posted, and the campaigns record the outcome with the
// entries' ids (Budgets.Compensated); the record, the coupons and the budgets are
// written with the batch's other rows.
type CompensationClaim struct {
	MemberID, OrderID, EventType, RequestID string
	DelayHours                              int32
	// Fingerprint identifies the request body (idempotency.Fingerprint).
	Fingerprint []byte
	ActorKeyID  string
	// Campaigns are the running compensation campaigns that cover the event, read
	// (from the cache) before the batch: their budgets are locked in it.
	Campaigns []string
}

// CompensatedMember is what the campaigns judge a claim's member by, as the batch
// read it under the member's lock.
type CompensatedMember struct {
	TierID   string
	JoinTime time.Time
	Profile  Profile
	Now      time.Time
}

// CompensationDecision is what the campaigns decided for a claim in the apply step.
type CompensationDecision struct {
	// Done: Answer is the claim's whole answer (a repeat's first answer, or
	// nothing granted) and nothing is posted or recorded but Events (refusals).
	Done   bool
	Answer any
	Events []events.Event
	// Credits are the CAMPAIGN entries to post, in order; Handle is the
	// campaigns' own reference for Compensated.
	Credits []CampaignCredit
	Handle  int
}

// Compensate runs a compensation claim through the group commit and returns the
// campaigns' answer (Budgets.Compensated's, or a decision's Answer).
func (s *Service) Compensate(ctx context.Context, actor Actor, c CompensationClaim) (any, error) {
	if s.promotions == nil {
		return nil, errors.New("ledger: compensation without campaigns")
	}
	policy, err := s.tiers.PolicyOn(ctx, s.pool)
	if err != nil {
		return nil, err
	}
	expire, err := s.lotExpiry(ctx, s.pool)
	if err != nil {
		return nil, err
	}
	p := plan{
		memberID: c.MemberID, kind: KindCampaign, requestID: c.RequestID, fingerprint: c.Fingerprint,
		orderID: c.OrderID, actorKeyID: actor.KeyID, lotExpire: expire, at: s.clock.Now(),
		compensation: &compensationPlan{claim: c, policy: policy},
	}
	o, err := s.post(ctx, p)
	if err != nil {
		return nil, err
	}
	return o.compensation, o.err
}

// compensationPlan is a compensation claim on its way through the batch.
type compensationPlan struct {
	claim  CompensationClaim
	policy tiers.Policy
}

// addCompensation adds what a compensation claim needs read: the member's tier (the
// campaigns scale their points by it), the qualifying metric when campaign points
// count towards the tiers, the campaigns' budgets (the batch's lane of slices, as
// for an earning's bonuses: a claim they cannot answer runs the batch again with
// every slice), ids for an entry and a lot per campaign, and the outcomes recorded
// for the claim.
func (n *batchNeeds) addCompensation(p plan, addMember func(*[]string, string, string), metricSeen map[metricKey]bool) {
	c := p.compensation
	n.entries += len(c.claim.Campaigns)
	n.lots += len(c.claim.Campaigns)
	n.needTier(p.memberID, p.at, addMember)
	if c.policy.Counts(tiers.SourceCampaign) {
		n.needMetric(p.memberID, c.policy, p.at, metricSeen)
	}
	n.needCampaigns(p.memberID, c.claim.Campaigns, addMember)
	n.claims.Compensations = append(n.claims.Compensations, c.claim)
}

// applyCompensation applies a compensation claim (applyClaim): its credits are
// CAMPAIGN entries.
func (st *batchState) applyCompensation(ctx context.Context, p plan) outcome {
	c := p.compensation
	return st.applyClaim(ctx, p, claimSteps{
		kind: KindCampaign, policy: c.policy, memo: "compensation " + c.claim.RequestID,
		decide: func(ctx context.Context, b Budgets, m CompensatedMember) (CompensationDecision, error) {
			return b.Compensate(ctx, c.claim, m)
		},
		record: Budgets.Compensated,
	})
}

// claimSteps is how one kind of campaign claim (a compensation, an activity) is
// decided, posted and recorded: applyClaim runs them.
type claimSteps struct {
	kind   Kind
	policy tiers.Policy
	memo   string
	decide func(context.Context, Budgets, CompensatedMember) (CompensationDecision, error)
	record func(Budgets, CompensationDecision, []Entry) (any, []events.Event)
}

// applyClaim decides a campaign claim from the budgets the batch locked and the
// member's effective tier, posts each credit as any entry is (postCredits), and
// has the campaigns record the outcome with the entries. A claim whose credits
// cannot all be posted breaks the batch: the budgets were taken from already.
func (st *batchState) applyClaim(ctx context.Context, p plan, steps claimSteps) outcome {
	m := st.members[p.memberID]
	if m == nil {
		return outcome{err: ErrMemberNotFound.With("member %q not found", p.memberID)}
	}
	if st.budgets == nil {
		return outcome{err: fmt.Errorf("%s: the batch read no campaign budgets", steps.memo)}
	}
	ts := st.tierOf(p.memberID)
	tierID, _ := tiers.Effective(steps.policy, ts.state.TierID, ts.memberships, p.at)
	d, err := steps.decide(ctx, st.budgets, CompensatedMember{TierID: tierID, JoinTime: m.joinTime, Profile: m.profile(), Now: p.at})
	switch {
	case errors.Is(err, ErrBudgetsIncomplete):
		st.broken = err
		return outcome{err: err}
	case err != nil:
		return outcome{err: err}
	case d.Done:
		st.out.events = append(st.out.events, d.Events...)
		return outcome{compensation: d.Answer, skipped: true}
	}
	entries, o, ok := st.postCredits(ctx, p, steps.kind, steps.policy, d.Credits, steps.memo)
	if !ok {
		return o
	}
	answer, evs := steps.record(st.budgets, d, entries)
	st.out.events = append(st.out.events, evs...)
	res := outcome{compensation: answer, compensated: true}
	if len(entries) > 0 {
		res.entry = entries[0]
	}
	return res
}

// compensationCalls are the audited calls of claims whose outcome the batch records
// without an entry (a coupon alone): their records are written with the outcome.
func compensationCalls(plans []plan, out []outcome) []*audit.Pending {
	var calls []*audit.Pending
	for i, p := range plans {
		if o := out[i]; p.call != nil && o.err == nil && o.compensated && o.entry.ID == 0 {
			calls = append(calls, p.call)
		}
	}
	return calls
}
