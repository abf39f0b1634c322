package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/loyalty-engine/loyalty/tiers"
)

// ActivityClaim is a member's activity (a review, a share, a check-in) claiming
// the points of the ACTIVITY_REWARD campaigns that cover its type; the campaigns
// package builds it and owns its rules. It runs like a compensation claim: the
// batch locks the member, then the campaigns' budgets and the member's uses of
// them, and reads the activity recorded under its request id or its type and key
// and what the campaigns granted the member lately (their caps count it); in the
// apply step the campaigns decide it (Budgets.Reward), the ledger posts the
// ACTIVITY entries the decision credits, and the campaigns record the activity
// with the entries' ids (Budgets.Rewarded).
type ActivityClaim struct {
	MemberID, RequestID string
	Type, Key           string
	OccurTime           time.Time
	Attributes          map[string]string
	// Location is the program's time zone: caps count its days, weeks, months.
	Location    *time.Location
	Fingerprint []byte
	ActorKeyID  string
	// Campaigns are the running ACTIVITY_REWARD campaigns that cover the type,
	// read from the cache before the batch: their budgets are locked in it.
	Campaigns []string
}

// Claims are a batch's claims on campaigns whose recorded outcomes are read with
// its reads: after-sales compensations and activities.
type Claims struct {
	Compensations []CompensationClaim
	Activities    []ActivityClaim
	Referrals     []ReferralClaim
}

func (c Claims) empty() bool {
	return len(c.Compensations) == 0 && len(c.Activities) == 0 && len(c.Referrals) == 0
}

// RecordActivity runs an activity claim through the group commit and returns the
// campaigns' answer (Budgets.Rewarded's, or a decision's Answer).
func (s *Service) RecordActivity(ctx context.Context, actor Actor, c ActivityClaim) (any, error) {
	if s.promotions == nil {
		return nil, errors.New("ledger: activities without campaigns")
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
		memberID: c.MemberID, kind: KindActivity, requestID: c.RequestID, fingerprint: c.Fingerprint,
		actorKeyID: actor.KeyID, lotExpire: expire, at: s.clock.Now(),
		activity: &activityPlan{claim: c, policy: policy},
	}
	o, err := s.post(ctx, p)
	if err != nil {
		return nil, err
	}
	return o.compensation, o.err
}

type activityPlan struct {
	claim  ActivityClaim
	policy tiers.Policy
}

// addActivity adds what an activity claim needs read, as addCompensation does.
func (n *batchNeeds) addActivity(p plan, addMember func(*[]string, string, string), metricSeen map[metricKey]bool) {
	c := p.activity
	n.entries += len(c.claim.Campaigns)
	n.lots += len(c.claim.Campaigns)
	n.needTier(p.memberID, p.at, addMember)
	if c.policy.Counts(tiers.SourceCampaign) {
		n.needMetric(p.memberID, c.policy, p.at, metricSeen)
	}
	n.needCampaigns(p.memberID, c.claim.Campaigns, addMember)
	n.claims.Activities = append(n.claims.Activities, c.claim)
}

// applyActivity applies an activity claim: the campaigns decide it, each credit is
// posted as an ACTIVITY entry (postCredits), and the campaigns record it.
func (st *batchState) applyActivity(ctx context.Context, p plan) outcome {
	c := p.activity
	return st.applyClaim(ctx, p, claimSteps{
		kind: KindActivity, policy: c.policy, memo: "activity " + c.claim.RequestID,
		decide: func(ctx context.Context, b Budgets, m CompensatedMember) (CompensationDecision, error) {
			return b.Reward(ctx, c.claim, m)
		},
		record: Budgets.Rewarded,
	})
}

// postCredits posts a claim's campaign credits, each as an entry of the kind like
// any other (applyOne), and answers the entries; a credit that cannot be posted
// breaks the batch (the budgets were taken from already): ok is false and o the
// claim's outcome.
func (st *batchState) postCredits(ctx context.Context, p plan, kind Kind, policy tiers.Policy, credits []CampaignCredit, what string) (entries []Entry, o outcome, ok bool) {
	entries = make([]Entry, 0, len(credits))
	for _, cr := range credits {
		memberID := p.memberID
		if cr.MemberID != "" {
			memberID = cr.MemberID // a referral credits its other member too
		}
		cp := plan{
			memberID: memberID, kind: kind, requestID: cr.RequestID, fingerprint: fingerprint("campaign", cr),
			postings: []Posting{{AccountAvailable, cr.Points}, {CampaignAccount(cr.CampaignID), -cr.Points}},
			orderID:  cr.OrderID, memo: cr.Memo, actorKeyID: p.actorKeyID, lotExpire: p.lotExpire, at: p.at,
		}
		if policy.Counts(tiers.SourceCampaign) {
			cp.qualify = qualification(policy, p.at, cr.Points, 0)
		}
		o := st.applyOne(ctx, cp)
		if o.err == nil && o.replayed {
			o.err = fmt.Errorf("%s of %s: its entry %q exists without its record", what, p.memberID, cr.RequestID)
		}
		if o.err != nil {
			if st.broken == nil {
				st.broken = fmt.Errorf("%s of %s: %w", what, p.memberID, o.err)
			}
			return nil, outcome{err: o.err}, false
		}
		entries = append(entries, o.entry)
	}
	return entries, outcome{}, true
}
