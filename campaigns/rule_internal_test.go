package campaigns

import (
	"strings"
	"testing"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

// nested10 is a rule whose estimated cost is far over the limit: four nested
// loops over ten items.
const nested10 = `[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, ` +
	`[1,2,3,4,5,6,7,8,9,10].all(d, a + b + c + d + order.spendMinor > 0))))`

func TestRulesThatFailWheneverTheyRunAreRefusedAtSave(t *testing.T) {
	points := Definition{DisplayName: "d", Type: TypeMultiplier, MultiplierPercent: 200}
	coupons := Definition{DisplayName: "d", Type: TypeCouponDrop, Coupon: CouponTemplate{Kind: CouponFreeShipping, ValidDays: 3}}
	late := Definition{DisplayName: "d", Type: TypeCompensation,
		Compensation: Compensation{EventTypes: []string{"LATE_DELIVERY"}, MinDelayHours: 24, Points: 100}}
	cases := []struct {
		name string
		def  Definition
		rule string
		says string // "" : accepted
	}{
		{"a plain rule", points, "order.spendMinor >= 10000", ""},
		{"string functions on bounded facts", points, `order.orderId.startsWith("A") && member.memberId.contains("x") && order.currency == "CNY"`, ""},
		{"a loop within the cost limit", points, "[1, 2, 3].exists(x, order.spendMinor > x * 100)", ""},
		{"a division that fails on one spend only", points, "100 / (order.spendMinor - 20000) >= 0", ""},
		{"a division by the delay in a compensation", late, "1000 / event.delayHours > 1", ""},
		{"constant division by zero", points, "1 / 0 > 0", "its constant part 1 / 0 always fails"},
		{"constant modulus by zero inside", points, "order.spendMinor > 10 && 10 % 0 == 0", "its constant part 10 % 0 always fails"},
		{"constant overflow", points, "order.spendMinor > 9223372036854775807 + 1", "always fails, so the rule would not apply: integer overflow"},
		{"over the cost limit", points, nested10, "is too costly"},
		{"overflow on every spend", points, "order.spendMinor * 100000000000000000 > 0", "fails on every order tried"},
		{"a coupon drop has no order", coupons, "1000000 / order.spendMinor > 1", "fails on a member"},
		{"a points campaign has no event", points, "100 / event.delayHours > 1", "division by zero"},
		{"a compensation at minimum delay 0 is still tried later", Definition{DisplayName: "d", Type: TypeCompensation,
			Compensation: Compensation{EventTypes: []string{"DAMAGED_ITEM"}, Points: 50}}, "100 / event.delayHours > 1", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := c.def
			d.Eligibility.Rule = c.rule
			_, _, rule, err := d.compile(func(string) bool { return true })
			if c.says == "" {
				if err != nil || rule == nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			pe, ok := problem.As(err)
			if !ok || pe.Kind != problem.Invalid || len(pe.Fields) != 1 || pe.Fields[0].Field != "eligibility.rule" {
				t.Fatalf("%v, want one violation of eligibility.rule", err)
			}
			if !strings.Contains(pe.Fields[0].Description, c.says) {
				t.Errorf("%q does not say %q", pe.Fields[0].Description, c.says)
			}
			t.Log(pe.Fields[0].Description)
		})
	}
}

func TestRuleErrorsAtRunTimeAreAnswered(t *testing.T) {
	rule, err := CompileRule("100 / (order.spendMinor - 20000) >= 0")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := rule.Eval(Facts{Order: OrderFacts{SpendMinor: 30000}}); !ok || err != nil {
		t.Errorf("spend 30000: %v %v, want eligible", ok, err)
	}
	ok, err := rule.Eval(Facts{Order: OrderFacts{SpendMinor: 20000}})
	re, isRule := err.(*RuleError)
	if ok || !isRule || !strings.Contains(re.Err.Error(), "division by zero") {
		t.Errorf("spend 20000: %v %v, want a RuleError of division by zero", ok, err)
	}
	// A stored rule that the save checks would refuse today still loads.
	if r, err := loadRule("1 / 0 > 0"); r == nil || err != nil {
		t.Errorf("stored rule: %v", err)
	}
}

// TestCheckRuleAnswersWhatASaveWouldRefuseWithWhere checks the rule editor's check:
// the same verdicts as a save (one home: checkRule), each issue where it is.
func TestCheckRuleAnswersWhatASaveWouldRefuseWithWhere(t *testing.T) {
	points := Definition{DisplayName: "d", Type: TypeMultiplier, MultiplierPercent: 200}
	drop := Definition{DisplayName: "d", Type: TypeCouponDrop, Coupon: CouponTemplate{Kind: CouponFreeShipping, ValidDays: 3}}
	cases := []struct {
		name         string
		def          Definition
		rule         string
		says         string // "": accepted
		line, column int
	}{
		{"empty", points, "", "", 0, 0},
		{"accepted", points, "order.spendMinor >= 10000", "", 0, 0},
		{"an unknown field, at the field", points, "order.spendMinr >= 10000", "undefined field 'spendMinr'", 1, 6},
		{"a syntax error on the second line", points, "order.spendMinor >= 1 &&\n  member.tierId ==", "mismatched input", 2, 19},
		{"not a boolean", points, "order.spendMinor + 1", "must be a boolean expression", 0, 0},
		{"a constant part that fails, at the part", points, "order.spendMinor > 1 / 0", "its constant part 1 / 0 always fails", 1, 22},
		{"fails on every sample of its type", drop, "100 / order.spendMinor > 1", "fails on a member", 0, 0},
		{"too costly", points, nested10, "is too costly", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := c.def
			d.Eligibility.Rule = c.rule
			issues, err := CheckRule(d)
			if err != nil {
				t.Fatal(err)
			}
			_, _, _, saveErr := d.compile(func(string) bool { return true })
			if c.says == "" {
				if len(issues) != 0 || saveErr != nil {
					t.Fatalf("issues %v, save %v; want none", issues, saveErr)
				}
				return
			}
			if len(issues) == 0 || !strings.Contains(issues[0].Message, c.says) {
				t.Fatalf("issues %+v, want one saying %q", issues, c.says)
			}
			if issues[0].Line != c.line || issues[0].Column != c.column {
				t.Fatalf("at %d:%d, want %d:%d (%s)", issues[0].Line, issues[0].Column, c.line, c.column, issues[0].Message)
			}
			pe, ok := problem.As(saveErr)
			if !ok || len(pe.Fields) != 1 || pe.Fields[0].Field != "eligibility.rule" {
				t.Fatalf("a save answers %v, want the rule refused too", saveErr)
			}
		})
	}
}
