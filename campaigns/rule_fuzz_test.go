package campaigns

import (
	"strings"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

// ruleSeeds are rules good and bad: what marketers write, what fails at run time
// (division by zero, overflow, bad conversions, the cost limit) and what must not
// compile (syntax, types, depth, length).
var ruleSeeds = []string{
	"order.spendMinor >= 10000",
	"member.tierId in ['gold', 'platinum'] && order.currency == 'CNY'",
	"event.type == 'LATE_DELIVERY' && event.delayHours > 48",
	"member.joinTime < timestamp('2026-01-01T00:00:00Z')",
	"size(order.orderId) > 3 && order.orderId.startsWith('A')",
	"order.orderId.matches('^(a+)+$')",
	"order.spendMinor / 0 > 1",
	"order.spendMinor % 0 == 0",
	"9223372036854775807 + order.spendMinor > 0",
	"-9223372036854775808 - event.delayHours < 0",
	"int(order.currency) == 1",
	"timestamp(order.orderId) > member.joinTime",
	"duration(order.currency) > duration('0s')",
	"member.joinTime + duration('87600000h') > member.joinTime",
	"[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, a+b+c+d > 0))))",
	"size(order.orderId + order.orderId + order.orderId) < 0",
	"order.spendMinor",
	"order.spendMinr >= 1",
	"member.nope",
	"1 +",
	"",
	"   ",
	"\x00",
	"'\xff' == order.currency",
	strings.Repeat("(", 300) + "true" + strings.Repeat(")", 300),
	strings.Repeat("!", 5000) + "true",
	strings.Repeat("true && ", 400) + "true",
}

// FuzzRuleCompile: CompileRule never panics, and refuses a rule only with an
// Invalid problem on eligibility.rule (anything else would be a 500).
func FuzzRuleCompile(f *testing.F) {
	for _, s := range ruleSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, source string) {
		r, err := CompileRule(source)
		if err != nil {
			p, ok := problem.As(err)
			if !ok || p.Kind != problem.Invalid || len(p.Fields) != 1 || p.Fields[0].Field != "eligibility.rule" || p.Fields[0].Description == "" {
				t.Fatalf("CompileRule(%q) refused with %#v, want an Invalid problem on eligibility.rule", source, err)
			}
			return
		}
		if r == nil {
			if strings.TrimSpace(source) != "" {
				t.Fatalf("CompileRule(%q) = nil rule, nil error", source)
			}
			return
		}
		if r.source != source {
			t.Fatalf("compiled %q as %q", source, r.source)
		}
	})
}

// FuzzRuleEval: a compiled rule evaluates against any facts without panicking,
// within its cost limit, and gives the same answer for the same facts.
func FuzzRuleEval(f *testing.F) {
	for i, s := range ruleSeeds {
		f.Add(s, "gold", "m-1", int64(1_700_000_000+i), "A-1", int64(10000*i), "CNY", "LATE_DELIVERY", int64(72))
	}
	f.Add("order.spendMinor / event.delayHours > 1", "", "", int64(0), "", int64(-9223372036854775808), "", "", int64(-1))
	f.Add("member.joinTime > timestamp('2000-01-01T00:00:00Z')", "\x00", "\xff", int64(-62135596800-1), "", int64(0), "", "", int64(0))
	f.Fuzz(func(t *testing.T, source, tier, member string, joinUnix int64, order string, spend int64, currency, event string, delay int64) {
		r, err := CompileRule(source)
		if err != nil || r == nil {
			return
		}
		facts := Facts{
			Member: MemberFacts{TierID: tier, MemberID: member, JoinTime: time.Unix(joinUnix, 0).UTC()},
			Order:  OrderFacts{OrderID: order, SpendMinor: spend, Currency: currency},
			Event:  EventFacts{Type: event, DelayHours: delay},
		}
		start := time.Now()
		first, firstErr := r.Eval(facts)
		if took := time.Since(start); took > 10*time.Second {
			t.Fatalf("%q took %s to evaluate: the cost limit did not hold", source, took)
		}
		again, againErr := r.Eval(facts)
		if again != first || (againErr == nil) != (firstErr == nil) {
			t.Fatalf("%q evaluated %v (%v), then %v (%v), on the same facts", source, first, firstErr, again, againErr)
		}
		if firstErr != nil && first {
			t.Fatalf("%q failed (%v) yet was satisfied", source, firstErr)
		}
	})
}
