package ledger

import (
	"context"
	"errors"
	"time"

	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/database"
)

// Promotions are the campaigns an earning from spend may add points from. An
// earning's bonuses are decided in the ledger's write path, with the batch's other
// rules: the budgets and the member caps are locked and read with the batch's
// reads, taken from in memory by the campaigns' own rule (Budgets.Grant), and
// written with the batch's writes, so the entry that credits a campaign's points
// and the budget it spends commit together or not at all. A refund of the order is
// decided in the same way: what campaigns gave the order is read with the batch's
// reads, and the campaigns' shares go back to their budgets with its writes. The
// campaigns package implements it (the ledger knows nothing of campaigns).
type Promotions interface {
	// PointsCampaignsAt lists, from caches, the points campaigns that may add to
	// an earning at now (none: the earning asks no campaign).
	PointsCampaignsAt(ctx context.Context, now time.Time) ([]string, error)
	// QueueBudgets queues on pipe, among the batch's reads and after its member
	// locks, the locks and reads of what the campaigns can still give the members
	// (from the lane's budget slices) and of the outcomes recorded for the
	// batch's compensation and activity claims; read returns them once the
	// pipeline has been sent.
	QueueBudgets(ctx context.Context, pipe *database.Pipeline, campaignIDs, memberIDs []string, lane BudgetLane, claims Claims) (read func() (Budgets, error))
	// QueueOrderGrants queues on pipe, among the batch's reads and after its
	// member locks, the read of the campaign points the orders' earnings got
	// (order i is memberIDs[i]'s orderIDs[i]) and of how much of them refunds gave
	// back so far; read returns them once the pipeline has been sent.
	QueueOrderGrants(ctx context.Context, pipe *database.Pipeline, memberIDs, orderIDs []string) (read func() ([]OrderGrant, error))
	// OrderCampaigns lists the campaigns that gave points to the member's order's
	// earning (read before a refund's batch, which then locks their budgets: the
	// list is fixed once the order earned).
	OrderCampaigns(ctx context.Context, memberID, orderID string) ([]string, error)
	// QueueGrantsReturned queues on pipe, among the batch's writes, what refunds
	// gave back counted as returned on the orders' grants (relative updates); the
	// points themselves went back to the budgets in memory (Budgets.GiveBack).
	QueueGrantsReturned(ctx context.Context, pipe *database.Pipeline, backs []CampaignGiveBack)
}

// Budgets are campaigns' budgets and members' caps as a batch read them, under lock.
type Budgets interface {
	// Grant decides the bonuses of one earning, in memory: the campaigns it
	// qualifies for, each bonus within what the budget and the member's cap leave.
	// It is ErrBudgetsIncomplete when the lane's slices cannot tell.
	Grant(ctx context.Context, e PromotedEarning) ([]Bonus, []BonusRefusal, error)
	// TakePoints takes a bulk credit's points for the member from the campaign's
	// budget, in memory: what the budget and the member's cap leave of points (all
	// of it, or the rest of the budget), or a refusal (BUDGET_EXHAUSTED,
	// MEMBER_CAP_REACHED, CAMPAIGN_NOT_ACTIVE). It is ErrBudgetsIncomplete when
	// the slices read cannot tell.
	TakePoints(campaignID, memberID string, points int64, now time.Time) (got int64, refusal string, err error)
	// Holds tells whether the batch read, under lock, the campaign's budget and
	// the member's use of it: a refund gives back only to what it holds.
	Holds(memberID, campaignID string) bool
	// GiveBack gives a refund's campaign points back, in memory, to the budget
	// and the member's use of it (Holds must be true); QueueWrites writes them, and
	// a later earning of the batch sees them.
	GiveBack(memberID, campaignID string, points int64)
	// Compensate decides a compensation claim in memory: a repeat's first answer,
	// or what each campaign covering the event gives the member within its budget
	// and cap (CAMPAIGN credits, coupons). It is ErrBudgetsIncomplete when the
	// slices read cannot tell; a later claim of the batch sees this one's takes.
	Compensate(ctx context.Context, c CompensationClaim, m CompensatedMember) (CompensationDecision, error)
	// Compensated records a decision whose credits were posted (entries[i] for
	// Credits[i]): its outcome and coupons join QueueWrites, a later claim of the
	// same order and type or request id in the batch finds it, and it returns
	// the claim's answer and the events of what it granted.
	Compensated(d CompensationDecision, entries []Entry) (answer any, evs []events.Event)
	// Reward decides an activity claim in memory, as Compensate does: a repeat's
	// first answer (the same request id, or the same type and key), or what each
	// campaign covering the type gives within its caps, budget and member cap.
	Reward(ctx context.Context, c ActivityClaim, m CompensatedMember) (CompensationDecision, error)
	// Rewarded records an activity (with the entries posted for its credits, if
	// any) and returns its answer and events, as Compensated does.
	Rewarded(d CompensationDecision, entries []Entry) (answer any, evs []events.Event)
	// Refer decides a referral claim in memory: a settled referral's answer, or
	// what the first REFERRAL campaign that pays it gives each side (both within
	// the budget and caps, or neither), or why none pays.
	Refer(ctx context.Context, c ReferralClaim, m CompensatedMember) (CompensationDecision, error)
	// Referred settles a referral (with the entries posted for its credits, if
	// any) and returns its answer and events, as Compensated does.
	Referred(d CompensationDecision, entries []Entry) (answer any, evs []events.Event)
	// Events are the events of what the takes did to the budgets (a budget that
	// ran out), written with the batch's.
	Events() []events.Event
	// QueueWrites queues on pipe the writes of what the grants took, the
	// give-backs returned and the compensations recorded.
	QueueWrites(ctx context.Context, pipe *database.Pipeline)
}

// BudgetLane is the share of every campaign's budget slices a batch locks: the
// group committer gives each of its flushers a lane of its own (slices whose number
// modulo Lanes is Lane), so batches in flight at once never wait for each other on
// a campaign's budget, however many members they share a slice with. A lane whose
// slices cannot answer a grant (they run dry before the budget does) makes the
// batch ErrBudgetsIncomplete, and the batch runs again with every slice: budgets
// stay exact either way. The zero value, AllSlices, locks every slice.
type BudgetLane struct{ Lane, Lanes int }

// AllSlices is the lane of every slice.
var AllSlices = BudgetLane{}

// ErrBudgetsIncomplete: a batch's lane of budget slices could not answer one of its
// grants; the batch is thrown away and runs again with every slice.
var ErrBudgetsIncomplete = errors.New("the lane's budget slices cannot answer the grant")

// OrderGrant is what a campaign gave an order's earning.
type OrderGrant struct {
	MemberID   string
	OrderID    string
	CampaignID string
	Account    string
	Points     int64
	Returned   int64
}

// CampaignGiveBack is what a refund gives back to a campaign, taken back from a
// member's order.
type CampaignGiveBack struct {
	MemberID   string
	OrderID    string
	CampaignID string
	Points     int64
}

// PromotedEarning is what campaigns judge an earning by.
type PromotedEarning struct {
	MemberID string
	TierID   string
	JoinTime time.Time
	// Profile is the member's profile (decoded when called: most campaigns'
	// rules never read it).
	Profile    func() Profile
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

// SetPromotions sets the campaigns earnings apply. It is the one link set after
// construction: the campaigns are built on the ledger, so the ledger cannot be given
// them when it is built. Only the wiring (internal/app) and tests call it, before
// the ledger serves anything (it is not synchronised with earnings in flight);
// internal/archtest checks that. Until it is called earnings ask no campaign.
func (s *Service) SetPromotions(p Promotions) { s.promotions = p }

// CampaignCredit is a CAMPAIGN entry a compensation decision credits: points from
// a campaign's budget outside an earning.
type CampaignCredit struct {
	MemberID   string
	RequestID  string // the campaigns derive it from the claim's, with a '#'
	CampaignID string
	Points     int64
	OrderID    string
	Memo       string
}
