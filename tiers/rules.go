package tiers

import (
	"math/bits"
	"time"
)

// Reasons a member's qualified tier changes (or is confirmed), as recorded in the
// tier history.
const (
	ReasonUpgrade      = "UPGRADE"       // the metric reached a higher tier
	ReasonRenewed      = "RENEWED"       // the period ended with the tier still earned
	ReasonGraceStarted = "GRACE_STARTED" // the period ended below the tier's threshold
	ReasonDowngrade    = "DOWNGRADE"     // grace over, still below
	ReasonImported     = "IMPORTED"      // started by a member import (Start)
)

// State is a member's qualified tier and how long it holds.
type State struct {
	TierID string
	// PeriodEnd: the tier holds at least until then.
	PeriodEnd time.Time
	// GraceEnd is set while the member is in grace: the period ended below the
	// tier's threshold, and the tier holds until then to requalify.
	GraceEnd time.Time
}

// Change is a transition of the qualified tier (or of its period).
type Change struct {
	From, To string
	Reason   string
	Metric   int64
}

// Evaluate applies the policy to a member's state given their metric now. It is the
// whole qualification rule, pure: an upgrade happens at once whenever the metric
// reaches a higher tier; otherwise nothing changes before the period ends. At the
// end of the period the tier is renewed if still earned, else grace starts (if the
// policy has any); when grace ends still below, the member drops one tier (OneDown)
// or to the tier the metric earns, and a new period starts. A recovery during grace
// renews the tier.
func Evaluate(p Policy, s State, metric int64, now time.Time) (State, *Change) {
	current := p.Index(s.TierID)
	if current < 0 {
		current = 0 // a tier the policy no longer has: start from the bottom
	}
	qualified := p.QualifiedIndex(metric)
	period := time.Duration(p.PeriodDays) * 24 * time.Hour
	change := func(to int, reason string) (State, *Change) {
		next := State{TierID: p.Tiers[to].ID}
		if to > 0 {
			next.PeriodEnd = now.Add(period) // the bottom tier never ends
		}
		return next, &Change{From: s.TierID, To: next.TierID, Reason: reason, Metric: metric}
	}
	switch {
	case qualified > current:
		return change(qualified, ReasonUpgrade)
	case current == 0:
		return State{TierID: p.Tiers[0].ID}, nil
	case now.Before(s.PeriodEnd):
		return s, nil
	case qualified == current:
		return change(current, ReasonRenewed)
	}
	// The period is over and the metric is below the tier.
	if s.GraceEnd.IsZero() && p.GraceDays > 0 {
		next := s
		next.GraceEnd = s.PeriodEnd.Add(time.Duration(p.GraceDays) * 24 * time.Hour)
		if now.Before(next.GraceEnd) {
			return next, &Change{From: s.TierID, To: s.TierID, Reason: ReasonGraceStarted, Metric: metric}
		}
		s = next // grace already over too (the job ran late)
	}
	if !s.GraceEnd.IsZero() && now.Before(s.GraceEnd) {
		return s, nil
	}
	return change(downgradeTarget(p, current, qualified), ReasonDowngrade)
}

// Start is the qualified tier an imported member starts with (a member import,
// docs/IMPORT_EXPORT.md): the better of the tier it brings from the system it
// leaves (startTierID, "" for none) and the tier its metric so far earns, with a
// new period from now, as an upgrade would give. A member already above both
// keeps its tier: an import never lowers one (nil change). Start never goes
// below what Evaluate would decide for the same metric.
func Start(p Policy, s State, startTierID string, metric int64, now time.Time) (State, *Change) {
	current := max(p.Index(s.TierID), 0)
	target := max(p.QualifiedIndex(metric), p.Index(startTierID))
	if target <= current {
		return s, nil
	}
	next := State{TierID: p.Tiers[target].ID, PeriodEnd: now.Add(time.Duration(p.PeriodDays) * 24 * time.Hour)}
	return next, &Change{From: s.TierID, To: next.TierID, Reason: ReasonImported, Metric: metric}
}

// downgradeTarget is the tier a member of tier current drops to when its period
// (and grace) ends with the metric at tier qualified: one down at most under
// OneDown, else the tier the metric earns.
func downgradeTarget(p Policy, current, qualified int) int {
	if p.OneDown {
		return max(qualified, current-1)
	}
	return qualified
}

// keepNeeded is what a member must still earn to keep a tier of threshold, with
// kept of the metric still counting when the tier's period ends (0: kept already).
func keepNeeded(threshold, kept int64) int64 { return max(0, threshold-kept) }

// DowngradeDue tells whether a member of tierID, with metricKept of the metric
// still counting when the tier's period (or grace) ends, is not on track to keep
// it, and then what it still needs and the tier it would drop to.
func DowngradeDue(p Policy, tierID string, metricKept int64) (needed int64, nextTierID string, due bool) {
	current := p.Index(tierID)
	if current <= 0 {
		return 0, "", false // the bottom tier never ends; an unknown one starts from it
	}
	if needed = keepNeeded(p.Tiers[current].Threshold, metricKept); needed == 0 {
		return 0, "", false
	}
	return needed, p.Tiers[downgradeTarget(p, current, p.QualifiedIndex(metricKept))].ID, true
}

// DueAt is when Evaluate next has something to do without the metric changing:
// the end of the period, or of grace.
func (s State) DueAt() time.Time {
	if !s.GraceEnd.IsZero() {
		return s.GraceEnd
	}
	return s.PeriodEnd
}

// Membership is a paid tier for a period.
type Membership struct {
	ID         int64
	MemberID   string
	RequestID  string
	OrderID    string
	CreateTime time.Time
	TierID     string
	StartTime  time.Time
	EndTime    time.Time
	CancelTime time.Time // zero: not cancelled
}

// ActiveAt tells whether the membership gives its tier at t.
func (m Membership) ActiveAt(t time.Time) bool {
	end := m.EndTime
	if !m.CancelTime.IsZero() && m.CancelTime.Before(end) {
		end = m.CancelTime
	}
	return !t.Before(m.StartTime) && t.Before(end)
}

// Effective is the tier a member has at t: the better of the qualified tier and
// any paid membership active then, and whether it comes from a membership.
func Effective(p Policy, qualifiedTierID string, memberships []Membership, t time.Time) (tierID string, paid bool) {
	var active []string
	for _, m := range memberships {
		if m.ActiveAt(t) {
			active = append(active, m.TierID)
		}
	}
	return Better(p, qualifiedTierID, active)
}

// MultiplierPart is the tier's part of an earning: what a multiplier of percent
// (150: half as much again) adds to base points, rounded down. Below 100% a tier
// adds nothing (it never takes away).
func MultiplierPart(base int64, percent int32) int64 {
	if percent <= 100 || base <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(base), uint64(percent-100))
	q, _ := bits.Div64(hi, lo, 100) // percent is at most a few thousand: the quotient fits
	return int64(q)
}

// Better is the better of a qualified tier and the tiers of active paid
// memberships, and whether it is a paid one. Tiers the policy does not have count
// as the bottom tier.
func Better(p Policy, qualifiedTierID string, paidTierIDs []string) (tierID string, paid bool) {
	best := max(p.Index(qualifiedTierID), 0)
	for _, id := range paidTierIDs {
		if i := p.Index(id); i > best {
			best, paid = i, true
		}
	}
	return p.Tiers[best].ID, paid
}
