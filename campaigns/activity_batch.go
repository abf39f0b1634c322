package campaigns

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/idempotency"
	"github.com/loyalty-engine/loyalty/ledger"
)

// The activity claims of a ledger batch (ledger.ActivityClaim), like its
// compensation claims (compensation_batch.go): the activities recorded for them
// and the members' recent grants are read with the batch's reads, under the
// members' row locks; the claims are decided in the apply step; the activities
// and grants are written with the batch's writes.

// activityClaims are a batch's activities and grants: as read, and as the batch
// recorded them, in order, so a repeat or a cap later in the batch sees them.
type activityClaims struct {
	recorded []campaignsdb.Activity
	grants   map[string][]activityGrant // by member
	decided  []decidedActivity
	writes   campaignsdb.WriteActivitiesParams
	granted  campaignsdb.WriteActivityGrantsParams
}

type decidedActivity struct {
	claim  ledger.ActivityClaim
	result ActivityResult
	grants []ActivityGrant // without their entry ids yet
}

// queueActivities queues the reads of the claims' recorded activities and of their
// members' grants since the earliest cap period.
func (s *Service) queueActivities(ctx context.Context, pipe *database.Pipeline, cs []ledger.ActivityClaim) (read func(b *budgets) error) {
	if len(cs) == 0 {
		return func(*budgets) error { return nil }
	}
	var k campaignsdb.ActivitiesOfParams
	var g campaignsdb.ActivityGrantsOfParams
	for _, c := range cs {
		k.MemberIds = append(k.MemberIds, c.MemberID)
		k.RequestIds = append(k.RequestIds, c.RequestID)
		k.ActivityTypes = append(k.ActivityTypes, c.Type)
		k.ActivityKeys = append(k.ActivityKeys, c.Key)
		g.MemberIds = append(g.MemberIds, c.MemberID)
		g.Sinces = append(g.Sinces, capsSince(c.OccurTime, c.Location))
		g.ActivityKeys = append(g.ActivityKeys, c.Key)
	}
	recorded := s.q.ActivitiesOf(ctx, pipe, []campaignsdb.ActivitiesOfParams{k})
	grants := s.q.ActivityGrantsOf(ctx, pipe, []campaignsdb.ActivityGrantsOfParams{g})
	return func(b *budgets) error {
		a := &activityClaims{grants: map[string][]activityGrant{}}
		b.activities = a
		var rerr error
		recorded.Query(func(_ int, rs []campaignsdb.Activity, err error) {
			rerr = err
			a.recorded = append(a.recorded, rs...)
		})
		seen := map[int64]bool{} // a grant read for two claims of its member
		grants.Query(func(_ int, rs []campaignsdb.ActivityGrant, err error) {
			if rerr == nil {
				rerr = err
			}
			for _, r := range rs {
				if !seen[r.EntryID] {
					seen[r.EntryID] = true
					a.grants[r.MemberID] = append(a.grants[r.MemberID], activityGrant{campaignID: r.CampaignID, activityKey: r.ActivityKey, occurTime: r.OccurTime, entryID: r.EntryID})
				}
			}
		})
		if rerr != nil {
			return fmt.Errorf("activities: %w", rerr)
		}
		return nil
	}
}

// recordedActivity is the activity recorded under the claim's request id (which
// must then be the same activity) or with its type and key, if there is one.
func (a *activityClaims) recordedActivity(c ledger.ActivityClaim) (ActivityResult, bool, error) {
	for i := range a.recorded {
		r := &a.recorded[i]
		if r.MemberID != c.MemberID {
			continue
		}
		if r.RequestID == c.RequestID {
			if err := idempotency.Checkf(r.Fingerprint, c.Fingerprint, "requestId %q was already used for another activity", c.RequestID); err != nil {
				return ActivityResult{}, true, err
			}
			return decodeActivity(r.Outcome)
		}
		if c.Key != "" && r.ActivityType == c.Type && r.ActivityKey == c.Key {
			return decodeActivity(r.Outcome)
		}
	}
	return ActivityResult{}, false, nil
}

func decodeActivity(raw []byte) (ActivityResult, bool, error) {
	var out ActivityResult
	if err := json.Unmarshal(raw, &out); err != nil {
		return ActivityResult{}, true, fmt.Errorf("decode activity: %w", err)
	}
	out.Replayed = true
	return out, true, nil
}

// Reward decides an activity claim (ledger.Budgets): a repeat answers the activity
// recorded first; otherwise each running campaign that covers the type, in the
// campaigns' order, is refused if the member is not eligible (tiers, rule) or a
// cap is reached (activityCapRefusal), else asks its points of its budget and the
// member's cap (take). The activity is recorded whatever it got, so that a
// duplicate never earns later.
func (b *budgets) Reward(ctx context.Context, c ledger.ActivityClaim, m ledger.CompensatedMember) (ledger.CompensationDecision, error) {
	a := b.activities
	if a == nil {
		return ledger.CompensationDecision{}, fmt.Errorf("activity %q: the batch read no activities", c.RequestID)
	}
	if out, found, err := a.recordedActivity(c); found || err != nil {
		return ledger.CompensationDecision{Done: true, Answer: out}, err
	}
	out := ActivityResult{MemberID: c.MemberID, Type: c.Type, Key: c.Key, RequestID: c.RequestID, OccurTime: c.OccurTime, Time: m.Now,
		Grants: []ActivityGrant{}, Refusals: []Refusal{}}
	facts := Facts{
		Member:   MemberFacts{TierID: m.TierID, MemberID: c.MemberID, JoinTime: m.JoinTime},
		Activity: ActivityFacts{Type: c.Type, Key: c.Key, Attributes: c.Attributes},
	}
	profileFacts(&facts.Member, m.Profile)
	if facts.Activity.Attributes == nil {
		facts.Activity.Attributes = map[string]string{}
	}
	d := ledger.CompensationDecision{Handle: len(a.decided)}
	var grants []ActivityGrant
	covered := false
	for _, cp := range b.campaigns {
		if !slices.Contains(c.Campaigns, cp.ID) || !cp.rewards(c.Type) {
			continue
		}
		covered = true
		ok, ruleErr := b.s.eligible(ctx, cp, facts)
		if ruleErr != nil {
			out.Refusals = append(out.Refusals, Refusal{CampaignID: cp.ID, Reason: RefusedRuleError, RuleError: ruleErr.Err.Error()})
			continue
		}
		if !ok {
			out.Refusals = append(out.Refusals, Refusal{CampaignID: cp.ID, Reason: RefusedNotEligible})
			continue
		}
		if r := activityCapRefusal(cp.Activity.Caps, a.grants[c.MemberID], cp.ID, c.Key, c.OccurTime, c.Location); r != "" {
			out.Refusals = append(out.Refusals, Refusal{CampaignID: cp.ID, Reason: r})
			continue
		}
		got := b.take(cp.ID, c.MemberID, cp.Activity.Points, 0, m.Now)
		if got.incomplete {
			return ledger.CompensationDecision{}, fmt.Errorf("campaign %s: %w", cp.ID, ledger.ErrBudgetsIncomplete)
		}
		if got.refusal != "" {
			out.Refusals = append(out.Refusals, Refusal{CampaignID: cp.ID, Reason: got.refusal})
			continue
		}
		grants = append(grants, ActivityGrant{CampaignID: cp.ID, Points: got.points})
		d.Credits = append(d.Credits, ledger.CampaignCredit{
			MemberID: c.MemberID, RequestID: grantRequestID(c.RequestID, cp.ID), CampaignID: cp.ID,
			Points: got.points, Memo: fmt.Sprintf("%s: %s", cp.DisplayName, c.Type),
		})
	}
	if !covered {
		out.Reason = NoMatchingCampaign
	}
	a.decided = append(a.decided, decidedActivity{claim: c, result: out, grants: grants})
	return d, nil
}

// Rewarded records an activity Reward decided, with the entries the ledger posted
// for its credits (ledger.Budgets): the grants with their entry ids, the record a
// repeat answers, the grants the caps count, and its activity.recorded event.
func (b *budgets) Rewarded(d ledger.CompensationDecision, entries []ledger.Entry) (any, []events.Event) {
	a := b.activities
	da := &a.decided[d.Handle]
	c, out := da.claim, da.result
	data := events.ActivityData{RequestID: c.RequestID, ActivityType: c.Type, ActivityKey: c.Key,
		Grants: []events.ActivityGrant{}, Refusals: []events.ActivityRefusal{}}
	for i, g := range da.grants {
		if i < len(entries) {
			g.EntryID = entries[i].ID
		}
		out.Grants = append(out.Grants, g)
		out.Points += g.Points
		a.grants[c.MemberID] = append(a.grants[c.MemberID], activityGrant{campaignID: g.CampaignID, activityKey: c.Key, occurTime: c.OccurTime, entryID: g.EntryID})
		w := &a.granted
		w.MemberIds = append(w.MemberIds, c.MemberID)
		w.CampaignIds = append(w.CampaignIds, g.CampaignID)
		w.ActivityTypes = append(w.ActivityTypes, c.Type)
		w.ActivityKeys = append(w.ActivityKeys, c.Key)
		w.OccurTimes = append(w.OccurTimes, c.OccurTime)
		w.Points = append(w.Points, g.Points)
		w.EntryIds = append(w.EntryIds, g.EntryID)
		data.Grants = append(data.Grants, events.ActivityGrant{CampaignID: g.CampaignID, Points: g.Points, EntryID: fmt.Sprint(g.EntryID)})
	}
	for _, r := range out.Refusals {
		data.Refusals = append(data.Refusals, events.ActivityRefusal{CampaignID: r.CampaignID, Reason: r.Reason})
	}
	data.Points = out.Points
	outcome, err := json.Marshal(out)
	if err != nil {
		panic(fmt.Sprintf("encode activity: %v", err)) // plain structs: never fails
	}
	w := &a.writes
	w.MemberIds = append(w.MemberIds, c.MemberID)
	w.RequestIds = append(w.RequestIds, c.RequestID)
	w.ActivityTypes = append(w.ActivityTypes, c.Type)
	w.ActivityKeys = append(w.ActivityKeys, c.Key)
	w.Fingerprints = append(w.Fingerprints, c.Fingerprint)
	w.OccurTimes = append(w.OccurTimes, c.OccurTime)
	w.Outcomes = append(w.Outcomes, outcome)
	w.ActorKeyIds = append(w.ActorKeyIds, c.ActorKeyID)
	w.CreateTimes = append(w.CreateTimes, out.Time)
	a.recorded = append(a.recorded, campaignsdb.Activity{MemberID: c.MemberID, RequestID: c.RequestID, ActivityType: c.Type,
		ActivityKey: c.Key, Fingerprint: c.Fingerprint, Outcome: outcome})
	return out, []events.Event{{Type: events.ActivityRecorded, OccurTime: out.Time, MemberID: c.MemberID, Data: data}}
}

// queueActivityWrites queues the activities and grants the batch recorded.
func (b *budgets) queueActivityWrites(ctx context.Context, pipe *database.Pipeline) {
	a := b.activities
	if a == nil {
		return
	}
	if len(a.writes.MemberIds) > 0 {
		b.s.q.WriteActivities(ctx, pipe, []campaignsdb.WriteActivitiesParams{a.writes})
	}
	if len(a.granted.MemberIds) > 0 {
		b.s.q.WriteActivityGrants(ctx, pipe, []campaignsdb.WriteActivityGrantsParams{a.granted})
	}
}
