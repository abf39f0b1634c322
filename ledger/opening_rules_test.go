package ledger_test

import (
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

func TestCheckOpeningNamesTheColumn(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	ok := ledger.Opening{MemberID: "m1", Points: 10, Expire: now.AddDate(1, 0, 0), TierID: "gold", JoinTime: now.AddDate(-1, 0, 0)}
	cases := []struct {
		name  string
		edit  func(*ledger.Opening)
		field string // "": accepted
	}{
		{"a good row", func(*ledger.Opening) {}, ""},
		{"no expiry: the program's", func(o *ledger.Opening) { o.Expire = time.Time{} }, ""},
		{"an expired opening at zero points", func(o *ledger.Opening) { o.Points, o.Expire = 0, now.AddDate(-1, 0, 0) }, ""},
		{"no member id", func(o *ledger.Opening) { o.MemberID = "" }, "memberId"},
		{"a member id with a space", func(o *ledger.Opening) { o.MemberID = "m 1" }, "memberId"},
		{"negative balance", func(o *ledger.Opening) { o.Points = -1 }, "openingBalance"},
		{"balance over the bound", func(o *ledger.Opening) { o.Points = ledger.MaxPoints + 1 }, "openingBalance"},
		{"negative metric", func(o *ledger.Opening) { o.Metric = -1 }, "tierMetric"},
		{"unknown tier", func(o *ledger.Opening) { o.TierID = "diamond" }, "tierId"},
		{"points already expired", func(o *ledger.Opening) { o.Expire = now }, "openingExpiry"},
		{"joined in the future", func(o *ledger.Opening) { o.JoinTime = now.Add(time.Hour) }, "joinTime"},
		{"a name too long", func(o *ledger.Opening) { o.DisplayName = string(make([]byte, 201)) }, "displayName"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := ok
			c.edit(&o)
			err := ledger.CheckOpening(o, tiers.DefaultPolicy(), now)
			if c.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			p, isProblem := problem.As(err)
			if !isProblem || len(p.Fields) == 0 || p.Fields[0].Field != c.field {
				t.Fatalf("got %v, want a refusal naming %s", err, c.field)
			}
		})
	}
}
