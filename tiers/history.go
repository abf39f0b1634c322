package tiers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/nullable"
	"github.com/loyalty-engine/loyalty/internal/pagetoken"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/tiers/internal/tiersdb"
)

// HistoryEntry is one change of a member's tier, with its reason: UPGRADE,
// RENEWED, GRACE_STARTED, DOWNGRADE (the qualified tier) or MEMBERSHIP_PURCHASED,
// MEMBERSHIP_CANCELLED, MEMBERSHIP_ENDED (a paid tier; From and To are then the
// effective tiers before and after).
type HistoryEntry struct {
	ID       int64
	MemberID string
	From, To string
	Reason   string
	// Metric is the qualifying metric when the change was decided.
	Metric int64
	// The qualified tier's period (and grace) after the change.
	PeriodEnd     time.Time
	GraceEnd      time.Time
	MembershipID  int64
	PolicyVersion int64
	Time          time.Time
}

// HistoryQuery pages through a member's tier history, newest first.
type HistoryQuery struct {
	MemberID  string `json:"memberId" validate:"required,shopid"`
	PageSize  int32  `json:"pageSize" validate:"gte=0,lte=500"`
	PageToken string `json:"pageToken" validate:"max=100"`
}

// History is a page of tier changes.
type History struct {
	Changes       []HistoryEntry
	NextPageToken string
}

// History lists a member's tier changes, newest first.
func (s *Service) History(ctx context.Context, q HistoryQuery) (History, error) {
	if err := validation.Struct(q); err != nil {
		return History{}, err
	}
	if q.PageSize == 0 {
		q.PageSize = 50
	}
	page := pagetoken.For("tierHistory", q.MemberID)
	before := int64(math.MaxInt64)
	if q.PageToken != "" {
		id, err := s.pageTokens.DecodeID(page, q.PageToken)
		if err != nil {
			return History{}, err
		}
		before = id
	}
	if err := s.checkMember(ctx, s.pool, q.MemberID); err != nil {
		return History{}, err
	}
	rows, err := s.q.ListTierHistory(ctx, s.pool, tiersdb.ListTierHistoryParams{MemberID: q.MemberID, BeforeChangeID: before, PageSize: q.PageSize + 1})
	if err != nil {
		return History{}, fmt.Errorf("tier history of %q: %w", q.MemberID, err)
	}
	var h History
	if len(rows) > int(q.PageSize) {
		rows = rows[:q.PageSize]
		h.NextPageToken = s.pageTokens.EncodeID(page, rows[len(rows)-1].ChangeID)
	}
	for _, r := range rows {
		h.Changes = append(h.Changes, HistoryEntry{ID: r.ChangeID, MemberID: r.MemberID, From: r.FromTier, To: r.ToTier,
			Reason: r.Reason, Metric: r.Metric, PeriodEnd: nullable.Value(r.PeriodEnd), GraceEnd: nullable.Value(r.GraceEnd),
			MembershipID: nullable.Value(r.MembershipID), PolicyVersion: r.PolicyVersion, Time: r.CreateTime})
	}
	return h, nil
}

// record appends a tier history row about a membership.
func (s *Service) record(ctx context.Context, tx pgx.Tx, p Policy, memberID, from, to, reason string, membershipID int64, now time.Time) (events.Event, bool, error) {
	err := s.q.InsertTierChange(ctx, tx, tiersdb.InsertTierChangeParams{
		MemberID: memberID, FromTier: from, ToTier: to, Reason: reason, MembershipID: nullable.Of(membershipID),
		PolicyVersion: p.Version, CreateTime: now,
	})
	if err != nil {
		return events.Event{}, false, fmt.Errorf("record tier change of %q: %w", memberID, err)
	}
	ev, ok := tierChangeEvent(memberID, from, to, reason, membershipID, time.Time{}, now)
	return ev, ok, nil
}

// recordWithEvent is record, its event written in tx at once (for a transaction of
// one change).
func (s *Service) recordWithEvent(ctx context.Context, tx pgx.Tx, p Policy, memberID, from, to, reason string, membershipID int64, now time.Time) error {
	ev, ok, err := s.record(ctx, tx, p, memberID, from, to, reason, membershipID, now)
	if err != nil || !ok {
		return err
	}
	return events.AppendTx(ctx, tx, ev)
}

// EvaluateDue applies Evaluate to members whose tier period (or grace) is over:
// renewal, grace or downgrade, each recorded in the history. Each member is
// evaluated in its own transaction under the member lock (the balance row, which
// qualifying earnings also lock), so an earning that upgrades the member and the
// job never interleave, and replicas running the job at once evaluate a member
// once: the second finds it no longer due. It answers how many members were due.
func (s *Service) EvaluateDue(ctx context.Context, limit int32) (int, error) {
	now := s.clock.Now()
	ids, err := s.q.DueMembers(ctx, s.pool, tiersdb.DueMembersParams{Now: &now, MaxRows: limit})
	if err != nil {
		return 0, fmt.Errorf("members due for tier evaluation: %w", err)
	}
	for _, id := range ids {
		if err := s.tx.InTx(ctx, s.pool, func(tx pgx.Tx) error { return s.evaluate(ctx, tx, id, now) }); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

func (s *Service) evaluate(ctx context.Context, tx pgx.Tx, memberID string, now time.Time) error {
	if _, err := s.q.LockMember(ctx, tx, memberID); err != nil {
		return fmt.Errorf("lock member %q: %w", memberID, err)
	}
	row, err := s.q.GetMemberTier(ctx, tx, memberID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tier of member %q: %w", memberID, err)
	}
	if row.DueTime == nil || row.DueTime.After(now) {
		return nil // evaluated meanwhile (another replica, or an upgrade)
	}
	p, err := s.PolicyOn(ctx, tx)
	if err != nil {
		return err
	}
	metric, err := s.q.MetricSince(ctx, tx, tiersdb.MetricSinceParams{MemberID: memberID, Metric: p.Metric, WindowStart: p.WindowStart(now)})
	if err != nil {
		return fmt.Errorf("metric of member %q: %w", memberID, err)
	}
	state := State{TierID: row.TierID, PeriodEnd: nullable.Value(row.PeriodEnd), GraceEnd: nullable.Value(row.GraceEnd)}
	next, change := Evaluate(p, state, metric, now)
	if err := s.q.UpsertMemberTier(ctx, tx, tiersdb.UpsertMemberTierParams{
		MemberID: memberID, TierID: next.TierID, PeriodEnd: nullable.Of(next.PeriodEnd), GraceEnd: nullable.Of(next.GraceEnd), UpdateTime: now,
	}); err != nil {
		return fmt.Errorf("update tier of member %q: %w", memberID, err)
	}
	if change == nil {
		return nil
	}
	err = s.q.InsertTierChange(ctx, tx, tiersdb.InsertTierChangeParams{
		MemberID: memberID, FromTier: change.From, ToTier: change.To, Reason: change.Reason, Metric: change.Metric,
		PeriodEnd: nullable.Of(next.PeriodEnd), GraceEnd: nullable.Of(next.GraceEnd), PolicyVersion: p.Version, CreateTime: now,
	})
	if err != nil {
		return fmt.Errorf("record tier change of %q: %w", memberID, err)
	}
	end := next.PeriodEnd
	if change.Reason == ReasonGraceStarted {
		end = next.GraceEnd
	}
	if ev, ok := tierChangeEvent(memberID, change.From, change.To, change.Reason, 0, end, now); ok {
		return events.AppendTx(ctx, tx, ev)
	}
	return nil
}
