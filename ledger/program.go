package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// Expiry policies.
const (
	ExpiryEndOfFollowingYear = "END_OF_FOLLOWING_YEAR"
	ExpiryRollingDays        = "ROLLING_DAYS"
)

// Program is the program's settings. Each change is a new version; earnings use the
// version in force when they are made.
type Program struct {
	EarnPoints         int64  `json:"earnPoints" validate:"gte=1,lte=10000"`
	EarnPerAmountMinor int64  `json:"earnPerAmountMinor" validate:"gte=1,lte=1000000000"`
	ReturnWindowDays   int32  `json:"returnWindowDays" validate:"gte=0,lte=365"`
	ExpiryKind         string `json:"expiry.kind" validate:"oneof=END_OF_FOLLOWING_YEAR ROLLING_DAYS"`
	ExpiryDays         int32  `json:"expiry.days" validate:"gte=0,lte=36500"`
	PointsPerUnit      int64  `json:"pointsPerUnit" validate:"gte=1,lte=1000000"`
	Currency           string `json:"currency" validate:"omitempty,len=3,uppercase,alpha"`
	TimeZone           string `json:"timeZone" validate:"required,max=64"`

	Version    int64     `json:"-"`
	UpdateTime time.Time `json:"-"`

	loc *time.Location // TimeZone, loaded
}

// Location is the program's time zone, in which expiry dates and report months
// fall.
func (p Program) Location() *time.Location {
	if p.loc != nil {
		return p.loc
	}
	if loc, err := time.LoadLocation(p.TimeZone); err == nil {
		return loc
	}
	return time.UTC
}

// LotExpiry is when points credited at t expire: at the start of the year after
// the year following t (END_OF_FOLLOWING_YEAR), or at the end of the Nth day after
// the day of t (ROLLING_DAYS), both in the program's time zone.
func (p Program) LotExpiry(t time.Time) time.Time {
	loc := p.Location()
	local := t.In(loc)
	if p.ExpiryKind == ExpiryRollingDays {
		return time.Date(local.Year(), local.Month(), local.Day()+int(p.ExpiryDays)+1, 0, 0, 0, 0, loc)
	}
	return time.Date(local.Year()+2, time.January, 1, 0, 0, 0, 0, loc)
}

// validate checks the settings and names every offending field at once, including
// what tags cannot say.
func (p Program) validate() error {
	var fields []problem.FieldViolation
	if err := validation.Struct(p); err != nil {
		pe, ok := problem.As(err)
		if !ok {
			return err
		}
		fields = append(fields, pe.Fields...)
	}
	if p.ExpiryKind == ExpiryRollingDays && p.ExpiryDays < 1 {
		fields = append(fields, problem.FieldViolation{Field: "expiry.days", Description: "must be at least 1 for ROLLING_DAYS"})
	}
	if p.ExpiryKind == ExpiryEndOfFollowingYear && p.ExpiryDays != 0 {
		fields = append(fields, problem.FieldViolation{Field: "expiry.days", Description: "must be 0 (omitted) for END_OF_FOLLOWING_YEAR"})
	}
	if _, err := time.LoadLocation(p.TimeZone); p.TimeZone != "" && (err != nil || p.TimeZone == "Local") {
		fields = append(fields, problem.FieldViolation{Field: "timeZone", Description: "is not an IANA time zone such as UTC or Asia/Shanghai"})
	}
	if len(fields) > 0 {
		return problem.InvalidFields(fields...)
	}
	return nil
}

// PointsForSpend is what a spend of amountMinor earns at the base rate: whole points,
// rounded down.
func (p Program) PointsForSpend(amountMinor int64) int64 {
	return amountMinor * p.EarnPoints / p.EarnPerAmountMinor
}

// Program returns the settings in force.
func (s *Service) Program(ctx context.Context) (Program, error) {
	return s.programOn(ctx, s.pool)
}

// programOn returns the settings in force, read on db (a transaction's own
// connection, so it never waits for another from the pool) unless recently read.
func (s *Service) programOn(ctx context.Context, db ledgerdb.DBTX) (Program, error) {
	if p, fresh := s.programs.Get(); fresh {
		return p, nil
	}
	row, err := s.q.CurrentProgram(ctx, db)
	if err != nil {
		return Program{}, fmt.Errorf("read program settings: %w", err)
	}
	p := toProgram(row)
	s.programs.Put(p, p.Version)
	return p, nil
}

// lotExpiry is when points credited now expire, under the settings in force.
func (s *Service) lotExpiry(ctx context.Context, db ledgerdb.DBTX) (time.Time, error) {
	p, err := s.programOn(ctx, db)
	if err != nil {
		return time.Time{}, err
	}
	return p.LotExpiry(s.clock.Now()), nil
}

// UpdateProgram puts new settings in force, as a new version.
func (s *Service) UpdateProgram(ctx context.Context, actor Actor, p Program) (Program, error) {
	if err := p.validate(); err != nil {
		return Program{}, err
	}
	row, err := s.q.InsertProgram(ctx, s.pool, ledgerdb.InsertProgramParams{
		EarnPoints: p.EarnPoints, EarnPerAmountMinor: p.EarnPerAmountMinor, ReturnWindowDays: p.ReturnWindowDays,
		ExpiryKind: p.ExpiryKind, ExpiryDays: p.ExpiryDays, PointsPerUnit: p.PointsPerUnit,
		Currency: p.Currency, TimeZone: p.TimeZone, ActorKeyID: actor.KeyID, UpdateTime: s.clock.Now(),
	})
	if err != nil {
		return Program{}, fmt.Errorf("update program settings: %w", err)
	}
	updated := toProgram(row)
	s.programs.Put(updated, updated.Version)
	return updated, nil
}

func toProgram(r ledgerdb.ProgramSetting) Program {
	loc, err := time.LoadLocation(r.TimeZone)
	if err != nil {
		loc = time.UTC // validated when saved
	}
	return Program{loc: loc,
		EarnPoints: r.EarnPoints, EarnPerAmountMinor: r.EarnPerAmountMinor, ReturnWindowDays: r.ReturnWindowDays,
		ExpiryKind: r.ExpiryKind, ExpiryDays: r.ExpiryDays, PointsPerUnit: r.PointsPerUnit,
		Currency: r.Currency, TimeZone: r.TimeZone, Version: r.Version, UpdateTime: r.UpdateTime,
	}
}
