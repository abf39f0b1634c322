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
	row, err := s.q.CurrentProgram(ctx, s.pool)
	if err != nil {
		return Program{}, fmt.Errorf("read program settings: %w", err)
	}
	return toProgram(row), nil
}

// UpdateProgram puts new settings in force, as a new version.
func (s *Service) UpdateProgram(ctx context.Context, actor Actor, p Program) (Program, error) {
	if err := p.validate(); err != nil {
		return Program{}, err
	}
	row, err := s.q.InsertProgram(ctx, s.pool, ledgerdb.InsertProgramParams{
		EarnPoints: p.EarnPoints, EarnPerAmountMinor: p.EarnPerAmountMinor, ReturnWindowDays: p.ReturnWindowDays,
		ExpiryKind: p.ExpiryKind, ExpiryDays: p.ExpiryDays, PointsPerUnit: p.PointsPerUnit,
		Currency: p.Currency, TimeZone: p.TimeZone, ActorKeyID: actor.KeyID,
	})
	if err != nil {
		return Program{}, fmt.Errorf("update program settings: %w", err)
	}
	return toProgram(row), nil
}

func toProgram(r ledgerdb.ProgramSetting) Program {
	return Program{
		EarnPoints: r.EarnPoints, EarnPerAmountMinor: r.EarnPerAmountMinor, ReturnWindowDays: r.ReturnWindowDays,
		ExpiryKind: r.ExpiryKind, ExpiryDays: r.ExpiryDays, PointsPerUnit: r.PointsPerUnit,
		Currency: r.Currency, TimeZone: r.TimeZone, Version: r.Version, UpdateTime: r.UpdateTime,
	}
}
