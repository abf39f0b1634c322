package tiers

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/loyalty-engine/loyalty/internal/nullable"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/tiers/internal/tiersdb"
)

// MemberPerks is what a member's tier gives them now, and how far they are from
// the next one.
type MemberPerks struct {
	MemberID string
	// Tier is the effective tier: the better of the qualified tier and a paid
	// membership active now. Its perks are Tier.Perks.
	Tier Tier
	// Paid: the tier comes from Membership.
	Paid       bool
	Membership *Membership
	Progress   Progress
	// PolicyVersion is the version of the tier policy answered from.
	PolicyVersion int64
	AsOf          time.Time
}

// Progress is where the member stands on the metric.
type Progress struct {
	Metric     string
	WindowDays int32
	// Value is the metric over the window now.
	Value int64
	// The qualified tier (without memberships) and until when it holds: the end of
	// its period, or of grace while in grace (zero for the bottom tier).
	QualifiedTierID string
	HeldUntil       time.Time
	InGrace         bool
	// KeepThreshold is the qualified tier's threshold; KeepNeeded is what the
	// member must still earn before HeldUntil to keep the tier then, counting only
	// what will still be in the window at that time (0: kept already).
	KeepThreshold int64
	KeepNeeded    int64
	// The next tier up from the qualified one ("" at the top), and how much more
	// the metric needs to reach it.
	NextTierID    string
	NextThreshold int64
	NeededForNext int64
}

type memberRef struct {
	MemberID string `json:"memberId" validate:"required,shopid"`
}

// Perks answers a member's effective tier, its typed perks and the progress, in
// one read: the member's standing and the paid memberships not over now, of which
// Effective keeps the active ones.
func (s *Service) Perks(ctx context.Context, memberID string) (MemberPerks, error) {
	if err := validation.Struct(memberRef{MemberID: memberID}); err != nil {
		return MemberPerks{}, err
	}
	p, err := s.Policy(ctx)
	if err != nil {
		return MemberPerks{}, err
	}
	now := s.clock.Now()
	rows, err := s.q.MemberStanding(ctx, s.pool, tiersdb.MemberStandingParams{
		MemberID: memberID, Metric: p.Metric, WindowStart: p.WindowStart(now), WindowDays: p.WindowDays, At: now,
	})
	if err != nil {
		return MemberPerks{}, fmt.Errorf("standing of member %q: %w", memberID, err)
	}
	if len(rows) == 0 {
		return MemberPerks{}, ErrMemberNotFound.With("member %q not found", memberID)
	}
	row := rows[0]
	memberships := standingMemberships(memberID, rows)
	qualified := max(p.Index(nullable.Value(row.TierID)), 0)
	id, paid := Effective(p, p.Tiers[qualified].ID, memberships, now)
	mp := MemberPerks{MemberID: memberID, Tier: p.Tier(id), Paid: paid, PolicyVersion: p.Version, AsOf: now}
	if paid {
		i := slices.IndexFunc(memberships, func(m Membership) bool { return m.TierID == id && m.ActiveAt(now) })
		mp.Membership = &memberships[i]
	}
	mp.Progress = progress(p, qualified, row)
	return mp, nil
}

// standingMemberships are the memberships MemberStanding read beside the standing
// (rows without one have no membership id), oldest first.
func standingMemberships(memberID string, rows []tiersdb.MemberStandingRow) []Membership {
	var out []Membership
	for _, r := range rows {
		if r.MembershipID == nil {
			continue
		}
		out = append(out, Membership{ID: *r.MembershipID, MemberID: memberID, RequestID: *r.PaidRequestID,
			OrderID: nullable.Value(r.PaidOrderID), CreateTime: *r.PaidCreateTime, TierID: *r.PaidTierID,
			StartTime: *r.PaidStartTime, EndTime: *r.PaidEndTime, CancelTime: nullable.Value(r.PaidCancelTime)})
	}
	return out
}

// progress is where the metric leaves the member against the qualified tier and
// the next one.
func progress(p Policy, qualified int, row tiersdb.MemberStandingRow) Progress {
	pr := Progress{Metric: p.Metric, WindowDays: p.WindowDays, Value: row.Metric,
		QualifiedTierID: p.Tiers[qualified].ID, KeepThreshold: p.Tiers[qualified].Threshold}
	if qualified > 0 {
		pr.HeldUntil = nullable.Value(row.PeriodEnd)
		if row.GraceEnd != nil {
			pr.HeldUntil, pr.InGrace = *row.GraceEnd, true
		}
		pr.KeepNeeded = keepNeeded(pr.KeepThreshold, row.MetricKept)
	}
	if next := qualified + 1; next < len(p.Tiers) {
		pr.NextTierID, pr.NextThreshold = p.Tiers[next].ID, p.Tiers[next].Threshold
		pr.NeededForNext = max(0, pr.NextThreshold-row.Metric)
	}
	return pr
}
