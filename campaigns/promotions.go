package campaigns

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
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

// GiveBack returns reversed campaign points to the campaign's budget
// and the member's cap (giveBack, on the slices and the use read under lock), and
// counts them as returned on the order.
func (s *Service) GiveBack(ctx context.Context, tx pgx.Tx, memberID, orderID, campaignID string, points int64) error {
	b, err := s.lockBudgets(ctx, tx, []string{campaignID}, []string{memberID})
	if err != nil {
		return fmt.Errorf("give back to campaign %s: %w", campaignID, err)
	}
	if cb := b.state[campaignID]; cb != nil {
		giveBack(cb, b.use(campaignID, memberID), points, sliceOf(memberID, len(cb.slices)))
	}
	if err := s.writeBudgets(ctx, tx, b); err != nil {
		return fmt.Errorf("give back to campaign %s: %w", campaignID, err)
	}
	if err := s.q.ReturnOrderGrant(ctx, tx, campaignsdb.ReturnOrderGrantParams{
		MemberID: memberID, OrderID: orderID, CampaignID: campaignID, Points: points,
	}); err != nil {
		return fmt.Errorf("return grant of campaign %s: %w", campaignID, err)
	}
	return nil
}
