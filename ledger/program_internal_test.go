package ledger

import (
	"errors"
	"strings"
	"testing"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

func defaultProgram() Program {
	return Program{EarnPoints: 1, EarnPerAmountMinor: 100, ReturnWindowDays: 7, ExpiryKind: ExpiryEndOfFollowingYear,
		PointsPerUnit: 100, TimeZone: "UTC", Currencies: DefaultCurrencies}
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
		"lower-case currency":    {func(p *Program) { p.Currencies = []string{"CNY", "usd"} }, "currencies[1]"},
		"no currency":            {func(p *Program) { p.Currencies = nil }, "currencies"},
		"empty currency":         {func(p *Program) { p.Currencies = []string{""} }, "currencies[0]"},
		"four letters":           {func(p *Program) { p.Currencies = []string{"YUAN"} }, "currencies[0]"},
		"a digit":                {func(p *Program) { p.Currencies = []string{"CN1"} }, "currencies[0]"},
		"listed twice":           {func(p *Program) { p.Currencies = []string{"CNY", "HKD", "CNY"} }, "currencies[2]"},
		"21 currencies":          {func(p *Program) { p.Currencies = manyCurrencies(21) }, "currencies"},
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
	ok.ExpiryKind, ok.ExpiryDays, ok.TimeZone, ok.Currencies = ExpiryRollingDays, 365, "Asia/Shanghai", manyCurrencies(20)
	if err := ok.validate(); err != nil {
		t.Errorf("valid program refused: %v", err)
	}
}

// manyCurrencies makes n distinct currency-shaped codes: AAA, AAB, ...
func manyCurrencies(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = string([]byte{'A', 'A' + byte(i/26), 'A' + byte(i%26)})
	}
	return out
}

func TestSpendRuleNeedsAnOrderAndAProgramCurrency(t *testing.T) {
	p := defaultProgram()
	p.Currencies = []string{"CNY", "HKD"}
	cases := []struct {
		name, orderID, currency string
		fields                  []string
		mentions                string // in the first violation's description
	}{
		{"order in CNY", "o-1", "CNY", nil, ""},
		{"order in HKD", "o-1", "HKD", nil, ""},
		{"no order", "", "CNY", []string{"orderId"}, "return window"},
		{"no currency", "o-1", "", []string{"spend.currency"}, "is required: the program earns in CNY, HKD"},
		{"another currency", "o-1", "USD", []string{"spend.currency"}, "USD is not a currency the program earns in; it accepts CNY, HKD"},
		{"made-up currency", "o-1", "XXX", []string{"spend.currency"}, "accepts CNY, HKD"},
		{"lower case", "o-1", "cny", []string{"spend.currency"}, "cny is not"},
		{"neither", "", "", []string{"orderId", "spend.currency"}, "is required with a spend"},
	}
	for _, c := range cases {
		err := SpendRule(p, c.orderID, c.currency)
		if c.fields == nil {
			if err != nil {
				t.Errorf("%s: refused: %v", c.name, err)
			}
			continue
		}
		pe, ok := problem.As(err)
		if !ok || pe.Kind != problem.Invalid || len(pe.Fields) != len(c.fields) {
			t.Errorf("%s: %v, want violations of %v", c.name, err, c.fields)
			continue
		}
		for i, f := range c.fields {
			if pe.Fields[i].Field != f {
				t.Errorf("%s: violation %d is of %s, want %s", c.name, i, pe.Fields[i].Field, f)
			}
		}
		if !strings.Contains(pe.Fields[0].Description, c.mentions) {
			t.Errorf("%s: %q does not say %q", c.name, pe.Fields[0].Description, c.mentions)
		}
	}
}

// An earning from a spend moves at most MaxPoints: past it the tier's and the
// campaigns' parts could overflow in the write statement (a fuzzing finding: 10^13
// minor units at 10,000 points each was a 500).
func TestEarnBreakdownRefusesMoreThanMaxPoints(t *testing.T) {
	cases := []struct {
		name         string
		earn, spend  int64
		refusedField string
	}{
		{"the default rate on a large order", 1, 100_000_000_000_000 / 100, ""},
		{"exactly the most one entry may move", 1, MaxPoints * 100, ""},
		{"one point more", 1, (MaxPoints + 1) * 100, "spend.amountMinor"},
		{"the largest rate and spend", 10000, 10_000_000_000_000, "spend.amountMinor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := defaultProgram()
			p.EarnPoints = c.earn
			lines, err := earnBreakdown(p, Earn{MemberID: "m", RequestID: "r", OrderID: "o", SpendMinor: c.spend, Currency: "CNY"})
			if c.refusedField == "" {
				if err != nil || len(lines) == 0 || lines[0].Points > MaxPoints {
					t.Fatalf("lines %v, err %v; want the base line within MaxPoints", lines, err)
				}
				return
			}
			pe, ok := problem.As(err)
			if !ok || pe.Kind != problem.Invalid || len(pe.Fields) != 1 || pe.Fields[0].Field != c.refusedField {
				t.Fatalf("err %v, want a 400 naming %s", err, c.refusedField)
			}
		})
	}
}
