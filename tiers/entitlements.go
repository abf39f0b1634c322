package tiers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/audit"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/idempotency"
	"github.com/loyalty-engine/loyalty/internal/nullable"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/tiers/internal/tiersdb"
)

// Errors of entitlements.
var (
	ErrQuotaExhausted = problem.New(problem.Precondition, "QUOTA_EXHAUSTED", "the perk's quota for this cycle is used up")
	ErrNotEntitled    = problem.New(problem.Precondition, "PERK_NOT_IN_TIER", "the member's tier does not include this perk")
)

// Entitlement is where a member stands on a quota perk in the current cycle. A
// cycle runs from one monthly anniversary of the member's join to the next.
type Entitlement struct {
	MemberID   string
	Perk       string
	TierID     string
	Quota      int32
	Used       int32
	Remaining  int32
	Allowed    bool
	CycleStart time.Time
	CycleEnd   time.Time
}

// ConsumeEntitlement uses one of a quota perk, once per requestId.
type ConsumeEntitlement struct {
	MemberID  string `json:"memberId" validate:"required,shopid"`
	Perk      string `json:"perk" validate:"required,max=64"`
	RequestID string `json:"requestId" validate:"required,requestid"`
	OrderID   string `json:"orderId" validate:"omitempty,shopid"`
}

// Consumption is a use of a quota perk and where it left the member.
type Consumption struct {
	Entitlement
	RequestID string
	OrderID   string
	UseTime   time.Time
}

type entitlementRef struct {
	MemberID string `json:"memberId" validate:"required,shopid"`
	Perk     string `json:"perk" validate:"required,max=64"`
}

// checkPerk refuses a perk that carries no quota, naming the known ones.
func checkPerk(perk string) error {
	if _, ok := (Perks{}).Quota(perk); !ok {
		return problem.InvalidField("perk", "is not a quota perk; quota perks are "+strings.Join(QuotaPerks(), ", "))
	}
	return nil
}

// CheckEntitlement answers whether the member may use a quota perk now, how much of
// it is left in the cycle, and when the cycle ends.
func (s *Service) CheckEntitlement(ctx context.Context, memberID, perk string) (Entitlement, error) {
	if err := validation.Struct(entitlementRef{MemberID: memberID, Perk: perk}); err != nil {
		return Entitlement{}, err
	}
	if err := checkPerk(perk); err != nil {
		return Entitlement{}, err
	}
	e, err := s.entitlement(ctx, s.pool, memberID, perk, s.clock.Now())
	if err != nil {
		return Entitlement{}, err
	}
	used, err := s.q.EntitlementUsed(ctx, s.pool, tiersdb.EntitlementUsedParams{MemberID: memberID, Perk: perk, CycleStart: e.CycleStart})
	if err != nil {
		return Entitlement{}, fmt.Errorf("use of %s by %q: %w", perk, memberID, err)
	}
	e.setUsed(used)
	return e, nil
}

// entitlement is the member's quota of a perk and the cycle at now, without use.
func (s *Service) entitlement(ctx context.Context, db tiersdb.DBTX, memberID, perk string, now time.Time) (Entitlement, error) {
	p, err := s.PolicyOn(ctx, db)
	if err != nil {
		return Entitlement{}, err
	}
	st, err := s.StandingAt(ctx, db, p, memberID, now)
	if err != nil {
		return Entitlement{}, err
	}
	quota, _ := st.Perks.Quota(perk)
	start, end := Cycle(st.JoinTime, now)
	return Entitlement{MemberID: memberID, Perk: perk, TierID: st.TierID, Quota: quota, CycleStart: start, CycleEnd: end}, nil
}

func (e *Entitlement) setUsed(used int32) {
	e.Used = used
	e.Remaining = max(0, e.Quota-used)
	e.Allowed = e.Remaining > 0
}

// ConsumeEntitlement uses one of a quota perk in the current cycle. It is exactly
// once per requestId (a repeat answers the first use, even in a later cycle) and
// never exceeds the quota, whatever the concurrency: the count of the cycle is
// raised by one conditional upsert, which racing consumes apply one after the
// other to the latest count. When nothing is left it fails with
// ErrQuotaExhausted and changes nothing.
func (s *Service) ConsumeEntitlement(ctx context.Context, actorKeyID string, cmd ConsumeEntitlement) (Consumption, error) {
	if err := validation.Struct(cmd); err != nil {
		return Consumption{}, err
	}
	if err := checkPerk(cmd.Perk); err != nil {
		return Consumption{}, err
	}
	fp := idempotency.Fingerprint("consume", cmd)
	now := s.clock.Now()
	var c Consumption
	err := audit.RunInTx(ctx, s.tx, s.pool, func(tx pgx.Tx) error {
		if stored, found, err := s.storedUse(ctx, tx, cmd, fp); found || err != nil {
			c = stored
			return err
		}
		e, err := s.entitlement(ctx, tx, cmd.MemberID, cmd.Perk, now)
		if err != nil {
			return err
		}
		if e.Quota == 0 {
			return ErrNotEntitled.With("tier %q has no %s", e.TierID, cmd.Perk)
		}
		used, err := s.q.TakeEntitlement(ctx, tx, tiersdb.TakeEntitlementParams{
			MemberID: cmd.MemberID, Perk: cmd.Perk, CycleStart: e.CycleStart, Quota: e.Quota,
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrQuotaExhausted.With("member %q has used all %d %s of the cycle ending %s",
				cmd.MemberID, e.Quota, cmd.Perk, e.CycleEnd.Format(time.RFC3339)).
				WithMetadata("cycleEnd", e.CycleEnd.Format(time.RFC3339), "quota", strconv.Itoa(int(e.Quota)))
		}
		if err != nil {
			return fmt.Errorf("use %s of %q: %w", cmd.Perk, cmd.MemberID, err)
		}
		row, err := s.q.InsertEntitlementUse(ctx, tx, tiersdb.InsertEntitlementUseParams{
			MemberID: cmd.MemberID, Perk: cmd.Perk, RequestID: cmd.RequestID, Fingerprint: fp, OrderID: nullable.Of(cmd.OrderID),
			TierID: e.TierID, Quota: e.Quota, UsedAfter: used, CycleStart: e.CycleStart, CycleEnd: e.CycleEnd,
			ActorKeyID: actorKeyID, UseTime: now,
		})
		if err != nil {
			return fmt.Errorf("record use of %s by %q: %w", cmd.Perk, cmd.MemberID, err)
		}
		c = toConsumption(row)
		return events.AppendTx(ctx, tx, events.Event{Type: events.EntitlementConsumed, OccurTime: now, MemberID: cmd.MemberID,
			Data: events.EntitlementData{PerkID: cmd.Perk, RequestID: cmd.RequestID, Remaining: int64(e.Quota - used)}})
	})
	if database.IsUniqueViolation(err, "entitlement_uses_pkey") {
		// A racing duplicate used it first (its count stands, ours was rolled back).
		var found bool
		if c, found, err = s.storedUse(ctx, s.pool, cmd, fp); !found && err == nil {
			err = fmt.Errorf("use %q vanished", cmd.RequestID)
		}
	}
	return c, err
}

func (s *Service) storedUse(ctx context.Context, db tiersdb.DBTX, cmd ConsumeEntitlement, fp []byte) (Consumption, bool, error) {
	row, err := s.q.EntitlementUse(ctx, db, tiersdb.EntitlementUseParams{MemberID: cmd.MemberID, Perk: cmd.Perk, RequestID: cmd.RequestID})
	if errors.Is(err, pgx.ErrNoRows) {
		return Consumption{}, false, nil
	}
	if err != nil {
		return Consumption{}, false, fmt.Errorf("look up use %q: %w", cmd.RequestID, err)
	}
	if err := idempotency.Check(row.Fingerprint, fp, cmd.RequestID); err != nil {
		return Consumption{}, true, err
	}
	return toConsumption(row), true, nil
}

func toConsumption(r tiersdb.EntitlementUse) Consumption {
	c := Consumption{RequestID: r.RequestID, OrderID: nullable.Value(r.OrderID), UseTime: r.UseTime,
		Entitlement: Entitlement{MemberID: r.MemberID, Perk: r.Perk, TierID: r.TierID, Quota: r.Quota,
			CycleStart: r.CycleStart, CycleEnd: r.CycleEnd}}
	c.setUsed(r.UsedAfter)
	return c
}

// Cycle is the monthly cycle of a member's quotas containing t: from a monthly
// anniversary of the join instant to the next, in UTC. A join on the 31st renews
// on the last day of shorter months (and on the 31st again when there is one).
func Cycle(join, t time.Time) (start, end time.Time) {
	join, t = join.UTC(), t.UTC()
	k := (t.Year()-join.Year())*12 + int(t.Month()-join.Month())
	if k < 0 {
		k = 0
	}
	for k > 0 && addMonthsClamped(join, k).After(t) {
		k--
	}
	return addMonthsClamped(join, k), addMonthsClamped(join, k+1)
}

// addMonthsClamped is t plus k months, the day clamped to the month's last day.
func addMonthsClamped(t time.Time, k int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(k), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(d, last), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// TakeRemainingOn uses, in tx, all that is left of a quota perk in the member's
// cycle at now, and answers the entitlement after it and how many it took. It is
// how the allowance job issues the monthlyCouponAllowance: the coupons it issues
// are the cycle's uses of the perk, so a check shows them as used and a consume
// by hand after them is QUOTA_EXHAUSTED. Each use goes through TakeEntitlement
// (never past the quota, whatever the racing consumes) and is recorded under
// requestID-1, requestID-2, ... with no order.
func (s *Service) TakeRemainingOn(ctx context.Context, tx pgx.Tx, memberID, perk, requestID, actorKeyID string, now time.Time) (Entitlement, int32, error) {
	if err := checkPerk(perk); err != nil {
		return Entitlement{}, 0, err
	}
	e, err := s.entitlement(ctx, tx, memberID, perk, now)
	if err != nil {
		return Entitlement{}, 0, err
	}
	used, err := s.q.EntitlementUsed(ctx, tx, tiersdb.EntitlementUsedParams{MemberID: memberID, Perk: perk, CycleStart: e.CycleStart})
	if err != nil {
		return Entitlement{}, 0, fmt.Errorf("use of %s by %q: %w", perk, memberID, err)
	}
	var taken int32
	// A quota of 0 takes nothing: TakeEntitlement's first insert would count a use.
	for e.Quota > 0 {
		after, err := s.q.TakeEntitlement(ctx, tx, tiersdb.TakeEntitlementParams{
			MemberID: memberID, Perk: perk, CycleStart: e.CycleStart, Quota: e.Quota,
		})
		if errors.Is(err, pgx.ErrNoRows) {
			break
		}
		if err != nil {
			return Entitlement{}, 0, fmt.Errorf("use %s of %q: %w", perk, memberID, err)
		}
		taken++
		used = after
		rid := requestID + "-" + strconv.Itoa(int(taken))
		if _, err := s.q.InsertEntitlementUse(ctx, tx, tiersdb.InsertEntitlementUseParams{
			MemberID: memberID, Perk: perk, RequestID: rid, Fingerprint: idempotency.Fingerprint("take-remaining", rid),
			TierID: e.TierID, Quota: e.Quota, UsedAfter: after, CycleStart: e.CycleStart, CycleEnd: e.CycleEnd,
			ActorKeyID: actorKeyID, UseTime: now,
		}); err != nil {
			return Entitlement{}, 0, fmt.Errorf("record use of %s by %q: %w", perk, memberID, err)
		}
	}
	e.setUsed(used)
	return e, taken, nil
}
