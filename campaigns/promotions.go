package campaigns

import (
	"fmt"

	"github.com/loyalty-engine/loyalty/ledger"
)

// Refusal reasons of grants.
const (
	RefusedBudgetExhausted = "BUDGET_EXHAUSTED"
	RefusedMemberCap       = "MEMBER_CAP_REACHED"
	RefusedNotActive       = "CAMPAIGN_NOT_ACTIVE"
	// RefusedRuleError: the campaign's eligibility rule failed at run time (the
	// refusal carries its error).
	RefusedRuleError = "RULE_ERROR"
)

var _ ledger.Promotions = (*Service)(nil)

// Bonus is what a points campaign adds to an earning of base points, before
// budgets and caps: a multiplier's extra share of the base (200% adds the base once
// more), or a bonus's fixed points. Stacking rule: every campaign an order
// qualifies for adds its own bonus, each computed on the base points (never on the
// tier part or on another campaign's bonus), so the order campaigns run in does
// not matter.
func (c Campaign) Bonus(base int64) int64 {
	switch c.Type {
	case TypeMultiplier:
		return base * int64(c.MultiplierPercent-100) / 100
	case TypeBonus:
		return c.BonusPoints
	}
	return 0
}

func (c Campaign) describe(capped bool) string {
	d := c.DisplayName
	if c.Type == TypeMultiplier {
		d = fmt.Sprintf("%s: %d%% of the base", d, c.MultiplierPercent)
	}
	if capped {
		d += " (capped by the budget or the member's cap)"
	}
	return d
}
