package campaigns

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/ext"
	"github.com/google/cel-go/parser"

	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger"
)

// MemberFacts are what a rule knows of the member: `member.tierId`,
// `member.memberId`, `member.joinTime`, and its profile: `member.birthday` (month,
// day and year, 0 when not told), `member.channel`, `member.attributes` (a map
// of strings: `member.attributes["city"] == "Shanghai"`, `"vip" in member.attributes`).
type MemberFacts struct {
	TierID     string            `cel:"tierId"`
	MemberID   string            `cel:"memberId"`
	JoinTime   time.Time         `cel:"joinTime"`
	Birthday   BirthdayFacts     `cel:"birthday"`
	Channel    string            `cel:"channel"`
	Attributes map[string]string `cel:"attributes"`
}

// BirthdayFacts are a member's birthday in a rule (all 0: not told).
type BirthdayFacts struct {
	Month int64 `cel:"month"`
	Day   int64 `cel:"day"`
	Year  int64 `cel:"year"`
}

// ActivityFacts are what a rule knows of an activity: `activity.type`,
// `activity.key`, `activity.attributes` (empty outside an activity).
type ActivityFacts struct {
	Type       string            `cel:"type"`
	Key        string            `cel:"key"`
	Attributes map[string]string `cel:"attributes"`
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
	Member   MemberFacts
	Order    OrderFacts
	Event    EventFacts
	Activity ActivityFacts
}

var ruleEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[MemberFacts](), reflect.TypeFor[BirthdayFacts](), reflect.TypeFor[OrderFacts](),
			reflect.TypeFor[EventFacts](), reflect.TypeFor[ActivityFacts](), ext.ParseStructTags(true)),
		cel.Variable("member", cel.ObjectType("campaigns.MemberFacts")),
		cel.Variable("order", cel.ObjectType("campaigns.OrderFacts")),
		cel.Variable("event", cel.ObjectType("campaigns.EventFacts")),
		cel.Variable("activity", cel.ObjectType("campaigns.ActivityFacts")),
	)
})

// maxRuleLength bounds a rule's source.
const maxRuleLength = 2000

// ruleCostLimit bounds what one evaluation of a rule may cost, in CEL's cost
// units; a rule whose estimated cost is above it is refused at save, so a saved
// rule never hits it at run time.
const ruleCostLimit = 10_000

// maxFactLength bounds the strings among the facts (ids are at most 64
// characters), for the cost estimate of what a rule does with them.
const maxFactLength = 64

// Rule is a compiled, type-checked eligibility rule.
type Rule struct {
	source  string
	program cel.Program
}

// ruleField is the field rule problems are reported on.
const ruleField = "eligibility.rule"

// CompileRule parses and type-checks a rule, which must be a boolean expression
// over member, order and event, and refuses a rule that can be known to fail
// whenever it runs: a constant part that fails (1 / 0, an overflow), or an
// estimated cost over the limit. The error is an Invalid problem on the field
// eligibility.rule saying where and why.
func CompileRule(source string) (*Rule, error) {
	rule, checked, err := compileRule(source)
	if rule == nil || err != nil {
		return rule, err
	}
	env, err := ruleEnv()
	if err != nil {
		return nil, fmt.Errorf("rule environment: %w", err)
	}
	// The estimate comes first, so that only a rule known to be cheap has its
	// constant parts evaluated.
	cost, err := env.EstimateCost(checked, factSizes{})
	if err != nil {
		return nil, problem.InvalidField(ruleField, "its cost cannot be estimated: "+err.Error())
	}
	if cost.Max > ruleCostLimit {
		return nil, problem.InvalidField(ruleField, fmt.Sprintf(
			"is too costly: it may cost up to %d to run, over the limit of %d, so it would fail; make it simpler", cost.Max, ruleCostLimit))
	}
	if part, at, err := constantFailure(env, checked); err != nil {
		msg := fmt.Sprintf("its constant part %s always fails, so the rule would not apply: %v", part, err)
		return nil, &RuleIssues{Problem: problem.InvalidField(ruleField, msg), Issues: []RuleIssue{issueAt(msg, at)}}
	}
	return rule, nil
}

// RuleIssue is one thing wrong with a rule, and where it is when CEL knows: Line
// and Column count from 1 (0: about the whole rule).
type RuleIssue struct {
	Message      string
	Line, Column int
}

// issueAt places an issue at a CEL location, whose columns count from 0 (its
// messages, and editors, count from 1).
func issueAt(msg string, at common.Location) RuleIssue {
	if at == nil || at.Line() < 1 {
		return RuleIssue{Message: msg}
	}
	return RuleIssue{Message: msg, Line: at.Line(), Column: at.Column() + 1}
}

// RuleIssues is a refused rule: the problem a save answers (on eligibility.rule),
// and each issue with its position, for an editor to show where it is.
type RuleIssues struct {
	Problem *problem.Error
	Issues  []RuleIssue
}

func (e *RuleIssues) Error() string { return e.Problem.Error() }

func (e *RuleIssues) Unwrap() error { return e.Problem }

// CheckRule is the check a save makes of a definition's rule (its type, tiers and
// compensation decide the samples it is run on), without saving anything: nil when
// the rule would be accepted, else why, with positions where CEL gives them.
func CheckRule(d Definition) ([]RuleIssue, error) {
	switch d.Type {
	case TypeMultiplier, TypeBonus, TypeCouponDrop, TypeCompensation:
	default:
		return nil, problem.InvalidField("type", "must be one of: "+strings.Join([]string{TypeMultiplier, TypeBonus, TypeCouponDrop, TypeCompensation}, " "))
	}
	_, err := d.checkRule()
	if err == nil {
		return nil, nil
	}
	if ri, ok := errors.AsType[*RuleIssues](err); ok {
		return ri.Issues, nil
	}
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
		issues := make([]RuleIssue, 0, len(pe.Fields))
		for _, f := range pe.Fields {
			issues = append(issues, RuleIssue{Message: f.Description})
		}
		return issues, nil
	}
	return nil, err
}

// checkRule is the save's check of a definition's rule: it compiles (CompileRule),
// then must not fail on every sample of facts its campaign will see.
func (d Definition) checkRule() (*Rule, error) {
	rule, err := CompileRule(d.Eligibility.Rule)
	if err == nil && rule != nil {
		samples, what := d.ruleSamples()
		err = rule.checkOnAll(samples, what)
	}
	return rule, err
}

// compileRule parses and type-checks a rule (nil for an empty one), without the
// checks of a save: stored rules load with it.
func compileRule(source string) (*Rule, *cel.Ast, error) {
	if strings.TrimSpace(source) == "" {
		return nil, nil, nil
	}
	if len(source) > maxRuleLength {
		return nil, nil, problem.InvalidField(ruleField, fmt.Sprintf("must be at most %d characters", maxRuleLength))
	}
	env, err := ruleEnv()
	if err != nil {
		return nil, nil, fmt.Errorf("rule environment: %w", err)
	}
	checked, iss := env.Compile(source)
	if iss.Err() != nil {
		ri := &RuleIssues{Problem: problem.InvalidField(ruleField, strings.TrimSpace(iss.Err().Error()))}
		for _, e := range iss.Errors() {
			ri.Issues = append(ri.Issues, issueAt(e.Message, e.Location))
		}
		return nil, nil, ri
	}
	if !checked.OutputType().IsExactType(cel.BoolType) {
		return nil, nil, problem.InvalidField(ruleField, "must be a boolean expression, this one is "+checked.OutputType().String())
	}
	prg, err := env.Program(checked, cel.CostLimit(ruleCostLimit))
	if err != nil {
		return nil, nil, problem.InvalidField(ruleField, err.Error())
	}
	return &Rule{source: source, program: prg}, checked, nil
}

// loadRule compiles a stored rule. It was checked when it was saved; checks
// added since do not make its campaign unreadable.
func loadRule(source string) (*Rule, error) {
	rule, _, err := compileRule(source)
	return rule, err
}

// constantFailure finds a part of the rule that uses no facts and fails whenever
// it is evaluated (1 / 0, an overflow), like CEL's constant folding does, and
// answers the smallest such part, where it starts and its error.
func constantFailure(env *cel.Env, checked *cel.Ast) (string, common.Location, error) {
	native := checked.NativeRep()
	constant := func(e celast.NavigableExpr) bool {
		if e.Kind() != celast.CallKind {
			return false
		}
		usesFacts := false
		celast.PreOrderVisit(e, celast.NewExprVisitor(func(x celast.Expr) {
			usesFacts = usesFacts || x.Kind() == celast.IdentKind || x.Kind() == celast.ComprehensionKind
		}))
		return !usesFacts
	}
	var part string
	var at common.Location = common.NoLocation
	var failure error
	for _, e := range celast.MatchDescendants(celast.NavigateAST(native), constant) {
		src, err := parser.Unparse(e, native.SourceInfo())
		if err != nil || (failure != nil && len(src) >= len(part)) {
			continue
		}
		sub, iss := env.Compile(src)
		if iss.Err() != nil {
			continue
		}
		prg, err := env.Program(sub, cel.CostLimit(ruleCostLimit))
		if err != nil {
			continue
		}
		if _, _, err := prg.Eval(cel.NoVars()); err != nil {
			part, failure = src, err
			at = native.SourceInfo().GetStartLocation(e.ID())
		}
	}
	return part, at, failure
}

// factSizes tells CEL's cost estimate how long the facts' strings can be; the
// maps (attributes) hold at most 20 entries.
type factSizes struct{}

func (factSizes) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	if len(n.Path()) > 0 {
		return &checker.SizeEstimate{Min: 0, Max: maxFactLength}
	}
	return nil
}

func (factSizes) EstimateCallCost(function, overloadID string, target *checker.AstNode, args []checker.AstNode) *checker.CallEstimate {
	return nil
}

// RuleError is a rule that failed at run time on some facts (a division by zero,
// an overflow): the campaign does not apply, and its text is safe to show.
type RuleError struct {
	Err error
}

func (e *RuleError) Error() string { return "the eligibility rule failed: " + e.Err.Error() }

func (e *RuleError) Unwrap() error { return e.Err }

// Eval tells whether the facts satisfy the rule (a nil rule is always satisfied).
// A rule that fails at run time is not satisfied, and the error (a *RuleError)
// says why.
func (r *Rule) Eval(f Facts) (bool, error) {
	if r == nil {
		return true, nil
	}
	out, _, err := r.program.Eval(map[string]any{"member": f.Member, "order": f.Order, "event": f.Event, "activity": f.Activity})
	if err != nil {
		return false, &RuleError{Err: err}
	}
	ok, _ := out.Value().(bool)
	return ok, nil
}

// checkOnAll refuses, at save, a rule that fails on every one of the samples,
// facts like those it will see (an overflow on any spend, a division by a field
// that is always zero there): such a rule would never apply. One that works on
// some of them may well be meant.
func (r *Rule) checkOnAll(samples []Facts, what string) error {
	var last error
	for _, f := range samples {
		_, err := r.Eval(f)
		if err == nil {
			return nil
		}
		last = err
	}
	var re *RuleError
	if errors.As(last, &re) {
		last = re.Err
	}
	if last == nil {
		return nil
	}
	return problem.InvalidField(ruleField, fmt.Sprintf("fails on %s, so the campaign would never apply: %v", what, last))
}

// profileFacts are a member's profile as a rule sees it.
func profileFacts(m *MemberFacts, p ledger.Profile) {
	if b := p.Birthday; b != nil {
		m.Birthday = BirthdayFacts{Month: int64(b.Month), Day: int64(b.Day), Year: int64(b.Year)}
	}
	m.Channel = p.Channel
	m.Attributes = p.Attributes
	if m.Attributes == nil {
		m.Attributes = map[string]string{}
	}
}
