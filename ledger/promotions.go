package ledger

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/tiers"
)

// Promotions are the campaigns an earning from spend may add points from. The
// ledger asks inside the earning's transaction, so the budgets a campaign spends
// and the entry that credits its points commit together or not at all; a refund
// of the order gives the campaign its share back in the refund's transaction. The
// campaigns package implements it (the ledger knows nothing of campaigns).
type Promotions interface {
	// MayApply tells, from caches only, whether a campaign could apply at now; when
	// it is false the earning stays on the fast, group-committed path.
	MayApply(ctx context.Context, now time.Time) bool
	// Grant decides the campaign bonuses of an earning and takes them from the
	// campaigns' budgets and the member's caps, inside tx.
	Grant(ctx context.Context, tx pgx.Tx, e PromotedEarning) ([]Bonus, []BonusRefusal, error)
	// OrderGrants are the campaign points an order's earning got, and how much of
	// them refunds gave back so far.
	OrderGrants(ctx context.Context, tx pgx.Tx, memberID, orderID string) ([]OrderGrant, error)
	// GiveBack returns points a refund took back to the campaign's budget and the
	// member's cap, inside tx.
	GiveBack(ctx context.Context, tx pgx.Tx, memberID, orderID, campaignID string, points int64) error
}

// OrderGrant is what a campaign gave an order's earning.
type OrderGrant struct {
	CampaignID string
	Account    string
	Points     int64
	Returned   int64
}

// PromotedEarning is what campaigns judge an earning by.
type PromotedEarning struct {
	MemberID   string
	TierID     string
	JoinTime   time.Time
	OrderID    string
	SpendMinor int64
	Currency   string
	// BasePoints are the points at the program's rate (multipliers scale these).
	BasePoints int64
	Now        time.Time
}

// Bonus is what a campaign adds to an earning, funded by its ledger account.
type Bonus struct {
	CampaignID  string
	Account     string
	Points      int64
	Description string
}

// BonusRefusal is a campaign the earning qualified for that gave nothing, and why
// (BUDGET_EXHAUSTED, MEMBER_CAP_REACHED, CAMPAIGN_NOT_ACTIVE, or RULE_ERROR when
// its eligibility rule failed at run time, with RuleError its error).
type BonusRefusal struct {
	CampaignID string
	Reason     string
	RuleError  string
}

// campaignAccountPrefix starts the ledger account of a campaign's budget.
const campaignAccountPrefix = "system:campaign:"

// CampaignAccount is the ledger account that funds a campaign's points.
func CampaignAccount(campaignID string) string { return campaignAccountPrefix + campaignID }

// WithPromotions sets the campaigns earnings apply.
func WithPromotions(p Promotions) Option { return func(s *Service) { s.promotions = p } }

// SetPromotions sets the campaigns earnings apply, once the campaigns (which use
// the ledger) exist.
func (s *Service) SetPromotions(p Promotions) { s.promotions = p }

// CampaignCredit credits a member points from a campaign's budget outside an
// earning (an after-sales compensation).
type CampaignCredit struct {
	MemberID   string
	RequestID  string // callers derive it from their own request, with a '#'
	CampaignID string
	Points     int64
	OrderID    string
	Memo       string
}

// CreditCampaignTx posts a CAMPAIGN entry in the caller's transaction, so that the
// campaign's budget and the points commit together. The points open a lot like any
// credit, and count towards the tiers if the policy counts CAMPAIGN points.
func (s *Service) CreditCampaignTx(ctx context.Context, tx pgx.Tx, actor Actor, c CampaignCredit) (Entry, error) {
	expire, err := s.lotExpiry(ctx, tx)
	if err != nil {
		return Entry{}, err
	}
	policy, err := s.tiers.PolicyOn(ctx, tx)
	if err != nil {
		return Entry{}, err
	}
	p := plan{
		memberID: c.MemberID, kind: KindCampaign, requestID: c.RequestID,
		fingerprint: fingerprint("campaign", c),
		postings:    []Posting{{AccountAvailable, c.Points}, {CampaignAccount(c.CampaignID), -c.Points}},
		orderID:     c.OrderID, memo: c.Memo, actorKeyID: actor.KeyID, lotExpire: expire,
	}
	if policy.Counts(tiers.SourceCampaign) {
		p.qualify = qualification(policy, s.clock.Now(), c.Points, 0)
	}
	e, err := s.append(ctx, tx, p)
	if errors.Is(err, errNotApplied) {
		return Entry{}, ErrMemberNotFound.With("member %q not found", c.MemberID)
	}
	return e, err
}
