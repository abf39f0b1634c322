package campaigns

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/idempotency"
	"github.com/loyalty-engine/loyalty/internal/nullable"
	"github.com/loyalty-engine/loyalty/internal/pagetoken"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/ledger"
)

// Referral statuses: PENDING until the referred member's first order leaves its
// return window, then settled once: PAID (both sides), VOID (the first order was
// refunded in full inside its window), or why no campaign paid.
const (
	ReferralPending         = "PENDING"
	ReferralPaid            = "PAID"
	ReferralVoid            = "VOID"
	ReferralCapped          = "CAPPED"
	ReferralNoCampaign      = "NO_CAMPAIGN"
	ReferralNotEligible     = "NOT_ELIGIBLE"
	ReferralBudgetExhausted = "BUDGET_EXHAUSTED"
)

// RecordReferralCmd says that MemberID referred ReferredMemberID.
type RecordReferralCmd struct {
	RequestID        string `json:"requestId" validate:"required,requestid"`
	MemberID         string `json:"memberId" validate:"required,shopid"`
	ReferredMemberID string `json:"referredMemberId" validate:"required,shopid"`
}

// Referral is a referral and where it stands.
type Referral struct {
	ReferrerMemberID string    `json:"referrerMemberId"`
	ReferredMemberID string    `json:"referredMemberId"`
	RequestID        string    `json:"requestId"`
	Status           string    `json:"status"`
	CampaignID       string    `json:"campaignId"`
	ReferrerPoints   int64     `json:"referrerPoints"`
	ReferredPoints   int64     `json:"referredPoints"`
	ReferrerEntryID  int64     `json:"referrerEntryId"`
	ReferredEntryID  int64     `json:"referredEntryId"`
	CreateTime       time.Time `json:"createTime"`
	SettleTime       time.Time `json:"settleTime"`
	Replayed         bool      `json:"-"`
}

// Referral errors. A second referral of a member clashes with the first (409);
// one after the first order is refused by the state (FAILED_PRECONDITION).
var (
	ErrAlreadyReferred = problem.New(problem.Conflict, "ALREADY_REFERRED", "the member was referred already")
	ErrAlreadyOrdered  = problem.New(problem.Precondition, "ALREADY_ORDERED", "the member ordered already")
)

// selfReferralRefusal is the rule that nobody refers themselves.
func selfReferralRefusal(referrerID, referredID string) error {
	if referrerID == referredID {
		return problem.InvalidField("referredMemberId", "a member cannot refer themselves")
	}
	return nil
}

// recordedReferralAnswer is the rule of a referral recorded before for the
// referred member: the same referrer's same request is answered again, anything
// else (another referrer, or another request of the same one) is refused.
func recordedReferralAnswer(existing campaignsdb.Referral, cmd RecordReferralCmd) (replay bool, err error) {
	if existing.ReferrerMemberID == cmd.MemberID && existing.RequestID == cmd.RequestID {
		return true, nil
	}
	return false, ErrAlreadyReferred.With("member %q was referred already (once per referred member)", cmd.ReferredMemberID).
		WithField("referredMemberId", "was referred already")
}

// orderedRefusal is the rule that a member is referred before their first order:
// one who earned on an order is refused.
func orderedRefusal(referredID string, hasOrderEarning bool) error {
	if hasOrderEarning {
		return ErrAlreadyOrdered.With("member %q ordered already: a referral is recorded before the first order", referredID).
			WithField("referredMemberId", "ordered already")
	}
	return nil
}

// RecordReferral records that cmd.MemberID referred cmd.ReferredMemberID, once per
// referred member (selfReferralRefusal, recordedReferralAnswer, orderedRefusal).
// It locks both members' balance rows in member order, as the ledger's batches
// do: the referred member's first earning waits for it (or it sees the earning),
// and fifty racing copies of one request wait for each other and all but the
// first find its record.
func (s *Service) RecordReferral(ctx context.Context, actor ledger.Actor, cmd RecordReferralCmd) (Referral, error) {
	if err := validation.Struct(cmd); err != nil {
		return Referral{}, err
	}
	if err := selfReferralRefusal(cmd.MemberID, cmd.ReferredMemberID); err != nil {
		return Referral{}, err
	}
	fp := idempotency.Fingerprint("referral", cmd)
	var out Referral
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		locked, err := s.q.LockReferralMembers(ctx, tx, []string{cmd.MemberID, cmd.ReferredMemberID})
		if err != nil {
			return err
		}
		for _, m := range []struct{ id, field string }{{cmd.MemberID, "memberId"}, {cmd.ReferredMemberID, "referredMemberId"}} {
			if !slices.Contains(locked, m.id) {
				return ledger.ErrMemberNotFound.With("member %q not found", m.id).WithField(m.field, "no such member")
			}
		}
		if r, err := s.q.ReferralByRequest(ctx, tx, campaignsdb.ReferralByRequestParams{ReferrerMemberID: cmd.MemberID, RequestID: cmd.RequestID}); err == nil {
			if err := idempotency.Checkf(r.Fingerprint, fp, "requestId %q was already used for another referral", cmd.RequestID); err != nil {
				return err
			}
			out = toReferral(r)
			out.Replayed = true
			return nil
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if r, err := s.q.ReferralOf(ctx, tx, cmd.ReferredMemberID); err == nil {
			if _, err := recordedReferralAnswer(r, cmd); err != nil {
				return err
			}
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		ordered, err := s.q.HasOrderEarning(ctx, tx, cmd.ReferredMemberID)
		if err != nil {
			return err
		}
		if err := orderedRefusal(cmd.ReferredMemberID, ordered); err != nil {
			return err
		}
		r, err := s.q.InsertReferral(ctx, tx, campaignsdb.InsertReferralParams{ReferredMemberID: cmd.ReferredMemberID,
			ReferrerMemberID: cmd.MemberID, RequestID: cmd.RequestID, Fingerprint: fp, ActorKeyID: actor.KeyID, CreateTime: s.clock.Now()})
		if err != nil {
			return err
		}
		out = toReferral(r)
		return events.AppendTx(ctx, tx, events.Event{Type: events.ReferralRecorded, OccurTime: r.CreateTime, MemberID: cmd.MemberID,
			Data: referralData(out)})
	})
	if err != nil {
		if _, ok := problem.As(err); ok {
			return Referral{}, err
		}
		return Referral{}, fmt.Errorf("record referral: %w", err)
	}
	return out, nil
}

func toReferral(r campaignsdb.Referral) Referral {
	return Referral{ReferrerMemberID: r.ReferrerMemberID, ReferredMemberID: r.ReferredMemberID, RequestID: r.RequestID,
		Status: r.Status, CampaignID: r.CampaignID, ReferrerPoints: r.ReferrerPoints, ReferredPoints: r.ReferredPoints,
		ReferrerEntryID: nullable.Value(r.ReferrerEntryID), ReferredEntryID: nullable.Value(r.ReferredEntryID),
		CreateTime: r.CreateTime, SettleTime: nullable.Value(r.SettleTime)}
}

func referralData(r Referral) events.ReferralData {
	d := events.ReferralData{RequestID: r.RequestID, ReferrerMemberID: r.ReferrerMemberID, ReferredMemberID: r.ReferredMemberID,
		Status: r.Status, CampaignID: r.CampaignID, ReferrerPoints: r.ReferrerPoints, ReferredPoints: r.ReferredPoints}
	if r.ReferrerEntryID != 0 {
		d.ReferrerEntryID = fmt.Sprint(r.ReferrerEntryID)
	}
	if r.ReferredEntryID != 0 {
		d.ReferredEntryID = fmt.Sprint(r.ReferredEntryID)
	}
	return d
}

// ReferralQuery pages through a member's referrals.
type ReferralQuery = MemberPage

// Referrals lists whom a member referred, newest first, with each referral's status.
func (s *Service) Referrals(ctx context.Context, q ReferralQuery) ([]Referral, string, error) {
	q, err := q.checked()
	if err != nil {
		return nil, "", err
	}
	if _, err := s.q.MemberJoinTime(ctx, s.pool, q.MemberID); errors.Is(err, pgx.ErrNoRows) {
		return nil, "", ledger.ErrMemberNotFound.With("member %q not found", q.MemberID)
	} else if err != nil {
		return nil, "", fmt.Errorf("referrals of %q: %w", q.MemberID, err)
	}
	params := campaignsdb.ListReferralsParams{ReferrerMemberID: q.MemberID, MaxRows: q.PageSize + 1}
	page := pagetoken.For("referrals", q.MemberID)
	if q.PageToken != "" {
		pos, err := s.pageTokens.Decode(page, q.PageToken)
		if err != nil {
			return nil, "", err
		}
		// Only this server made it (the codec's tag), so it parses.
		at, member, ok := strings.Cut(pos, "_")
		t, err := time.Parse(time.RFC3339Nano, at)
		if !ok || err != nil || member == "" {
			return nil, "", pagetoken.ErrInvalid
		}
		params.BeforeTime, params.BeforeMemberID = &t, member
	}
	rows, err := s.q.ListReferrals(ctx, s.pool, params)
	if err != nil {
		return nil, "", fmt.Errorf("referrals of %q: %w", q.MemberID, err)
	}
	var next string
	if len(rows) > int(q.PageSize) {
		rows = rows[:q.PageSize]
		last := rows[len(rows)-1]
		next = s.pageTokens.Encode(page, last.CreateTime.UTC().Format(time.RFC3339Nano)+"_"+last.ReferredMemberID)
	}
	out := make([]Referral, len(rows))
	for i, r := range rows {
		out[i] = toReferral(r)
	}
	return out, next, nil
}

// PayReferrals settles up to limit referrals whose referred member's first order
// left its return window, and answers how many it settled (paid, voided, or
// refused by every campaign). A first order refunded in
// full inside its window voids its referral (nothing is paid); the others are
// claims of one ledger batch (ledger.PayReferrals), decided under both members'
// locks (Refer): racing runs pay each referral once, and a run that stops midway
// leaves the rest PENDING for the next.
func (s *Service) PayReferrals(ctx context.Context, limit int32) (settled int, err error) {
	now := s.clock.Now()
	due, err := s.q.DueReferrals(ctx, s.pool, limit)
	if err != nil {
		return 0, fmt.Errorf("find due referrals: %w", err)
	}
	if len(due) == 0 {
		return 0, nil
	}
	prog, err := s.ledger.Program(ctx)
	if err != nil {
		return 0, err
	}
	running, err := s.runningAt(ctx, now)
	if err != nil {
		return 0, err
	}
	var campaignIDs []string
	for _, c := range running {
		if c.Type == TypeReferral {
			campaignIDs = append(campaignIDs, c.ID)
		}
	}
	since, _ := monthOf(now, prog.Location())
	var claims []ledger.ReferralClaim
	for _, r := range due {
		first := nullable.Value(r.FirstEntryID)
		if r.Voided {
			if err := s.voidReferral(ctx, r.ReferredMemberID, r.ReferrerMemberID, first, now); err != nil {
				return settled, err
			}
			settled++
			continue
		}
		claims = append(claims, ledger.ReferralClaim{ReferrerID: r.ReferrerMemberID, ReferredID: r.ReferredMemberID,
			FirstEntryID: first, Location: prog.Location(), Since: since, Campaigns: campaignIDs})
	}
	answers, err := s.ledger.PayReferrals(ctx, claims)
	if err != nil {
		return settled, err
	}
	var refused error
	for i, a := range answers {
		if a.Err != nil {
			if refused == nil {
				refused = fmt.Errorf("referral of %s: %w", claims[i].ReferredID, a.Err)
			}
			continue
		}
		if r, ok := a.Answer.(Referral); ok && !r.Replayed {
			settled++
		}
	}
	return settled, refused
}

// voidReferral settles a referral whose first order was refunded inside its
// window as VOID (no points move: no batch needed), and tells it.
func (s *Service) voidReferral(ctx context.Context, referredID, referrerID string, firstEntryID int64, now time.Time) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		n, err := s.q.VoidReferral(ctx, tx, campaignsdb.VoidReferralParams{ReferredMemberID: referredID, FirstEntryID: &firstEntryID, Now: &now})
		if err != nil || n == 0 {
			return err // n == 0: another run settled it first
		}
		return events.AppendTx(ctx, tx, events.Event{Type: events.ReferralSettled, OccurTime: now, MemberID: referrerID,
			Data: events.ReferralData{ReferrerMemberID: referrerID, ReferredMemberID: referredID, Status: ReferralVoid}})
	})
}
