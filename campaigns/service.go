package campaigns

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/audit"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/idempotency"
	"github.com/loyalty-engine/loyalty/internal/nullable"
	"github.com/loyalty-engine/loyalty/internal/pagetoken"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

// Errors of campaigns.
var (
	ErrCampaignNotFound = problem.New(problem.NotFound, "CAMPAIGN_NOT_FOUND", "campaign not found")
	ErrBadTransition    = problem.New(problem.Precondition, "CAMPAIGN_STATUS", "the campaign cannot go to that status from the one it is in")
	// ErrIdempotencyConflict is the module's one idempotency refusal, named here
	// for callers of the campaigns.
	ErrIdempotencyConflict = idempotency.ErrConflict
)

// Service runs campaigns, coupons and after-sales compensation on top of the ledger
// (which credits points from campaign accounts) and the tiers (eligibility).
type Service struct {
	pool *pgxpool.Pool
	// tx runs the transactions, again after a deadlock or serialization failure.
	tx     database.Runner
	q      *campaignsdb.Queries
	ledger *ledger.Service
	tiers  *tiers.Service
	clock  ledger.Clock
	log    *slog.Logger
	// ruleErrors counts rules that failed at run time, by campaign.
	ruleErrors *prometheus.CounterVec
	// allowanceOn is 1 while the coupon allowance issues (configured with a
	// campaign that can), 0 while it is off; allowanceCoupons counts its coupons.
	allowanceOn      prometheus.Gauge
	allowanceCoupons prometheus.Counter

	running    runningCache
	actTypes   activityTypeCache
	pageTokens *pagetoken.Codec
}

// Option configures the campaigns.
type Option func(*Service)

// WithLogger sets where the campaigns report what goes wrong without failing a
// call (a rule that fails at run time); without it nothing is logged.
func WithLogger(log *slog.Logger) Option { return func(s *Service) { s.log = log } }

// WithPageTokens sets the key of the campaign and coupon lists' page tokens. It must
// be the same on every replica and outlive restarts; without it tokens are good only
// within this process.
func WithPageTokens(c *pagetoken.Codec) Option { return func(s *Service) { s.pageTokens = c } }

// NewService returns the campaigns on the ledger l and the tiers t (the same tiers
// the ledger applies). It changes neither: the ledger applies the campaigns to
// earnings only once the wiring calls l.SetPromotions with them.
func NewService(pool *pgxpool.Pool, l *ledger.Service, t *tiers.Service, clock ledger.Clock, opts ...Option) *Service {
	if l == nil || t == nil {
		panic("campaigns.NewService: the ledger and the tiers services are required")
	}
	if clock == nil {
		clock = ledger.WallClock
	}
	s := &Service{pool: pool, tx: database.NewRunner("campaigns"), q: campaignsdb.New(), ledger: l, tiers: t, clock: clock, pageTokens: pagetoken.Ephemeral(),
		log: slog.New(slog.DiscardHandler),
		ruleErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyalty_campaign_rule_errors_total",
			Help: "Campaign eligibility rules that failed at run time (the campaign did not apply), by campaign.",
		}, []string{"campaign"}),
		allowanceOn: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loyalty_coupon_allowance_on",
			Help: "1 while the monthly coupon allowance issues coupons, 0 while it is off (no campaign configured, or the campaign is not active), as of the job's last run.",
		}),
		allowanceCoupons: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loyalty_coupon_allowance_coupons_total",
			Help: "Coupons issued by the monthly coupon allowance job.",
		}),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Collectors are the campaigns' metrics, for the server's registry.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.ruleErrors, s.allowanceOn, s.allowanceCoupons}
}

// eligible is Campaign.Eligible for a real grant (not a dry run): a rule that
// fails at run time is counted and logged, and its error answered so that the
// caller reports RULE_ERROR.
func (s *Service) eligible(ctx context.Context, c Campaign, f Facts) (bool, *RuleError) {
	ok, err := c.Eligible(f)
	if err == nil {
		return ok, nil
	}
	re, isRule := errors.AsType[*RuleError](err)
	if !isRule {
		re = &RuleError{Err: err}
	}
	s.ruleErrors.WithLabelValues(c.ID).Inc()
	s.log.WarnContext(ctx, "campaign rule failed at run time; the campaign did not apply",
		slog.String("campaignId", c.ID), slog.String("memberId", f.Member.MemberID), slog.String("orderId", f.Order.OrderID),
		slog.String("rule", c.Eligibility.Rule), slog.String("error", re.Err.Error()))
	return false, re
}

// Create is a campaign to create, in DRAFT. RequestID makes the call idempotent
// (a new one is drawn when empty).
type Create struct {
	RequestID string `json:"requestId" validate:"omitempty,requestid"`
	Definition
}

// Create saves a campaign in DRAFT after checking everything about it: fields, the
// schedule's time zone and order, the type's body, and the eligibility rule, which
// is compiled and type-checked now.
func (s *Service) Create(ctx context.Context, actorKeyID string, cmd Create) (Campaign, error) {
	policy, err := s.tiers.Policy(ctx)
	if err != nil {
		return Campaign{}, err
	}
	start, end, _, err := cmd.Definition.compile(func(id string) bool { return policy.Index(id) >= 0 })
	if err != nil {
		return Campaign{}, err
	}
	if err := s.unknownActivityTypes(ctx, cmd.Definition); err != nil {
		return Campaign{}, err
	}
	if cmd.RequestID != "" {
		if err := validation.Struct(cmd); err != nil {
			return Campaign{}, err
		}
	} else {
		cmd.RequestID = "auto-" + rand.Text()
	}
	body, err := json.Marshal(cmd.Definition)
	if err != nil {
		return Campaign{}, fmt.Errorf("encode campaign: %w", err)
	}
	d := cmd.Definition
	id := "cmp_" + rand.Text()[:16]
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := s.q.InsertCampaign(ctx, tx, campaignsdb.InsertCampaignParams{
			CampaignID: id, DisplayName: d.DisplayName, Type: d.Type,
			StartLocal: d.Schedule.StartTime, EndLocal: d.Schedule.EndTime, TimeZone: d.Schedule.TimeZone,
			StartTime: nullable.Of(start), EndTime: nullable.Of(end), EligibleTiers: nonNil(d.Eligibility.Tiers),
			Rule: d.Eligibility.Rule, Body: body, BudgetPoints: nullable.Of(d.Budget.Points), BudgetCoupons: nullable.Of(d.Budget.Coupons),
			CapPoints: nullable.Of(d.PerMemberCap.Points), CapCoupons: nullable.Of(d.PerMemberCap.Coupons),
			RequestID: cmd.RequestID, ActorKeyID: actorKeyID, Now: s.clock.Now(),
		}); err != nil {
			return err
		}
		return s.q.InsertBudgetSlices(ctx, tx, campaignsdb.InsertBudgetSlicesParams{
			CampaignID: id, Slices: budgetSlices,
			BoundedPoints: d.Budget.Points > 0, BudgetPoints: split(d.Budget.Points, budgetSlices),
			BoundedCoupons: d.Budget.Coupons > 0, BudgetCoupons: split(d.Budget.Coupons, budgetSlices),
		})
	})
	if database.IsUniqueViolation(err, "campaigns_request_id_key") {
		stored, err := s.q.CampaignByRequest(ctx, s.pool, cmd.RequestID)
		if err != nil {
			return Campaign{}, fmt.Errorf("campaign of request %q: %w", cmd.RequestID, err)
		}
		c, err := toCampaign(stored.Campaign, stored.SpentPoints, stored.IssuedCoupons, stored.Grants)
		if err != nil {
			return Campaign{}, err
		}
		if err := idempotency.Checkf(definitionJSON(c.Definition), definitionJSON(cmd.Definition),
			"requestId %q already created campaign %s with another definition", cmd.RequestID, c.ID); err != nil {
			return Campaign{}, err
		}
		return c, nil
	}
	if err != nil {
		return Campaign{}, fmt.Errorf("create campaign: %w", err)
	}
	return s.Get(ctx, id)
}

// budgetSlices is how many rows a campaign's budget is split into: grants of one
// campaign lock one slice each, so this many can commit at once.
const budgetSlices = 16

// split divides a budget into n parts that add up to it, the first ones one larger.
func split(budget int64, n int) []int64 {
	parts := make([]int64, n)
	for i := range parts {
		parts[i] = budget / int64(n)
		if int64(i) < budget%int64(n) {
			parts[i]++
		}
	}
	return parts
}

// definitionJSON is a definition in the one form two of them compare in: the stored
// body is jsonb, whose text is PostgreSQL's, so both sides are decoded first.
func definitionJSON(d Definition) []byte {
	b, _ := json.Marshal(d) // a Definition is plain data
	return b
}

// Get returns a campaign.
func (s *Service) Get(ctx context.Context, id string) (Campaign, error) {
	row, err := s.q.GetCampaign(ctx, s.pool, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Campaign{}, ErrCampaignNotFound.With("campaign %q not found", id)
	}
	if err != nil {
		return Campaign{}, fmt.Errorf("campaign %q: %w", id, err)
	}
	return toCampaign(row.Campaign, row.SpentPoints, row.IssuedCoupons, row.Grants)
}

// ListQuery pages through campaigns, newest first, optionally of one status (as it
// is now).
type ListQuery struct {
	Status    string `json:"status" validate:"omitempty,oneof=DRAFT SCHEDULED ACTIVE PAUSED ENDED"`
	PageSize  int32  `json:"pageSize" validate:"gte=0,lte=500"`
	PageToken string `json:"pageToken" validate:"max=100"`
}

// List lists campaigns; the next page token is empty on the last page.
func (s *Service) List(ctx context.Context, q ListQuery) ([]Campaign, string, error) {
	if err := validation.Struct(q); err != nil {
		return nil, "", err
	}
	if q.PageSize == 0 {
		q.PageSize = 50
	}
	page := pagetoken.For("campaigns", q.Status)
	before := int64(math.MaxInt64)
	if q.PageToken != "" {
		id, err := s.pageTokens.DecodeID(page, q.PageToken)
		if err != nil {
			return nil, "", err
		}
		before = id
	}
	rows, err := s.q.ListCampaigns(ctx, s.pool, campaignsdb.ListCampaignsParams{
		BeforeSeq: before, Status: q.Status, Now: s.clock.Now(), PageSize: q.PageSize + 1,
	})
	if err != nil {
		return nil, "", fmt.Errorf("list campaigns: %w", err)
	}
	var next string
	if len(rows) > int(q.PageSize) {
		rows = rows[:q.PageSize]
		next = s.pageTokens.EncodeID(page, rows[len(rows)-1].Campaign.Seq)
	}
	out := make([]Campaign, 0, len(rows))
	for _, r := range rows {
		c, err := toCampaign(r.Campaign, r.SpentPoints, r.IssuedCoupons, r.Grants)
		if err != nil {
			return nil, "", err
		}
		out = append(out, c)
	}
	return out, next, nil
}

// Activate starts a DRAFT or PAUSED campaign: it applies from its start (at once
// without one) until its end. Activating an active campaign answers it as it is.
func (s *Service) Activate(ctx context.Context, id string) (Campaign, error) {
	return s.transition(ctx, id, StatusScheduled, StatusDraft, StatusPaused)
}

// Pause stops a campaign from applying until it is activated again.
func (s *Service) Pause(ctx context.Context, id string) (Campaign, error) {
	return s.transition(ctx, id, StatusPaused, StatusScheduled, StatusActive)
}

// End ends a campaign for good.
func (s *Service) End(ctx context.Context, id string) (Campaign, error) {
	return s.transition(ctx, id, StatusEnded, StatusDraft, StatusScheduled, StatusActive, StatusPaused)
}

// transition moves a campaign to status (SCHEDULED stands for "activated": the
// schedule decides whether it is active yet) from one of from.
func (s *Service) transition(ctx context.Context, id, status string, from ...string) (Campaign, error) {
	now := s.clock.Now()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		row, err := s.q.SetCampaignStatus(ctx, tx, campaignsdb.SetCampaignStatusParams{
			CampaignID: id, Status: status, FromStatuses: from, Now: now,
		})
		if err != nil {
			return err
		}
		start, end := nullable.Value(row.StartTime), nullable.Value(row.EndTime)
		before := Campaign{Status: row.FromStatus, Start: start, End: end}.EffectiveStatus(now)
		after := Campaign{Status: status, Start: start, End: end}.EffectiveStatus(now)
		if before == after {
			return nil
		}
		return events.AppendTx(ctx, tx, statusEvent(id, before, after, now))
	})
	if errors.Is(err, pgx.ErrNoRows) {
		c, err := s.Get(ctx, id)
		if err != nil {
			return Campaign{}, err
		}
		effective := c.EffectiveStatus(now)
		if effective == status || (status == StatusScheduled && effective == StatusActive) {
			return c, nil // already there: a repeat
		}
		return Campaign{}, ErrBadTransition.With("campaign %s is %s", id, effective)
	}
	if err != nil {
		return Campaign{}, fmt.Errorf("campaign %s to %s: %w", id, status, err)
	}
	s.running.invalidate()
	return s.Get(ctx, id)
}

// AdvanceSchedules writes down the schedule's transitions (SCHEDULED → ACTIVE at
// the start, → ENDED at the end); grants already follow the instants, this keeps the
// stored status and the lists in step. A campaign's status events tell its
// effective status: a move an activation already told (it came after the start)
// writes none, one the schedule made writes its event at the instant it happened.
// It answers how many campaigns moved.
func (s *Service) AdvanceSchedules(ctx context.Context) (int64, error) {
	now := s.clock.Now()
	var moved int64
	err := s.tx.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		started, err := s.q.StartDueCampaigns(ctx, tx, now)
		if err != nil {
			return fmt.Errorf("start campaigns: %w", err)
		}
		ended, err := s.q.EndDueCampaigns(ctx, tx, now)
		if err != nil {
			return fmt.Errorf("end campaigns: %w", err)
		}
		var evs []events.Event
		for _, r := range started {
			if at := nullable.Value(r.StartTime); at.After(r.MovedTime) {
				evs = append(evs, statusEvent(r.CampaignID, StatusScheduled, StatusActive, at))
			}
		}
		for _, r := range ended {
			if at := nullable.Value(r.EndTime); at.After(r.MovedTime) {
				before := Campaign{Status: r.FromStatus, Start: nullable.Value(r.StartTime)}.EffectiveStatus(at.Add(-time.Nanosecond))
				evs = append(evs, statusEvent(r.CampaignID, before, StatusEnded, at))
			}
		}
		moved = int64(len(started) + len(ended))
		return events.AppendTx(ctx, tx, evs...)
	})
	if moved > 0 && err == nil {
		s.running.invalidate()
	}
	return moved, err
}

// statusEvent is the campaign.status_changed event of a move of the campaign's
// effective status.
func statusEvent(id, from, to string, at time.Time) events.Event {
	return events.Event{Type: events.CampaignStatusChanged, OccurTime: at,
		Data: events.CampaignData{CampaignID: id, FromStatus: from, Status: to}}
}

// runningCache keeps the campaigns that apply now or will by their schedule, for
// a second: every earning from spend asks for them.
type runningCache struct {
	mu        sync.Mutex
	campaigns []Campaign
	readAt    time.Time
}

const runningTTL = time.Second

func (c *runningCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readAt = time.Time{}
}

// runningAt returns the campaigns in force at now (by status and schedule), read at
// most once per runningTTL. Budgets, caps and pauses are checked again under lock
// when granting, so a stale cache can only make an earning look, not grant.
func (s *Service) runningAt(ctx context.Context, now time.Time) ([]Campaign, error) {
	s.running.mu.Lock()
	defer s.running.mu.Unlock()
	if s.running.readAt.IsZero() || time.Since(s.running.readAt) >= runningTTL {
		rows, err := s.q.RunningCampaigns(ctx, s.pool, &now)
		if err != nil {
			return nil, fmt.Errorf("running campaigns: %w", err)
		}
		list := make([]Campaign, 0, len(rows))
		for _, r := range rows {
			c, err := toCampaign(r, 0, 0, 0)
			if err != nil {
				return nil, err
			}
			list = append(list, c)
		}
		s.running.campaigns, s.running.readAt = list, time.Now()
	}
	var out []Campaign
	for _, c := range s.running.campaigns {
		if c.ActiveAt(now) {
			out = append(out, c)
		}
	}
	return out, nil
}

// toCampaign is a stored campaign with its counters (summed over its budget slices).
func toCampaign(r campaignsdb.Campaign, spentPoints, issuedCoupons, grants int64) (Campaign, error) {
	var d Definition
	if err := json.Unmarshal(r.Body, &d); err != nil {
		return Campaign{}, fmt.Errorf("decode campaign %s: %w", r.CampaignID, err)
	}
	rule, err := loadRule(d.Eligibility.Rule)
	if err != nil {
		return Campaign{}, fmt.Errorf("rule of campaign %s: %w", r.CampaignID, err)
	}
	return Campaign{ID: r.CampaignID, Definition: d, Status: r.Status, Start: nullable.Value(r.StartTime), End: nullable.Value(r.EndTime),
		SpentPoints: spentPoints, IssuedCoupons: issuedCoupons, Grants: grants,
		CreateTime: r.CreateTime, UpdateTime: r.UpdateTime, rule: rule}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// inTx runs fn in a transaction, again (a few times) when PostgreSQL aborted it for
// a deadlock or a serialization failure: grants that run dry in their own budget
// slice move on to others, and two of them may then wait for each other's slices.
//
// The record of the audited call in ctx, if any, is written last in the
// transaction, so it commits with the call's effect (audit.InTx).
func (s *Service) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return audit.RunInTx(ctx, s.tx, s.pool, fn)
}
