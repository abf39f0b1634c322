package ledger

import (
	"errors"
	"testing"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

func defaultProgram() Program {
	return Program{EarnPoints: 1, EarnPerAmountMinor: 100, ReturnWindowDays: 7, ExpiryKind: ExpiryEndOfFollowingYear,
		PointsPerUnit: 100, TimeZone: "UTC"}
}

func TestPointsForSpendRoundsDown(t *testing.T) {
	cases := []struct {
		earn, per, spend, want int64
	}{
		{1, 100, 12345, 123},
		{1, 100, 99, 0},
		{1, 100, 100, 1},
		{3, 200, 1000, 15},
		{10000, 1, 10_000_000_000_000, 100_000_000_000_000_000}, // the largest inputs do not overflow
	}
	for _, c := range cases {
		p := defaultProgram()
		p.EarnPoints, p.EarnPerAmountMinor = c.earn, c.per
		if got := p.PointsForSpend(c.spend); got != c.want {
			t.Errorf("%d per %d on %d: %d, want %d", c.earn, c.per, c.spend, got, c.want)
		}
	}
}

func TestProgramValidationNamesTheField(t *testing.T) {
	cases := map[string]struct {
		change func(*Program)
		field  string
	}{
		"zero earn points":       {func(p *Program) { p.EarnPoints = 0 }, "earnPoints"},
		"zero amount":            {func(p *Program) { p.EarnPerAmountMinor = 0 }, "earnPerAmountMinor"},
		"window too long":        {func(p *Program) { p.ReturnWindowDays = 400 }, "returnWindowDays"},
		"unknown expiry":         {func(p *Program) { p.ExpiryKind = "NEVER" }, "expiry.kind"},
		"rolling without days":   {func(p *Program) { p.ExpiryKind = ExpiryRollingDays }, "expiry.days"},
		"year end with days":     {func(p *Program) { p.ExpiryDays = 30 }, "expiry.days"},
		"unknown time zone":      {func(p *Program) { p.TimeZone = "Mars/Olympus" }, "timeZone"},
		"lower-case currency":    {func(p *Program) { p.Currency = "cny" }, "currency"},
		"point value of zero":    {func(p *Program) { p.PointsPerUnit = 0 }, "pointsPerUnit"},
		"missing time zone":      {func(p *Program) { p.TimeZone = "" }, "timeZone"},
		"local is not a zone id": {func(p *Program) { p.TimeZone = "Local" }, "timeZone"},
	}
	for name, c := range cases {
		p := defaultProgram()
		c.change(&p)
		err := p.validate()
		var pe *problem.Error
		if !errors.As(err, &pe) || len(pe.Fields) != 1 || pe.Fields[0].Field != c.field {
			t.Errorf("%s: %v, want one violation, of %s", name, err, c.field)
		}
	}
	ok := defaultProgram()
	ok.ExpiryKind, ok.ExpiryDays, ok.TimeZone, ok.Currency = ExpiryRollingDays, 365, "Asia/Shanghai", "CNY"
	if err := ok.validate(); err != nil {
		t.Errorf("valid program refused: %v", err)
	}
}
