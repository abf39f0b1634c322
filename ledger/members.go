package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/events"

	"github.com/loyalty-engine/loyalty/internal/nullable"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
	"github.com/loyalty-engine/loyalty/tiers"
)

// ErrMemberNotFound is returned for an unknown member id.
var ErrMemberNotFound = problem.New(problem.NotFound, "MEMBER_NOT_FOUND", "member not found")

// Member is an account holder, identified by the shop's own id.
type Member struct {
	ID          string
	DisplayName string
	// TierID is the effective tier: the better of the qualified tier and any
	// paid membership active now.
	TierID   string
	JoinTime time.Time
	Profile
}

// EnrollMember is the command to enroll a member.
type EnrollMember struct {
	MemberID    string  `json:"memberId" validate:"required,shopid"`
	DisplayName string  `json:"displayName" validate:"max=200"`
	Profile     Profile `json:"profile"`
}

// Enroll creates the member, or returns the existing one unchanged; created tells
// which happened.
func (s *Service) Enroll(ctx context.Context, cmd EnrollMember) (m Member, created bool, err error) {
	if err := validation.Struct(cmd); err != nil {
		return Member{}, false, err
	}
	if err := cmd.Profile.validate(s.clock.Now()); err != nil {
		return Member{}, false, err
	}
	policy, err := s.tiers.Policy(ctx)
	if err != nil {
		return Member{}, false, err
	}
	// The member and its member.enrolled event commit together.
	var row ledgerdb.InsertMemberRow
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		month, day, year := birthdayColumns(cmd.Profile.Birthday)
		if row, err = s.q.InsertMember(ctx, tx, ledgerdb.InsertMemberParams{MemberID: cmd.MemberID, DisplayName: cmd.DisplayName, JoinTime: s.clock.Now(),
			BirthdayMonth: month, BirthdayDay: day, BirthdayYear: year, Channel: cmd.Profile.Channel, Attributes: attributesJSON(cmd.Profile.Attributes)}); err != nil {
			return err
		}
		return events.AppendTx(ctx, tx, events.Event{Type: events.MemberEnrolled, OccurTime: row.JoinTime, MemberID: row.MemberID,
			Data: events.MemberData{MemberID: row.MemberID, DisplayName: row.DisplayName, TierID: policy.Bottom().ID, JoinTime: row.JoinTime,
				Birthday: eventBirthday(cmd.Profile.Birthday), Channel: cmd.Profile.Channel, Attributes: cmd.Profile.Attributes}})
	})
	if err == nil {
		m, err = s.withTier(ctx, toMember(ledgerdb.Member(row)))
		return m, true, err
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Member{}, false, fmt.Errorf("enroll member %q: %w", cmd.MemberID, err)
	}
	m, err = s.Member(ctx, cmd.MemberID)
	return m, false, err
}

// Member returns a member.
func (s *Service) Member(ctx context.Context, memberID string) (Member, error) {
	if err := validation.Struct(memberRef{MemberID: memberID}); err != nil {
		return Member{}, err
	}
	p, err := s.tiers.Policy(ctx)
	if err != nil {
		return Member{}, err
	}
	now := s.clock.Now()
	rows, err := s.q.GetMemberWithTierAt(ctx, s.pool, ledgerdb.GetMemberWithTierAtParams{MemberID: memberID, At: now})
	if err != nil {
		return Member{}, fmt.Errorf("get member %q: %w", memberID, err)
	}
	if len(rows) == 0 {
		return Member{}, ErrMemberNotFound.With("member %q not found", memberID)
	}
	var paid []tiers.Membership
	for _, r := range rows {
		if r.PaidTierID != nil {
			paid = append(paid, tiers.Membership{MemberID: memberID, TierID: *r.PaidTierID,
				StartTime: *r.PaidStartTime, EndTime: *r.PaidEndTime, CancelTime: nullable.Value(r.PaidCancelTime)})
		}
	}
	m := toMember(rows[0].Member)
	m.TierID, _ = tiers.Effective(p, nullable.Value(rows[0].QualifiedTierID), paid, now)
	return m, nil
}

// withTier fills in the member's effective tier now.
func (s *Service) withTier(ctx context.Context, m Member) (Member, error) {
	p, err := s.tiers.Policy(ctx)
	if err != nil {
		return Member{}, err
	}
	st, err := s.tiers.StandingAt(ctx, s.pool, p, m.ID, s.clock.Now())
	if err != nil {
		return Member{}, err
	}
	m.TierID = st.TierID
	return m, nil
}

// memberRef validates a member id given on its own (in a path).
type memberRef struct {
	MemberID string `json:"memberId" validate:"required,shopid"`
}

func toMember(r ledgerdb.Member) Member {
	return Member{ID: r.MemberID, DisplayName: r.DisplayName, JoinTime: r.JoinTime, Profile: Profile{
		Birthday: birthdayOf(r.BirthdayMonth, r.BirthdayDay, r.BirthdayYear), Channel: r.Channel, Attributes: attributesOf(r.Attributes)}}
}

// UpdateProfile changes a member's display name and profile (a PATCH: what the
// change sets, the rest stays) and tells it as member.updated, in one transaction
// under the member's row lock.
func (s *Service) UpdateProfile(ctx context.Context, memberID string, c ProfileChange) (Member, error) {
	if err := validation.Struct(memberRef{MemberID: memberID}); err != nil {
		return Member{}, err
	}
	if c.DisplayName != nil {
		if err := validation.Struct(struct {
			DisplayName string `json:"displayName" validate:"max=200"`
		}{*c.DisplayName}); err != nil {
			return Member{}, err
		}
	}
	now := s.clock.Now()
	var m Member
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		row, err := s.q.LockMemberProfile(ctx, tx, memberID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrMemberNotFound.With("member %q not found", memberID)
		}
		if err != nil {
			return err
		}
		m = c.applyTo(toMember(row))
		if err := m.Profile.validate(now); err != nil {
			return err
		}
		month, day, year := birthdayColumns(m.Birthday)
		row, err = s.q.UpdateMemberProfile(ctx, tx, ledgerdb.UpdateMemberProfileParams{MemberID: memberID, DisplayName: m.DisplayName,
			BirthdayMonth: month, BirthdayDay: day, BirthdayYear: year, Channel: m.Channel, Attributes: attributesJSON(m.Attributes)})
		if err != nil {
			return err
		}
		m = toMember(row)
		return events.AppendTx(ctx, tx, events.Event{Type: events.MemberUpdated, OccurTime: now, MemberID: memberID,
			Data: events.MemberData{MemberID: memberID, DisplayName: m.DisplayName, JoinTime: m.JoinTime,
				Birthday: eventBirthday(m.Birthday), Channel: m.Channel, Attributes: m.Attributes}})
	})
	if err != nil {
		return Member{}, err
	}
	return s.withTier(ctx, m)
}

func eventBirthday(b *Birthday) *events.Birthday {
	if b == nil {
		return nil
	}
	return &events.Birthday{Month: b.Month, Day: b.Day, Year: b.Year}
}

// ProfileOn reads a member's profile on db (the caller's transaction, or the
// pool): campaigns' rules read it. An unknown member has an empty profile.
func (s *Service) ProfileOn(ctx context.Context, db ledgerdb.DBTX, memberID string) (Profile, error) {
	row, err := s.q.GetMember(ctx, db, memberID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Profile{}, nil
	}
	if err != nil {
		return Profile{}, fmt.Errorf("profile of %q: %w", memberID, err)
	}
	return toMember(row).Profile, nil
}

// EnrollMany enrolls members in one statement, each with its balance row and its
// member.enrolled event, in one transaction: the seeding path for benchmarks and
// large tests (a million members in seconds). Members that exist are left as they
// are; it returns how many it enrolled.
func (s *Service) EnrollMany(ctx context.Context, memberIDs []string) (int, error) {
	for _, id := range memberIDs {
		if err := validation.Struct(memberRef{MemberID: id}); err != nil {
			return 0, err
		}
	}
	policy, err := s.tiers.Policy(ctx)
	if err != nil {
		return 0, err
	}
	var n int
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := s.q.InsertMembers(ctx, tx, ledgerdb.InsertMembersParams{MemberIds: memberIDs, JoinTime: s.clock.Now()})
		if err != nil {
			return err
		}
		evs := make([]events.Event, len(rows))
		for i, r := range rows {
			evs[i] = events.Event{Type: events.MemberEnrolled, OccurTime: r.JoinTime, MemberID: r.MemberID,
				Data: events.MemberData{MemberID: r.MemberID, TierID: policy.Bottom().ID, JoinTime: r.JoinTime}}
		}
		n = len(rows)
		return events.AppendTx(ctx, tx, evs...)
	})
	if err != nil {
		return 0, fmt.Errorf("enroll %d members: %w", len(memberIDs), err)
	}
	return n, nil
}
