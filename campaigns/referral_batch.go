package campaigns

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/ledger"
)

// The referral claims of a ledger batch (ledger.ReferralClaim), like its activity
// claims (activity_batch.go): the referrals and the referrers' paid referrals of
// the month are read with the batch's reads, under both members' row locks; the
// claims are decided in the apply step; the settlements are written with the
// batch's writes.

// ReferralReward is what a REFERRAL campaign pays once the referred member's first
// order left its return window: ReferrerPoints to the referrer, ReferredPoints to
// the member referred, both or neither, within Caps.
type ReferralReward struct {
	ReferrerPoints int64        `json:"referrerPoints" validate:"gte=0,lte=1000000"`
	ReferredPoints int64        `json:"referredPoints" validate:"gte=0,lte=1000000"`
	Caps           ReferralCaps `json:"caps"`
}

// ReferralCaps bound how many referrals of one referrer a campaign pays (zero:
// unbounded): per calendar month of the program's time zone, counted by when they
// were paid.
type ReferralCaps struct {
	PerReferrerPerMonth int32 `json:"perReferrerPerMonth" validate:"gte=0,lte=10000"`
}

// paidReferral is a referral a campaign paid a referrer, when.
type paidReferral struct {
	campaignID string
	paidTime   time.Time
}

// monthlyReferralCapReached is the rule of the monthly cap: the campaign paid the
// referrer perReferrerPerMonth referrals in the calendar month of at (in loc).
func monthlyReferralCapReached(caps ReferralCaps, paid []paidReferral, campaignID string, at time.Time, loc *time.Location) bool {
	if caps.PerReferrerPerMonth <= 0 {
		return false
	}
	start, end := monthOf(at, loc)
	var n int32
	for _, p := range paid {
		if p.campaignID == campaignID && !p.paidTime.Before(start) && p.paidTime.Before(end) {
			n++
		}
	}
	return n >= caps.PerReferrerPerMonth
}

// referralFits is the rule of paying both sides or neither: the campaign is
// active, each member's cap leaves its side in full, and the budget leaves both
// sides. incomplete: only some slices were read and they cannot tell.
func referralFits(cb *campaignBudget, referrer, referred *memberUse, referrerPoints, referredPoints int64, now time.Time) (refusal string, incomplete bool) {
	if !cb.campaign.ActiveAt(now) {
		return RefusedNotActive, false
	}
	if cb.capPoints > 0 && (referrer.points+referrerPoints > cb.capPoints || referred.points+referredPoints > cb.capPoints) {
		return RefusedMemberCap, false
	}
	want := referrerPoints + referredPoints
	var left int64
	for _, sl := range cb.slices {
		left += max(leftOf(sl.budgetPoints, sl.spentPoints, want), 0)
	}
	switch {
	case left >= want:
		return "", false
	case cb.partial:
		return "", true
	}
	return RefusedBudgetExhausted, false
}

// referralClaims are a batch's referrals and the referrers' paid referrals: as
// read, and as the batch settled them.
type referralClaims struct {
	referrals map[string]*campaignsdb.Referral // by referred member
	paid      map[string][]paidReferral        // by referrer
	decided   []decidedReferral
	writes    campaignsdb.SettleReferralsParams
}

type decidedReferral struct {
	claim  ledger.ReferralClaim
	result Referral
}

// queueReferrals queues the reads of the claims' referrals and of their referrers'
// paid referrals since the month's start.
func (s *Service) queueReferrals(ctx context.Context, pipe *database.Pipeline, cs []ledger.ReferralClaim) (read func(b *budgets) error) {
	if len(cs) == 0 {
		return func(*budgets) error { return nil }
	}
	var referred, referrers []string
	since := cs[0].Since
	for _, c := range cs {
		referred = append(referred, c.ReferredID)
		referrers = append(referrers, c.ReferrerID)
		if c.Since.Before(since) {
			since = c.Since
		}
	}
	rows := s.q.ReferralsOfClaims(ctx, pipe, [][]string{referred})
	paid := s.q.PaidReferralsOf(ctx, pipe, []campaignsdb.PaidReferralsOfParams{{ReferrerMemberIds: referrers, Since: &since}})
	return func(b *budgets) error {
		r := &referralClaims{referrals: map[string]*campaignsdb.Referral{}, paid: map[string][]paidReferral{}}
		b.referrals = r
		var rerr error
		rows.Query(func(_ int, rs []campaignsdb.Referral, err error) {
			rerr = err
			for i := range rs {
				r.referrals[rs[i].ReferredMemberID] = &rs[i]
			}
		})
		paid.Query(func(_ int, rs []campaignsdb.PaidReferralsOfRow, err error) {
			if rerr == nil {
				rerr = err
			}
			for _, p := range rs {
				if p.SettleTime != nil {
					r.paid[p.ReferrerMemberID] = append(r.paid[p.ReferrerMemberID], paidReferral{campaignID: p.CampaignID, paidTime: *p.SettleTime})
				}
			}
		})
		if rerr != nil {
			return fmt.Errorf("referrals: %w", rerr)
		}
		return nil
	}
}

// Refer decides a referral claim (ledger.Budgets): a referral settled already
// (another run, or earlier in the batch) is answered as it stands; otherwise the
// running REFERRAL campaigns, in their order, are asked until one pays: refused if
// the referrer is not eligible (tiers, rule), the referrer's monthly cap is
// reached, or the budget and member caps cannot pay both sides (referralFits);
// else both sides are taken from the budget. A referral no campaign pays is
// settled with the first refusal (NO_CAMPAIGN when none runs).
func (b *budgets) Refer(ctx context.Context, c ledger.ReferralClaim, m ledger.CompensatedMember) (ledger.CompensationDecision, error) {
	a := b.referrals
	if a == nil {
		return ledger.CompensationDecision{}, fmt.Errorf("referral of %q: the batch read no referrals", c.ReferredID)
	}
	row := a.referrals[c.ReferredID]
	if row == nil || row.Status != ReferralPending || row.ReferrerMemberID != c.ReferrerID {
		var out Referral
		if row != nil {
			out = toReferral(*row)
		}
		out.Replayed = true
		return ledger.CompensationDecision{Done: true, Answer: out}, nil
	}
	out := toReferral(*row)
	out.SettleTime = m.Now
	facts := Facts{Member: MemberFacts{TierID: m.TierID, MemberID: c.ReferrerID, JoinTime: m.JoinTime}}
	profileFacts(&facts.Member, m.Profile)
	d := ledger.CompensationDecision{Handle: len(a.decided)}
	status := ReferralNoCampaign
	for _, cp := range b.campaigns {
		if cp.Type != TypeReferral || !slices.Contains(c.Campaigns, cp.ID) {
			continue
		}
		refusal := ""
		ok, ruleErr := b.s.eligible(ctx, cp, facts)
		switch {
		case ruleErr != nil || !ok:
			refusal = ReferralNotEligible
		case monthlyReferralCapReached(cp.Referral.Caps, a.paid[c.ReferrerID], cp.ID, m.Now, c.Location):
			refusal = ReferralCapped
		}
		if refusal == "" {
			cb := b.state[cp.ID]
			if cb == nil {
				refusal = ReferralNoCampaign
			} else {
				r, incomplete := referralFits(cb, b.use(cp.ID, c.ReferrerID), b.use(cp.ID, c.ReferredID), cp.Referral.ReferrerPoints, cp.Referral.ReferredPoints, m.Now)
				if incomplete {
					return ledger.CompensationDecision{}, fmt.Errorf("campaign %s: %w", cp.ID, ledger.ErrBudgetsIncomplete)
				}
				if r != "" {
					refusal = ReferralBudgetExhausted
				}
			}
		}
		if refusal != "" {
			if status == ReferralNoCampaign {
				status = refusal
			}
			continue
		}
		referrerReq, referredReq := ledger.ReferralRequestIDs(c.ReferredID)
		for _, side := range []struct {
			member, requestID, memo string
			points                  int64
		}{
			{c.ReferrerID, referrerReq, "referred " + c.ReferredID, cp.Referral.ReferrerPoints},
			{c.ReferredID, referredReq, "referred by " + c.ReferrerID, cp.Referral.ReferredPoints},
		} {
			if side.points == 0 {
				continue
			}
			got := b.take(cp.ID, side.member, side.points, 0, m.Now)
			if got.incomplete {
				return ledger.CompensationDecision{}, fmt.Errorf("campaign %s: %w", cp.ID, ledger.ErrBudgetsIncomplete)
			}
			if got.refusal != "" || got.points != side.points {
				// referralFits said both fit: a take that disagrees is a bug.
				return ledger.CompensationDecision{}, fmt.Errorf("referral of %s: campaign %s took %d of %d (%s)", c.ReferredID, cp.ID, got.points, side.points, got.refusal)
			}
			d.Credits = append(d.Credits, ledger.CampaignCredit{MemberID: side.member, RequestID: side.requestID, CampaignID: cp.ID,
				Points: side.points, Memo: fmt.Sprintf("%s: %s", cp.DisplayName, side.memo)})
		}
		status = ReferralPaid
		out.CampaignID, out.ReferrerPoints, out.ReferredPoints = cp.ID, cp.Referral.ReferrerPoints, cp.Referral.ReferredPoints
		break
	}
	out.Status = status
	a.decided = append(a.decided, decidedReferral{claim: c, result: out})
	return d, nil
}

// Referred settles a referral Refer decided, with the entries the ledger posted
// for its credits (ledger.Budgets): the referral's status and entry ids, the
// paid referral the monthly cap counts, and its referral.settled event.
func (b *budgets) Referred(d ledger.CompensationDecision, entries []ledger.Entry) (any, []events.Event) {
	a := b.referrals
	dr := &a.decided[d.Handle]
	c, out := dr.claim, dr.result
	for i, cr := range d.Credits {
		if i >= len(entries) {
			break
		}
		if cr.MemberID == c.ReferrerID {
			out.ReferrerEntryID = entries[i].ID
		} else {
			out.ReferredEntryID = entries[i].ID
		}
	}
	if out.Status == ReferralPaid {
		a.paid[c.ReferrerID] = append(a.paid[c.ReferrerID], paidReferral{campaignID: out.CampaignID, paidTime: out.SettleTime})
	}
	row := a.referrals[c.ReferredID]
	row.Status = out.Status // a second claim of the batch finds it settled
	w := &a.writes
	w.ReferredMemberIds = append(w.ReferredMemberIds, c.ReferredID)
	w.Statuses = append(w.Statuses, out.Status)
	w.CampaignIds = append(w.CampaignIds, out.CampaignID)
	w.ReferrerPoints = append(w.ReferrerPoints, out.ReferrerPoints)
	w.ReferredPoints = append(w.ReferredPoints, out.ReferredPoints)
	w.ReferrerEntryIds = append(w.ReferrerEntryIds, out.ReferrerEntryID)
	w.ReferredEntryIds = append(w.ReferredEntryIds, out.ReferredEntryID)
	w.FirstEntryIds = append(w.FirstEntryIds, c.FirstEntryID)
	w.SettleTimes = append(w.SettleTimes, out.SettleTime)
	return out, []events.Event{{Type: events.ReferralSettled, OccurTime: out.SettleTime, MemberID: c.ReferrerID, Data: referralData(out)}}
}

// queueReferralWrites queues the settlements the batch decided.
func (b *budgets) queueReferralWrites(ctx context.Context, pipe *database.Pipeline) {
	if a := b.referrals; a != nil && len(a.writes.ReferredMemberIds) > 0 {
		b.s.q.SettleReferrals(ctx, pipe, []campaignsdb.SettleReferralsParams{a.writes})
	}
}
