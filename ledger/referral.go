package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/loyalty-engine/loyalty/tiers"
)

// ReferralClaim is a referral whose referred member's first order left its return
// window, claiming the points of the running REFERRAL campaigns for both members;
// the campaigns package builds it and owns its rules. It runs like an activity
// claim, with two members: the batch locks the referrer (the claim's member, whose
// tier and rule the campaigns judge) and the referred member, the campaigns'
// budgets and both members' uses of them, and reads the referral and the
// referrer's paid referrals of the month under those locks; in the apply step the
// campaigns decide it (Budgets.Refer), the ledger posts the REFERRAL entries the
// decision credits (one per member, or none) in the batch's one transaction, and
// the campaigns settle the referral with the entries' ids (Budgets.Referred).
type ReferralClaim struct {
	ReferrerID, ReferredID string
	// FirstEntryID is the referred member's first order's earning.
	FirstEntryID int64
	// Location is the program's time zone: the monthly cap counts its months.
	Location *time.Location
	// Since is the start of the month of the job's run: the paid referrals read.
	Since time.Time
	// Campaigns are the running REFERRAL campaigns, read from the cache before
	// the batch: their budgets are locked in it.
	Campaigns []string
}

// referralRequestID is the request id of one side's REFERRAL entry of the
// referral of the referred member: the entries' unique (member, request id) index
// makes each side once, whatever the retries and racing runs.
func referralRequestID(referredID, side string) string {
	return "system#referral:" + referredID + ":" + side
}

// ReferralRequestIDs are the request ids of a referral's two entries (referrer's,
// referred member's).
func ReferralRequestIDs(referredID string) (referrer, referred string) {
	return referralRequestID(referredID, "referrer"), referralRequestID(referredID, "referred")
}

// ReferralAnswer is the answer to one referral claim of PayReferrals: the
// campaigns' (Budgets.Referred's, or a decision's Answer), or why it failed.
type ReferralAnswer struct {
	Answer any
	Err    error
}

// PayReferrals runs referral claims as one batch of the write path (again after a
// deadlock or a serialization failure) and answers each claim.
func (s *Service) PayReferrals(ctx context.Context, claims []ReferralClaim) ([]ReferralAnswer, error) {
	if s.promotions == nil {
		return nil, errors.New("ledger: referrals without campaigns")
	}
	if len(claims) == 0 {
		return nil, nil
	}
	policy, err := s.tiers.PolicyOn(ctx, s.pool)
	if err != nil {
		return nil, err
	}
	expire, err := s.lotExpiry(ctx, s.pool)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	plans := make([]plan, len(claims))
	for i, c := range claims {
		plans[i] = plan{
			memberID: c.ReferrerID, kind: KindReferral, requestID: "system#referral:" + c.ReferredID,
			fingerprint: fingerprint("referral", c.ReferredID), actorKeyID: "system", lotExpire: expire, at: now,
			referral: &referralPlan{claim: c, policy: policy},
		}
	}
	out, err := s.sweep(ctx, plans)
	if err != nil {
		return nil, fmt.Errorf("pay referrals: %w", err)
	}
	answers := make([]ReferralAnswer, len(out))
	for i, o := range out {
		answers[i] = ReferralAnswer{Answer: o.compensation, Err: o.err}
	}
	return answers, nil
}

type referralPlan struct {
	claim  ReferralClaim
	policy tiers.Policy
}

// addReferral adds what a referral claim needs read: both members, locked, their
// tiers (and metrics when campaign points count towards the tiers), the
// campaigns' budgets and both members' uses of them, ids for an entry and a lot
// per side, and the referral itself.
func (n *batchNeeds) addReferral(p plan, addMember func(*[]string, string, string), metricSeen map[metricKey]bool) {
	c := p.referral
	addMember(&n.members, c.claim.ReferredID, "m:"+c.claim.ReferredID)
	n.entries += 2
	n.lots += 2
	for _, m := range []string{c.claim.ReferrerID, c.claim.ReferredID} {
		n.needTier(m, p.at, addMember)
		if c.policy.Counts(tiers.SourceCampaign) {
			n.needMetric(m, c.policy, p.at, metricSeen)
		}
		n.needCampaigns(m, c.claim.Campaigns, addMember)
	}
	n.claims.Referrals = append(n.claims.Referrals, c.claim)
}

// applyReferral applies a referral claim (applyClaim, judged by the referrer):
// its credits are REFERRAL entries, the referrer's and the referred member's, all
// posted or the batch broken.
func (st *batchState) applyReferral(ctx context.Context, p plan) outcome {
	c := p.referral
	if st.members[c.claim.ReferredID] == nil {
		return outcome{err: ErrMemberNotFound.With("member %q not found", c.claim.ReferredID)}
	}
	return st.applyClaim(ctx, p, claimSteps{
		kind: KindReferral, policy: c.policy, memo: "referral of " + c.claim.ReferredID,
		decide: func(ctx context.Context, b Budgets, m CompensatedMember) (CompensationDecision, error) {
			return b.Refer(ctx, c.claim, m)
		},
		record: Budgets.Referred,
	})
}
