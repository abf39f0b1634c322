package campaigns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/tiers"
)

// AllowanceActor is the actor of the allowance job's entitlement uses.
const AllowanceActor = "system:allowance"

// CouponAllowance is which campaign's coupon the tiers' monthlyCouponAllowance
// issues each member cycle. An empty CampaignID: the allowance is off.
type CouponAllowance struct {
	CampaignID string
	ActorKeyID string
	UpdateTime time.Time
}

// SetCouponAllowance names the campaign whose coupon the allowance issues.
type SetCouponAllowance struct {
	// CampaignID is empty to turn the allowance off.
	CampaignID string `json:"campaignId" validate:"max=64"`
}

// CouponAllowance answers the allowance's configuration (zero when never set or
// turned off).
func (s *Service) CouponAllowance(ctx context.Context) (CouponAllowance, error) {
	return s.couponAllowanceOn(ctx, s.pool)
}

func (s *Service) couponAllowanceOn(ctx context.Context, db campaignsdb.DBTX) (CouponAllowance, error) {
	row, err := s.q.CouponAllowanceSetting(ctx, db)
	if errors.Is(err, pgx.ErrNoRows) {
		return CouponAllowance{}, nil
	}
	if err != nil {
		return CouponAllowance{}, fmt.Errorf("coupon allowance: %w", err)
	}
	return CouponAllowance{CampaignID: row.CampaignID, ActorKeyID: row.ActorKeyID, UpdateTime: row.UpdateTime}, nil
}

// allowanceTemplateProblem says why a campaign cannot be the allowance's template
// at t, or is empty when it can: it must carry a coupon and be ACTIVE.
func allowanceTemplateProblem(c Campaign, t time.Time) string {
	if c.Coupon.Kind == "" {
		return fmt.Sprintf("campaign %s (%s) issues no coupon: name a COUPON_DROP campaign or a COMPENSATION one with a coupon", c.ID, c.Type)
	}
	if st := c.EffectiveStatus(t); st != StatusActive {
		return fmt.Sprintf("campaign %s is %s: it must be ACTIVE", c.ID, st)
	}
	return ""
}

// SetCouponAllowance sets the campaign whose coupon the allowance issues. The
// campaign must exist, carry a coupon and be active now, else it is a 400 on
// campaignId and nothing changes; an empty id turns the allowance off.
func (s *Service) SetCouponAllowance(ctx context.Context, actorKeyID string, cmd SetCouponAllowance) (CouponAllowance, error) {
	if err := validation.Struct(cmd); err != nil {
		return CouponAllowance{}, err
	}
	now := s.clock.Now()
	if cmd.CampaignID == "" {
		err := s.inTx(ctx, func(tx pgx.Tx) error { return s.q.ClearCouponAllowanceSetting(ctx, tx) })
		if err != nil {
			return CouponAllowance{}, fmt.Errorf("turn the coupon allowance off: %w", err)
		}
		return CouponAllowance{}, nil
	}
	c, err := s.Get(ctx, cmd.CampaignID)
	if errors.Is(err, ErrCampaignNotFound) {
		return CouponAllowance{}, problem.InvalidField("campaignId", fmt.Sprintf("no campaign %q", cmd.CampaignID))
	}
	if err != nil {
		return CouponAllowance{}, err
	}
	if why := allowanceTemplateProblem(c, now); why != "" {
		return CouponAllowance{}, problem.InvalidField("campaignId", why)
	}
	var out CouponAllowance
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		row, err := s.q.PutCouponAllowanceSetting(ctx, tx, campaignsdb.PutCouponAllowanceSettingParams{
			CampaignID: c.ID, ActorKeyID: actorKeyID, UpdateTime: now})
		if err != nil {
			return fmt.Errorf("set the coupon allowance: %w", err)
		}
		out = CouponAllowance{CampaignID: row.CampaignID, ActorKeyID: row.ActorKeyID, UpdateTime: row.UpdateTime}
		return nil
	})
	return out, err
}

// AllowanceRun is what one run of the allowance job did.
type AllowanceRun struct {
	// Off: no campaign is configured, or the configured one cannot issue now
	// (Reason says which); nothing was looked at.
	Off    bool
	Reason string
	// Members whose cycle was dealt with (those of a tier without the perk
	// included: they get nothing until their next cycle), and the coupons issued.
	Members int
	Coupons int
}

// allowanceRequestID names the allowance's coupons and uses of a member's cycle:
// coupon i of the cycle starting at start is allowanceRequestID(start)-i. The #
// is outside what a caller's requestId may hold, so no coupon issue or consume
// of a caller can take the name first (and make the job fail on it).
func allowanceRequestID(cycleStart time.Time) string {
	return "system#allowance:" + cycleStart.UTC().Format(time.RFC3339Nano)
}

// IssueAllowances issues every member whose quota cycle (tiers.Cycle) has begun
// and not been dealt with their effective tier's monthlyCouponAllowance coupons
// of the configured campaign, valid until the cycle ends, looking at up to limit
// members per page. Each member's cycle is one transaction that first claims the
// (member, cycle) row: a retry, a restart or a racing runner finds it claimed and
// issues nothing more. The coupons are the cycle's uses of the perk
// (tiers.TakeRemainingOn), so what was consumed by hand before is not issued
// again. They take nothing from the campaign's budget or member cap: the tier's
// quota is their limit, and the campaign is their template (and their stats).
func (s *Service) IssueAllowances(ctx context.Context, limit int32) (AllowanceRun, error) {
	run, err := s.issueAllowances(ctx, limit)
	switch {
	case err != nil: // says nothing of whether it is on
	case run.Off:
		s.allowanceOn.Set(0)
	default:
		s.allowanceOn.Set(1)
	}
	s.allowanceCoupons.Add(float64(run.Coupons))
	return run, err
}

func (s *Service) issueAllowances(ctx context.Context, limit int32) (AllowanceRun, error) {
	now := s.clock.Now()
	cfg, err := s.CouponAllowance(ctx)
	if err != nil {
		return AllowanceRun{}, err
	}
	if cfg.CampaignID == "" {
		return AllowanceRun{Off: true, Reason: "no campaign is configured for the coupon allowance"}, nil
	}
	c, err := s.Get(ctx, cfg.CampaignID)
	if err != nil {
		return AllowanceRun{}, err
	}
	if why := allowanceTemplateProblem(c, now); why != "" {
		return AllowanceRun{Off: true, Reason: why}, nil
	}
	var run AllowanceRun
	after := ""
	for {
		members, err := s.q.AllowanceCandidates(ctx, s.pool, campaignsdb.AllowanceCandidatesParams{After: after, Now: now, MaxMembers: limit})
		if err != nil {
			return run, fmt.Errorf("members due a coupon allowance: %w", err)
		}
		for _, m := range members {
			after = m
			n, dealt, err := s.issueAllowance(ctx, c, m, now)
			if err != nil {
				return run, fmt.Errorf("coupon allowance of %q: %w", m, err)
			}
			if dealt {
				run.Members++
				run.Coupons += n
			}
		}
		if len(members) < int(limit) {
			return run, nil
		}
	}
}

// issueAllowance deals with one member's cycle at now, once: it answers the coupons
// issued and whether this call dealt with the cycle (false: another had).
func (s *Service) issueAllowance(ctx context.Context, c Campaign, memberID string, now time.Time) (int, bool, error) {
	var issued int
	var dealt bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		issued, dealt = 0, false
		policy, err := s.tiers.PolicyOn(ctx, tx)
		if err != nil {
			return err
		}
		st, err := s.tiers.StandingAt(ctx, tx, policy, memberID, now)
		if err != nil {
			return err
		}
		start, end := tiers.Cycle(st.JoinTime, now)
		if !start.Before(end) || now.Before(start) {
			return nil // joins in the future have no cycle yet
		}
		claimed, err := s.q.ClaimAllowanceCycle(ctx, tx, campaignsdb.ClaimAllowanceCycleParams{
			MemberID: memberID, CycleStart: start, CycleEnd: end, TierID: st.TierID, CampaignID: c.ID, IssueTime: now})
		if err != nil {
			return fmt.Errorf("claim cycle %s: %w", start.Format(time.RFC3339), err)
		}
		if claimed == 0 {
			return nil
		}
		dealt = true
		if st.Perks.CouponAllowance() == 0 {
			return nil
		}
		requestID := allowanceRequestID(start)
		e, taken, err := s.tiers.TakeRemainingOn(ctx, tx, memberID, tiers.PerkMonthlyCouponAllowance, requestID, AllowanceActor, now)
		if err != nil {
			return err
		}
		if !e.CycleStart.Equal(start) {
			return fmt.Errorf("entitlement cycle %s is not the claimed %s", e.CycleStart, start)
		}
		evs := make([]events.Event, 0, taken)
		for i := range taken {
			cp, err := s.insertCouponUntil(ctx, tx, c, memberID, requestID+"-"+strconv.Itoa(int(i)+1), now, end, "", "")
			if err != nil {
				return err
			}
			evs = append(evs, couponEvent(events.CouponIssued, cp, now))
		}
		issued = int(taken)
		if err := s.q.SetAllowanceCycleCoupons(ctx, tx, campaignsdb.SetAllowanceCycleCouponsParams{
			MemberID: memberID, CycleStart: start, Coupons: taken}); err != nil {
			return fmt.Errorf("record the cycle's coupons: %w", err)
		}
		return events.AppendTx(ctx, tx, evs...)
	})
	if err == nil && issued > 0 {
		s.log.DebugContext(ctx, "coupon allowance issued", slog.String("memberId", memberID), slog.Int("coupons", issued))
	}
	return issued, dealt, err
}
