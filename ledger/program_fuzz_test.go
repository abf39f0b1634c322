package ledger

import (
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

// programFields are the API names a refused program may name.
var programFields = []string{"earnPoints", "earnPerAmountMinor", "returnWindowDays", "expiry.kind", "expiry.days", "pointsPerUnit", "currencies", "timeZone"}

// FuzzProgramValidation: validate never panics and refuses only with an Invalid
// problem naming API fields; settings it accepts give expiries after the earning
// and points for any allowed spend without overflow.
func FuzzProgramValidation(f *testing.F) {
	for _, s := range []struct {
		earn, per             int64
		window                int32
		kind                  string
		days                  int32
		ppu                   int64
		currency, zone        string
		spend, earnedUnixNano int64
	}{
		{1, 100, 7, ExpiryEndOfFollowingYear, 0, 100, "", "UTC", 25900, 1_764_000_000_000_000_000},
		{10000, 1, 0, ExpiryRollingDays, 36500, 1, "CNY", "Asia/Shanghai", 10_000_000_000_000, 0},
		{2, 100, 365, ExpiryRollingDays, 1, 1_000_000, "usd", "America/New_York", 1, -1},
		{0, 0, -1, "", -1, 0, "€€€", "", -1, 1 << 62},
		{10001, 1_000_000_001, 366, "NEVER", 36501, 1_000_001, "CNYX", "Local", 1, 0},
		{1, 1, 1, ExpiryEndOfFollowingYear, 5, 1, "CN1", "../../etc/passwd", 0, 0},
		{1, 1, 1, ExpiryRollingDays, 0, 1, "", "Mars/Olympus", 0, 0},
		{1, 1, 1, ExpiryRollingDays, 30, 1, "", "\x00", 0, 0},
		{1, 1, 1, ExpiryRollingDays, 30, 1, "", "Etc/GMT+12", 0, -1 << 63},
		{1, 1, 1, ExpiryRollingDays, 30, 1, "", "Pacific/Kiritimati", 0, 1<<63 - 1},
	} {
		f.Add(s.earn, s.per, s.window, s.kind, s.days, s.ppu, s.currency, s.zone, s.spend, s.earnedUnixNano)
	}
	f.Fuzz(func(t *testing.T, earn, per int64, window int32, kind string, days int32, ppu int64, currency, zone string, spend, earnedUnixNano int64) {
		p := Program{EarnPoints: earn, EarnPerAmountMinor: per, ReturnWindowDays: window, ExpiryKind: kind, ExpiryDays: days,
			PointsPerUnit: ppu, Currencies: strings.Split(currency, ","), TimeZone: zone}
		if err := p.validate(); err != nil {
			pe, ok := problem.As(err)
			if !ok || pe.Kind != problem.Invalid || len(pe.Fields) == 0 {
				t.Fatalf("%+v refused with %#v, want an Invalid problem naming fields", p, err)
			}
			for _, fv := range pe.Fields {
				if !slices.Contains(programFields, apiFieldName(fv.Field)) || fv.Description == "" {
					t.Errorf("%+v: violation %+v does not name an API field", p, fv)
				}
			}
			return
		}
		// Spends as the earn command allows them (spend.amountMinor 0..10^13).
		if spend < 0 {
			spend = -(spend + 1)
		}
		spend %= 10_000_000_000_001
		want := new(big.Int).Mul(big.NewInt(spend), big.NewInt(p.EarnPoints))
		want.Quo(want, big.NewInt(p.EarnPerAmountMinor))
		if got := p.PointsForSpend(spend); !want.IsInt64() || got != want.Int64() || got < 0 {
			t.Errorf("%+v: %d minor units earn %d points, want %s", p, spend, got, want)
		}
		// Earnings between 1970 and 2262 (what time.Unix(0, n) spans).
		earned := time.Unix(0, earnedUnixNano)
		expiry := p.LotExpiry(earned)
		if !expiry.After(earned) {
			t.Errorf("%+v: points earned at %s expire at %s", p, earned, expiry)
		}
		if p.ExpiryKind == ExpiryRollingDays && expiry.Sub(earned) > time.Duration(p.ExpiryDays+2)*24*time.Hour {
			t.Errorf("%+v: points earned at %s expire at %s, more than %d days later", p, earned, expiry, p.ExpiryDays+1)
		}
		if p.Location().String() != p.TimeZone {
			t.Errorf("%+v: location %s", p, p.Location())
		}
	})
}

// apiFieldName drops an index: currencies[2] is the field currencies.
func apiFieldName(field string) string {
	name, _, _ := strings.Cut(field, "[")
	return name
}
