package campaigns

import (
	"context"
	"fmt"
	"time"

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

// MayApply tells whether any points campaign runs at now (from the cache).
func (s *Service) MayApply(ctx context.Context, now time.Time) bool {
	running, err := s.runningAt(ctx, now)
	if err != nil {
		return true // let Grant read again and report the error
	}
	for _, c := range running {
		if c.Type == TypeMultiplier || c.Type == TypeBonus {
			return true
		}
	}
	return false
}

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

// Grant applies every running points campaign the member and the order qualify for,
// taking each bonus from the campaign's budget and the member's cap inside tx, and
// records what each gave the order (for refunds).
func (s *Service) Grant(ctx context.Context, tx pgx.Tx, e ledger.PromotedEarning) ([]ledger.Bonus, []ledger.BonusRefusal, error) {
	running, err := s.runningAt(ctx, e.Now)
	if err != nil {
		return nil, nil, err
	}
	facts := Facts{
		Member: MemberFacts{TierID: e.TierID, MemberID: e.MemberID, JoinTime: e.JoinTime},
		Order:  OrderFacts{OrderID: e.OrderID, SpendMinor: e.SpendMinor, Currency: e.Currency},
	}
	var bonuses []ledger.Bonus
	var refusals []ledger.BonusRefusal
	for _, c := range running {
		want := c.Bonus(e.BasePoints)
		if want <= 0 {
			continue
		}
		ok, ruleErr := s.eligible(ctx, c, facts)
		if ruleErr != nil {
			refusals = append(refusals, ledger.BonusRefusal{CampaignID: c.ID, Reason: RefusedRuleError, RuleError: ruleErr.Err.Error()})
			continue
		}
		if !ok {
			continue
		}
		got, err := s.q.TakeFromCampaign(ctx, tx, campaignsdb.TakeFromCampaignParams{
			CampaignID: c.ID, MemberID: e.MemberID, Points: want, Now: e.Now, OrderID: e.OrderID,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("take from campaign %s: %w", c.ID, err)
		}
		if got.Refusal != "" {
			refusals = append(refusals, ledger.BonusRefusal{CampaignID: c.ID, Reason: got.Refusal})
			continue
		}
		bonuses = append(bonuses, ledger.Bonus{CampaignID: c.ID, Account: Account(c.ID), Points: got.GrantedPoints,
			Description: c.describe(got.GrantedPoints < want)})
	}
	return bonuses, refusals, nil
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

// OrderGrants are the points campaigns gave an order's earning.
func (s *Service) OrderGrants(ctx context.Context, tx pgx.Tx, memberID, orderID string) ([]ledger.OrderGrant, error) {
	rows, err := s.q.OrderGrants(ctx, tx, campaignsdb.OrderGrantsParams{MemberID: memberID, OrderID: orderID})
	if err != nil {
		return nil, fmt.Errorf("campaign grants of order %q: %w", orderID, err)
	}
	out := make([]ledger.OrderGrant, len(rows))
	for i, r := range rows {
		out[i] = ledger.OrderGrant{CampaignID: r.CampaignID, Account: Account(r.CampaignID), Points: r.Points, Returned: r.Returned}
	}
	return out, nil
}

// GiveBack returns refunded campaign points to the campaign's budget and the
// member's cap, and counts them as returned on the order.
func (s *Service) GiveBack(ctx context.Context, tx pgx.Tx, memberID, orderID, campaignID string, points int64) error {
	if err := s.q.GiveBackToCampaign(ctx, tx, campaignsdb.GiveBackToCampaignParams{CampaignID: campaignID, MemberID: memberID, Points: points}); err != nil {
		return fmt.Errorf("give back to campaign %s: %w", campaignID, err)
	}
	if err := s.q.ReturnOrderGrant(ctx, tx, campaignsdb.ReturnOrderGrantParams{
		MemberID: memberID, OrderID: orderID, CampaignID: campaignID, Points: points,
	}); err != nil {
		return fmt.Errorf("return grant of campaign %s: %w", campaignID, err)
	}
	return nil
}
