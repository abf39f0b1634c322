package ledger

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
	// Currencies are the ISO 4217 codes spends may be in (CurrencyRule).
	Currencies []string `json:"currencies"`
	TimeZone   string   `json:"timeZone" validate:"required,max=64"`
	// ExpiryReminderDays: how many days before its points expire a member is
	// reminded (points.expiring), each once; none: no reminders.
	ExpiryReminderDays []int32 `json:"expiryReminderDays" validate:"max=5,dive,gte=1,lte=365"`

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
	fields = append(fields, currencyViolations(p.Currencies)...)
	if _, err := time.LoadLocation(p.TimeZone); p.TimeZone != "" && (err != nil || p.TimeZone == "Local") {
		fields = append(fields, problem.FieldViolation{Field: "timeZone", Description: "is not an IANA time zone such as UTC or Asia/Shanghai"})
	}
	if len(fields) > 0 {
		return problem.InvalidFields(fields...)
	}
	return nil
}

// MaxCurrencies bounds the currencies a program earns in.
const MaxCurrencies = 20

// DefaultCurrencies are what a fresh install earns in (the migration's default).
var DefaultCurrencies = []string{"CNY"}

// isCurrencyCode tells whether code has the shape of an ISO 4217 code: three
// uppercase letters A-Z.
func isCurrencyCode(code string) bool {
	if len(code) != 3 {
		return false
	}
	for _, c := range []byte(code) {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// currencyViolations checks the program's list of currencies: 1 to MaxCurrencies
// ISO 4217 codes, each once.
func currencyViolations(codes []string) []problem.FieldViolation {
	if len(codes) == 0 {
		return []problem.FieldViolation{{Field: "currencies", Description: "must list at least one ISO 4217 currency code, such as CNY"}}
	}
	if len(codes) > MaxCurrencies {
		return []problem.FieldViolation{{Field: "currencies", Description: fmt.Sprintf("must list at most %d currencies", MaxCurrencies)}}
	}
	var fields []problem.FieldViolation
	for i, code := range codes {
		field := fmt.Sprintf("currencies[%d]", i)
		switch {
		case !isCurrencyCode(code):
			fields = append(fields, problem.FieldViolation{Field: field, Description: fmt.Sprintf("%q is not an ISO 4217 code: it must be three uppercase letters, such as CNY", code)})
		case slices.Contains(codes[:i], code):
			fields = append(fields, problem.FieldViolation{Field: field, Description: code + " is listed twice"})
		}
	}
	return fields
}

// CurrencyRule says whether a spend in currency may earn: the program earns only
// in the currencies it lists. It returns the violation of the field spend.currency,
// or nil.
func (p Program) CurrencyRule(currency string) *problem.FieldViolation {
	switch {
	case currency == "":
		return &problem.FieldViolation{Field: "spend.currency", Description: "is required: the program earns in " + p.currencyList()}
	case !slices.Contains(p.Currencies, currency):
		return &problem.FieldViolation{Field: "spend.currency", Description: fmt.Sprintf(
			"%s is not a currency the program earns in; it accepts %s", currency, p.currencyList())}
	}
	return nil
}

func (p Program) currencyList() string { return strings.Join(p.Currencies, ", ") }

// SpendRule checks what an earning from a spend needs before it earns: an order
// (its points wait out the return window, campaigns apply to it, and only an order
// can be refunded) and a currency the program earns in. It names every missing or
// wrong field at once.
func SpendRule(p Program, orderID, currency string) error {
	var fields []problem.FieldViolation
	if orderID == "" {
		fields = append(fields, problem.FieldViolation{Field: "orderId", Description: "is required with a spend: " +
			"points earned on an order wait out the return window, get the order's campaigns and come back on a refund"})
	}
	if v := p.CurrencyRule(currency); v != nil {
		fields = append(fields, *v)
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
		Currencies: p.Currencies, TimeZone: p.TimeZone, ExpiryReminderDays: reminderDays(p.ExpiryReminderDays),
		ActorKeyID: actor.KeyID, UpdateTime: s.clock.Now(),
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
		Currencies: r.Currencies, TimeZone: r.TimeZone, ExpiryReminderDays: r.ExpiryReminderDays,
		Version: r.Version, UpdateTime: r.UpdateTime,
	}
}

// reminderDays are reminder days as stored: each once, the earliest reminder
// first (never nil: the column has no NULL).
func reminderDays(days []int32) []int32 {
	out := slices.Clone(days)
	slices.Sort(out)
	slices.Reverse(out)
	return append([]int32{}, slices.Compact(out)...)
}
