package campaigns

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

// MemberFacts are what a rule knows of the member: `member.tierId`,
// `member.memberId`, `member.joinTime`.
type MemberFacts struct {
	TierID   string    `cel:"tierId"`
	MemberID string    `cel:"memberId"`
	JoinTime time.Time `cel:"joinTime"`
}

// OrderFacts are what a rule knows of the order: `order.orderId`,
// `order.spendMinor`, `order.currency` (empty outside an order).
type OrderFacts struct {
	OrderID    string `cel:"orderId"`
	SpendMinor int64  `cel:"spendMinor"`
	Currency   string `cel:"currency"`
}

// EventFacts are what a rule knows of an after-sales event: `event.type`,
// `event.delayHours` (empty outside an event).
type EventFacts struct {
	Type       string `cel:"type"`
	DelayHours int64  `cel:"delayHours"`
}

// Facts are the inputs of an eligibility rule.
type Facts struct {
	Member MemberFacts
	Order  OrderFacts
	Event  EventFacts
}

var ruleEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[MemberFacts](), reflect.TypeFor[OrderFacts](), reflect.TypeFor[EventFacts](),
			ext.ParseStructTags(true)),
		cel.Variable("member", cel.ObjectType("campaigns.MemberFacts")),
		cel.Variable("order", cel.ObjectType("campaigns.OrderFacts")),
		cel.Variable("event", cel.ObjectType("campaigns.EventFacts")),
	)
})

// maxRuleLength bounds a rule's source.
const maxRuleLength = 2000

// Rule is a compiled, type-checked eligibility rule.
type Rule struct {
	source  string
	program cel.Program
}

// CompileRule parses and type-checks a rule, which must be a boolean expression
// over member, order and event. The error is an Invalid problem on the field
// eligibility.rule saying where the rule is wrong.
func CompileRule(source string) (*Rule, error) {
	if strings.TrimSpace(source) == "" {
		return nil, nil
	}
	if len(source) > maxRuleLength {
		return nil, problem.InvalidField("eligibility.rule", fmt.Sprintf("must be at most %d characters", maxRuleLength))
	}
	env, err := ruleEnv()
	if err != nil {
		return nil, fmt.Errorf("rule environment: %w", err)
	}
	ast, iss := env.Compile(source)
	if iss.Err() != nil {
		return nil, problem.InvalidField("eligibility.rule", strings.TrimSpace(iss.Err().Error()))
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, problem.InvalidField("eligibility.rule", "must be a boolean expression, this one is "+ast.OutputType().String())
	}
	prg, err := env.Program(ast, cel.CostLimit(10_000))
	if err != nil {
		return nil, problem.InvalidField("eligibility.rule", err.Error())
	}
	return &Rule{source: source, program: prg}, nil
}

// Eval tells whether the facts satisfy the rule (a nil rule is always satisfied). A
// rule that fails at run time (a division by zero, its cost limit) is not satisfied.
func (r *Rule) Eval(f Facts) bool {
	if r == nil {
		return true
	}
	out, _, err := r.program.Eval(map[string]any{"member": f.Member, "order": f.Order, "event": f.Event})
	if err != nil {
		return false
	}
	ok, _ := out.Value().(bool)
	return ok
}
