package campaigns

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
	"github.com/loyalty-engine/loyalty/internal/idempotency"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/ledger"
)

// Activity is something a member did besides ordering, reported by the shop's app.
type Activity struct {
	RequestID string `json:"requestId" validate:"required,requestid"`
	MemberID  string `json:"memberId" validate:"required,shopid"`
	Type      string `json:"type" validate:"required,max=32"`
	// Key is what the activity is about (the reviewed order line): the same type
	// and key earn once. Empty: each request is an activity of its own.
	Key        string            `json:"activityKey" validate:"omitempty,requestid"`
	OccurTime  time.Time         `json:"occurTime"`
	Attributes map[string]string `json:"attributes" validate:"max=10,dive,keys,required,max=32,endkeys,max=200"`
}

// ActivityGrant is what one campaign gave an activity.
type ActivityGrant struct {
	CampaignID string `json:"campaignId"`
	Points     int64  `json:"points"`
	EntryID    int64  `json:"entryId"`
}

// ActivityResult is the answer to an activity: what each campaign covering its type
// granted, or why not. Replayed: the activity was recorded before (its request id,
// or its type and key), and this is that answer.
type ActivityResult struct {
	MemberID  string          `json:"memberId"`
	Type      string          `json:"type"`
	Key       string          `json:"activityKey"`
	RequestID string          `json:"requestId"`
	Grants    []ActivityGrant `json:"grants"`
	Refusals  []Refusal       `json:"refusals"`
	Points    int64           `json:"points"`
	// Reason is NO_MATCHING_CAMPAIGN when no running campaign covers the type.
	Reason    string    `json:"reason,omitempty"`
	OccurTime time.Time `json:"occurTime"`
	Time      time.Time `json:"time"`
	Replayed  bool      `json:"-"`
}

// maxActivityAge is how long after the fact an activity may be reported: its
// occurrence decides the cap periods it counts in, so it cannot be back-dated
// into a period long closed.
const maxActivityAge = 7 * 24 * time.Hour

// RecordActivity records a member's activity once and grants the points of the
// running ACTIVITY_REWARD campaigns that cover its type (tiers and rule passed),
// each within its caps (activityCapRefusal), budget and per-member cap.
//
// It is a command of the ledger's group commit (ledger.ActivityClaim): the batch
// locks the member, the campaigns' budgets and the member's uses of them, and
// reads the activity recorded under its request id or its type and key, and the
// member's recent grants; the claim is decided in the apply step (budgets.Reward,
// activity_batch.go), and its entries, record and budgets commit with the batch.
// Fifty racing copies of one activity wait for each other on the member's row,
// and all but the first find its record.
func (s *Service) RecordActivity(ctx context.Context, actor ledger.Actor, a Activity) (ActivityResult, error) {
	if err := validation.Struct(a); err != nil {
		return ActivityResult{}, err
	}
	// The fingerprint is of the request as sent: a retry without occurTime is the
	// same request, whenever it comes.
	fp := a
	fp.OccurTime = fp.OccurTime.UTC()
	fingerprint := idempotency.Fingerprint("activity", fp)
	now := s.clock.Now()
	if a.OccurTime.IsZero() {
		a.OccurTime = now
	}
	switch {
	case a.OccurTime.After(now.Add(time.Minute)):
		return ActivityResult{}, problem.InvalidField("occurTime", "must not be in the future")
	case a.OccurTime.Before(now.Add(-maxActivityAge)):
		return ActivityResult{}, problem.InvalidField("occurTime", "must be at most 7 days ago")
	}
	known, err := s.activityTypes(ctx)
	if err != nil {
		return ActivityResult{}, err
	}
	if !slices.Contains(known, a.Type) {
		return ActivityResult{}, problem.InvalidField("type", fmt.Sprintf("%q is not an activity type (GET /v1/activityTypes)", a.Type))
	}
	prog, err := s.ledger.Program(ctx)
	if err != nil {
		return ActivityResult{}, err
	}
	running, err := s.runningAt(ctx, now)
	if err != nil {
		return ActivityResult{}, err
	}
	claim := ledger.ActivityClaim{
		MemberID: a.MemberID, RequestID: a.RequestID, Type: a.Type, Key: a.Key, OccurTime: a.OccurTime,
		Attributes: a.Attributes, Location: prog.Location(), Fingerprint: fingerprint, ActorKeyID: actor.KeyID,
	}
	for _, c := range running {
		if c.rewards(a.Type) {
			claim.Campaigns = append(claim.Campaigns, c.ID)
		}
	}
	answer, err := s.ledger.RecordActivity(ctx, actor, claim)
	if err != nil {
		return ActivityResult{}, err
	}
	out, ok := answer.(ActivityResult)
	if !ok {
		return ActivityResult{}, fmt.Errorf("activity %q: the batch answered %T", a.RequestID, answer)
	}
	return out, nil
}

// rewards tells whether an ACTIVITY_REWARD campaign covers the activity type.
func (c Campaign) rewards(activityType string) bool {
	return c.Type == TypeActivity && slices.Contains(c.Activity.ActivityTypes, activityType)
}

// ActivityType is a kind of activity the engine takes.
type ActivityType struct {
	Type        string `json:"type" validate:"required"`
	Description string `json:"description" validate:"max=200"`
}

var activityTypePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,31}$`)

// activityTypeCache keeps the activity types for a while: every activity checks its
// type, and types are only ever added.
type activityTypeCache struct {
	mu     sync.Mutex
	types  []string
	readAt time.Time
}

const activityTypesTTL = 5 * time.Second

// activityTypes are the activity types, from the cache.
func (s *Service) activityTypes(ctx context.Context) ([]string, error) {
	c := &s.actTypes
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readAt.IsZero() || time.Since(c.readAt) >= activityTypesTTL {
		rows, err := s.q.ListActivityTypes(ctx, s.pool)
		if err != nil {
			return nil, fmt.Errorf("activity types: %w", err)
		}
		c.types = c.types[:0]
		for _, r := range rows {
			c.types = append(c.types, r.ActivityType)
		}
		c.readAt = time.Now()
	}
	return slices.Clone(c.types), nil
}

// ActivityTypes lists the activity types.
func (s *Service) ActivityTypes(ctx context.Context) ([]ActivityType, error) {
	rows, err := s.q.ListActivityTypes(ctx, s.pool)
	if err != nil {
		return nil, fmt.Errorf("activity types: %w", err)
	}
	out := make([]ActivityType, 0, len(rows))
	for _, r := range rows {
		out = append(out, ActivityType{Type: r.ActivityType, Description: r.Description})
	}
	return out, nil
}

// CreateActivityType adds an activity type; one that exists is answered unchanged
// (created false).
func (s *Service) CreateActivityType(ctx context.Context, t ActivityType) (ActivityType, bool, error) {
	if err := validation.Struct(t); err != nil {
		return ActivityType{}, false, err
	}
	if !activityTypePattern.MatchString(t.Type) {
		return ActivityType{}, false, problem.InvalidField("type", "must be 1-32 characters of A-Z 0-9 _, starting with a letter")
	}
	var created bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		row, err := s.q.InsertActivityType(ctx, tx, campaignsdb.InsertActivityTypeParams{ActivityType: t.Type, Description: t.Description, Now: s.clock.Now()})
		if err == pgx.ErrNoRows {
			return nil
		}
		created, t = err == nil, ActivityType{Type: row.ActivityType, Description: row.Description}
		return err
	})
	if err != nil {
		return ActivityType{}, false, fmt.Errorf("create activity type: %w", err)
	}
	s.actTypes.mu.Lock()
	s.actTypes.readAt = time.Time{}
	s.actTypes.mu.Unlock()
	if !created {
		all, err := s.ActivityTypes(ctx)
		if err != nil {
			return ActivityType{}, false, err
		}
		for _, a := range all {
			if a.Type == t.Type {
				return a, false, nil
			}
		}
	}
	return t, created, nil
}

// unknownActivityTypes names the activity types of an ACTIVITY_REWARD definition
// that are not activity types (checked at save, as tiers are).
func (s *Service) unknownActivityTypes(ctx context.Context, d Definition) error {
	if d.Type != TypeActivity {
		return nil
	}
	known, err := s.activityTypes(ctx)
	if err != nil {
		return err
	}
	var v []problem.FieldViolation
	for i, t := range d.Activity.ActivityTypes {
		if !slices.Contains(known, t) {
			v = append(v, problem.FieldViolation{Field: fmt.Sprintf("activity.activityTypes[%d]", i), Description: "is not an activity type (GET /v1/activityTypes)"})
		}
	}
	if len(v) > 0 {
		return problem.InvalidFields(v...)
	}
	return nil
}
