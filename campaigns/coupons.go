package campaigns

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/campaigns/internal/campaignsdb"
	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/idempotency"
	"github.com/loyalty-engine/loyalty/internal/nullable"
	"github.com/loyalty-engine/loyalty/internal/pagetoken"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/ledger"
)

// Coupon statuses as answered (EXPIRED is an ISSUED coupon past its validity).
const (
	CouponIssued   = "ISSUED"
	CouponRedeemed = "REDEEMED"
	CouponRevoked  = "REVOKED"
	CouponExpired  = "EXPIRED"
)

// Errors of coupons.
var (
	ErrCouponNotFound   = problem.New(problem.NotFound, "COUPON_NOT_FOUND", "coupon not found")
	ErrCouponNotOwned   = problem.New(problem.Precondition, "COUPON_NOT_OWNED", "the coupon belongs to another member")
	ErrCouponRedeemed   = problem.New(problem.Precondition, "COUPON_ALREADY_REDEEMED", "the coupon was already redeemed")
	ErrCouponRevoked    = problem.New(problem.Precondition, "COUPON_REVOKED", "the coupon was revoked")
	ErrCouponExpired    = problem.New(problem.Precondition, "COUPON_EXPIRED", "the coupon has expired")
	ErrCouponMinSpend   = problem.New(problem.Precondition, "COUPON_MIN_SPEND_NOT_MET", "the order does not reach the coupon's minimum spend")
	ErrNotCouponDrop    = problem.New(problem.Precondition, "NOT_A_COUPON_DROP", "the campaign does not issue coupons on request")
	ErrNotEligible      = problem.New(problem.Precondition, "NOT_ELIGIBLE", "the member is not eligible for the campaign")
	ErrRuleFailed       = problem.New(problem.Precondition, RefusedRuleError, "the campaign's eligibility rule failed at run time")
	ErrBudgetExhausted  = problem.New(problem.Precondition, RefusedBudgetExhausted, "the campaign's budget is spent")
	ErrMemberCapReached = problem.New(problem.Precondition, RefusedMemberCap, "the member has had all the campaign allows")
	ErrCampaignInactive = problem.New(problem.Precondition, RefusedNotActive, "the campaign is not active")
)

// Coupon is a coupon issued to a member.
type Coupon struct {
	Code           string
	MemberID       string
	CampaignID     string
	Kind           string
	AmountOffMinor int64
	PercentOff     int32
	MinSpendMinor  int64
	// Status at the time of the answer: ISSUED, REDEEMED, REVOKED or EXPIRED.
	Status        string
	IssueTime     time.Time
	ValidUntil    time.Time
	RedeemTime    time.Time
	RedeemOrderID string
	// The after-sales event it compensates, if any.
	EventOrderID string
	EventType    string
}

// codeAlphabet is Crockford's base32: digits and letters without I, L, O, U, which
// are read out over the phone without confusion.
const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newCode draws a coupon code of 80 random bits from crypto/rand, as four groups of
// four characters: 7KQ2-M8XD-3FZR-9TWA.
func newCode() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(codeAlphabet[c&31]) // 5 bits of each byte: 80 bits in all
	}
	return sb.String()
}

// NormalizeCode reads a code as people type it: any case, with or without dashes
// or spaces, O for 0 and I or L for 1.
func NormalizeCode(code string) string {
	r := strings.NewReplacer("-", "", " ", "", "O", "0", "I", "1", "L", "1")
	c := r.Replace(strings.ToUpper(strings.TrimSpace(code)))
	// Only a code of 16 ASCII characters is grouped: cutting anything else every 4
	// bytes could split a multi-byte character into invalid UTF-8 (a fuzzing find).
	if len(c) != 16 || strings.IndexFunc(c, func(r rune) bool { return r > unicode.MaxASCII }) >= 0 {
		return c
	}
	return c[0:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:16]
}

// IssueCoupon asks for a coupon of a COUPON_DROP campaign for a member.
type IssueCoupon struct {
	MemberID   string `json:"memberId" validate:"required,shopid"`
	RequestID  string `json:"requestId" validate:"required,requestid"`
	CampaignID string `json:"campaignId" validate:"required,max=64"`
}

// IssueCoupon issues a coupon of a coupon drop to an eligible member, counted
// against the campaign's coupon budget and the member's cap under their locks, so
// racing issues never exceed them. A repeat of the request answers its coupon.
func (s *Service) IssueCoupon(ctx context.Context, cmd IssueCoupon) (Coupon, error) {
	if err := validation.Struct(cmd); err != nil {
		return Coupon{}, err
	}
	c, err := s.Get(ctx, cmd.CampaignID)
	if err != nil {
		return Coupon{}, err
	}
	if c.Type != TypeCouponDrop {
		return Coupon{}, ErrNotCouponDrop.With("campaign %s is a %s", c.ID, c.Type)
	}
	now := s.clock.Now()
	var out Coupon
	err = s.inLanes(ctx, cmd.MemberID, func(tx pgx.Tx, lane ledger.BudgetLane) error {
		if stored, found, err := s.storedCoupon(ctx, tx, cmd); found || err != nil {
			out = stored
			return err
		}
		facts, err := s.memberFacts(ctx, tx, cmd.MemberID, now)
		if err != nil {
			return err
		}
		ok, ruleErr := s.eligible(ctx, c, facts)
		if ruleErr != nil {
			return ErrRuleFailed.With("the eligibility rule of campaign %s failed for member %q, so no coupon was issued: %v",
				c.ID, cmd.MemberID, ruleErr.Err)
		}
		if !ok {
			return ErrNotEligible.With("member %q is not eligible for campaign %s", cmd.MemberID, c.ID)
		}
		out, err = s.issue(ctx, tx, lane, c, cmd.MemberID, cmd.RequestID, now, "", "")
		return err
	})
	if database.IsUniqueViolation(err, "coupons_member_id_request_id_key") {
		var found bool
		if out, found, err = s.storedCoupon(ctx, s.pool, cmd); !found && err == nil {
			err = fmt.Errorf("coupon request %q vanished", cmd.RequestID)
		}
	}
	return out, err
}

// issue takes one coupon from the campaign and the member's cap (take, on the
// budget and the use read under lock, written back in tx) and issues it.
func (s *Service) issue(ctx context.Context, tx pgx.Tx, lane ledger.BudgetLane, c Campaign, memberID, requestID string, now time.Time, eventOrder, eventType string) (Coupon, error) {
	b, err := s.lockBudgets(ctx, tx, []string{c.ID}, []string{memberID}, lane)
	if err != nil {
		return Coupon{}, fmt.Errorf("take a coupon from campaign %s: %w", c.ID, err)
	}
	got := b.take(c.ID, memberID, 0, 1, now)
	if got.incomplete {
		return Coupon{}, ledger.ErrBudgetsIncomplete
	}
	if err := refusalError(got.refusal, c.ID); err != nil {
		return Coupon{}, err
	}
	if err := s.writeBudgets(ctx, tx, b); err != nil {
		return Coupon{}, fmt.Errorf("take a coupon from campaign %s: %w", c.ID, err)
	}
	cp, err := s.insertCoupon(ctx, tx, c, memberID, requestID, now, eventOrder, eventType)
	if err != nil {
		return Coupon{}, err
	}
	return cp, events.AppendTx(ctx, tx, append([]events.Event{couponEvent(events.CouponIssued, cp, now)}, b.Events()...)...)
}

// couponEvent is a coupon.* event of the coupon.
func couponEvent(t events.Type, c Coupon, now time.Time) events.Event {
	order := c.EventOrderID
	if t == events.CouponRedeemed {
		order = c.RedeemOrderID
	}
	return events.Event{Type: t, OccurTime: now, MemberID: c.MemberID,
		Data: events.CouponData{CouponID: c.Code, CampaignID: c.CampaignID, Code: c.Code, OrderID: order}}
}

// insertCoupon issues the campaign's coupon to a member (its budget already taken).
func (s *Service) insertCoupon(ctx context.Context, tx pgx.Tx, c Campaign, memberID, requestID string, now time.Time, eventOrder, eventType string) (Coupon, error) {
	return s.insertCouponUntil(ctx, tx, c, memberID, requestID, now, now.AddDate(0, 0, int(c.Coupon.ValidDays)), eventOrder, eventType)
}

// insertCouponUntil is insertCoupon with the validity given instead of the
// template's validDays (the allowance's coupons end with the member's cycle).
func (s *Service) insertCouponUntil(ctx context.Context, tx pgx.Tx, c Campaign, memberID, requestID string, now, validUntil time.Time, eventOrder, eventType string) (Coupon, error) {
	t := c.Coupon
	row, err := s.q.InsertCoupon(ctx, tx, campaignsdb.InsertCouponParams{
		Code: newCode(), MemberID: memberID, CampaignID: c.ID, RequestID: requestID, Kind: t.Kind,
		AmountOffMinor: t.AmountOffMinor, PercentOff: t.PercentOff, MinSpendMinor: t.MinSpendMinor,
		IssueTime: now, ValidUntil: validUntil,
		EventOrderID: nullable.Of(eventOrder), EventType: nullable.Of(eventType),
	})
	if err != nil {
		return Coupon{}, fmt.Errorf("issue coupon: %w", err)
	}
	return toCoupon(row, now), nil
}

// refusalError is the error of a refused grant, or nil.
func refusalError(refusal, campaignID string) error {
	switch refusal {
	case "":
		return nil
	case RefusedBudgetExhausted:
		return ErrBudgetExhausted.With("campaign %s has no budget left", campaignID)
	case RefusedMemberCap:
		return ErrMemberCapReached.With("the member has had all campaign %s allows", campaignID)
	default:
		return ErrCampaignInactive.With("campaign %s is not active", campaignID)
	}
}

func (s *Service) storedCoupon(ctx context.Context, db campaignsdb.DBTX, cmd IssueCoupon) (Coupon, bool, error) {
	row, err := s.q.CouponByRequest(ctx, db, campaignsdb.CouponByRequestParams{MemberID: cmd.MemberID, RequestID: cmd.RequestID})
	if errors.Is(err, pgx.ErrNoRows) {
		return Coupon{}, false, nil
	}
	if err != nil {
		return Coupon{}, false, fmt.Errorf("coupon of request %q: %w", cmd.RequestID, err)
	}
	// A coupon request is identified by the campaign it asks a coupon of.
	if err := idempotency.Checkf([]byte(row.CampaignID), []byte(cmd.CampaignID),
		"requestId %q already issued a coupon of campaign %s", cmd.RequestID, row.CampaignID); err != nil {
		return Coupon{}, true, err
	}
	return toCoupon(row, s.clock.Now()), true, nil
}

// memberFacts are the rule inputs of a member outside an order.
func (s *Service) memberFacts(ctx context.Context, db campaignsdb.DBTX, memberID string, now time.Time) (Facts, error) {
	// Read on db, not the pool: called inside a transaction, a wait for a second
	// connection deadlocks once every pooled connection is such a transaction
	// (200 racing coupon issues did, whenever the policy cache went stale).
	policy, err := s.tiers.PolicyOn(ctx, db)
	if err != nil {
		return Facts{}, err
	}
	st, err := s.tiers.StandingAt(ctx, db, policy, memberID, now)
	if err != nil {
		return Facts{}, err
	}
	profile, err := s.ledger.ProfileOn(ctx, db, memberID)
	if err != nil {
		return Facts{}, err
	}
	f := Facts{Member: MemberFacts{TierID: st.TierID, MemberID: memberID, JoinTime: st.JoinTime}}
	profileFacts(&f.Member, profile)
	return f, nil
}

// RedeemCoupon redeems a member's coupon on an order.
type RedeemCoupon struct {
	Code      string `json:"code" validate:"required,max=32"`
	RequestID string `json:"requestId" validate:"required,requestid"`
	MemberID  string `json:"memberId" validate:"required,shopid"`
	OrderID   string `json:"orderId" validate:"required,shopid"`
	// SpendMinor, when given, is checked against the coupon's minimum spend.
	SpendMinor int64 `json:"spendMinor" validate:"gte=0,lte=10000000000000"`
}

// RedeemCoupon redeems a coupon exactly once, under its row lock: racing
// redemptions see one succeed and the others refused (a repeat of the successful
// request answers it again). Another member's coupon is refused.
func (s *Service) RedeemCoupon(ctx context.Context, cmd RedeemCoupon) (Coupon, error) {
	cmd.Code = NormalizeCode(cmd.Code)
	if err := validation.Struct(cmd); err != nil {
		return Coupon{}, err
	}
	now := s.clock.Now()
	var out Coupon
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		row, err := s.q.LockCoupon(ctx, tx, cmd.Code)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrCouponNotFound.With("no coupon %s", cmd.Code)
		}
		if err != nil {
			return fmt.Errorf("coupon %s: %w", cmd.Code, err)
		}
		c := toCoupon(row, now)
		switch {
		case row.MemberID != cmd.MemberID:
			return ErrCouponNotOwned.With("coupon %s is not member %q's", cmd.Code, cmd.MemberID)
		case c.Status == CouponRedeemed && nullable.Value(row.RedeemRequestID) == cmd.RequestID && nullable.Value(row.RedeemOrderID) == cmd.OrderID:
			out = c // a repeat
			return nil
		case c.Status == CouponRedeemed:
			return ErrCouponRedeemed.With("coupon %s was redeemed on order %q", cmd.Code, nullable.Value(row.RedeemOrderID))
		case c.Status == CouponRevoked:
			return ErrCouponRevoked.With("coupon %s was revoked", cmd.Code)
		case c.Status == CouponExpired:
			return ErrCouponExpired.With("coupon %s expired at %s", cmd.Code, c.ValidUntil.Format(time.RFC3339))
		case cmd.SpendMinor > 0 && cmd.SpendMinor < row.MinSpendMinor:
			return ErrCouponMinSpend.With("coupon %s needs a spend of %d, the order has %d", cmd.Code, row.MinSpendMinor, cmd.SpendMinor)
		}
		row, err = s.q.RedeemCoupon(ctx, tx, campaignsdb.RedeemCouponParams{Code: cmd.Code, Now: &now, OrderID: &cmd.OrderID, RequestID: &cmd.RequestID})
		if err != nil {
			return fmt.Errorf("redeem coupon %s: %w", cmd.Code, err)
		}
		out = toCoupon(row, now)
		return events.AppendTx(ctx, tx, couponEvent(events.CouponRedeemed, out, now))
	})
	return out, err
}

// RevokeCoupon withdraws an issued coupon; revoking a revoked coupon answers it.
func (s *Service) RevokeCoupon(ctx context.Context, code string) (Coupon, error) {
	code = NormalizeCode(code)
	now := s.clock.Now()
	var out Coupon
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		row, err := s.q.LockCoupon(ctx, tx, code)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrCouponNotFound.With("no coupon %s", code)
		}
		if err != nil {
			return fmt.Errorf("coupon %s: %w", code, err)
		}
		switch row.Status {
		case CouponRevoked:
			out = toCoupon(row, now)
			return nil
		case CouponRedeemed:
			return ErrCouponRedeemed.With("coupon %s was redeemed: it cannot be revoked", code)
		}
		if row, err = s.q.RevokeCoupon(ctx, tx, campaignsdb.RevokeCouponParams{Code: code, Now: &now}); err != nil {
			return fmt.Errorf("revoke coupon %s: %w", code, err)
		}
		out = toCoupon(row, now)
		return events.AppendTx(ctx, tx, couponEvent(events.CouponRevoked, out, now))
	})
	return out, err
}

// MemberPage asks for a page of one member's rows (coupons, referrals), newest
// first.
type MemberPage struct {
	MemberID  string `json:"memberId" validate:"required,shopid"`
	PageSize  int32  `json:"pageSize" validate:"gte=0,lte=500"`
	PageToken string `json:"pageToken" validate:"max=200"`
}

// checked validates the page asked for and fills in the default page size.
func (q MemberPage) checked() (MemberPage, error) {
	if err := validation.Struct(q); err != nil {
		return q, err
	}
	if q.PageSize == 0 {
		q.PageSize = 50
	}
	return q, nil
}

// CouponQuery pages through a member's coupons, newest first.
type CouponQuery = MemberPage

// Coupons lists a member's coupons with their status now.
func (s *Service) Coupons(ctx context.Context, q CouponQuery) ([]Coupon, string, error) {
	q, err := q.checked()
	if err != nil {
		return nil, "", err
	}
	now := s.clock.Now()
	if _, err := s.q.MemberJoinTime(ctx, s.pool, q.MemberID); errors.Is(err, pgx.ErrNoRows) {
		return nil, "", problem.New(problem.NotFound, "MEMBER_NOT_FOUND", "member not found").With("member %q not found", q.MemberID)
	}
	params := campaignsdb.ListMemberCouponsParams{MemberID: q.MemberID, PageSize: q.PageSize + 1}
	page := pagetoken.For("coupons", q.MemberID)
	if q.PageToken != "" {
		pos, err := s.pageTokens.Decode(page, q.PageToken)
		if err != nil {
			return nil, "", err
		}
		// The position is the last coupon's issue time and code: only this server
		// made it, so it parses.
		at, code, ok := strings.Cut(pos, "_")
		t, err := time.Parse(time.RFC3339Nano, at)
		if !ok || err != nil || code == "" {
			return nil, "", pagetoken.ErrInvalid
		}
		params.BeforeTime, params.BeforeCode = t, code
	}
	rows, err := s.q.ListMemberCoupons(ctx, s.pool, params)
	if err != nil {
		return nil, "", fmt.Errorf("coupons of %q: %w", q.MemberID, err)
	}
	var next string
	if len(rows) > int(q.PageSize) {
		rows = rows[:q.PageSize]
		last := rows[len(rows)-1]
		next = s.pageTokens.Encode(page, last.IssueTime.UTC().Format(time.RFC3339Nano)+"_"+last.Code)
	}
	out := make([]Coupon, len(rows))
	for i, r := range rows {
		out[i] = toCoupon(r, now)
	}
	return out, next, nil
}

func toCoupon(r campaignsdb.Coupon, now time.Time) Coupon {
	c := Coupon{Code: r.Code, MemberID: r.MemberID, CampaignID: r.CampaignID, Kind: r.Kind, AmountOffMinor: r.AmountOffMinor,
		PercentOff: r.PercentOff, MinSpendMinor: r.MinSpendMinor, Status: r.Status, IssueTime: r.IssueTime,
		ValidUntil: r.ValidUntil, RedeemTime: nullable.Value(r.RedeemTime), RedeemOrderID: nullable.Value(r.RedeemOrderID),
		EventOrderID: nullable.Value(r.EventOrderID), EventType: nullable.Value(r.EventType)}
	if c.Status == CouponIssued && !now.Before(c.ValidUntil) {
		c.Status = CouponExpired
	}
	return c
}

// Coupon returns a coupon by its code (typed any way NormalizeCode reads), with its
// status now: what a checkout validates before it applies the discount.
func (s *Service) Coupon(ctx context.Context, code string) (Coupon, error) {
	code = NormalizeCode(code)
	row, err := s.q.GetCoupon(ctx, s.pool, code)
	if errors.Is(err, pgx.ErrNoRows) {
		return Coupon{}, ErrCouponNotFound.With("no coupon %s", code)
	}
	if err != nil {
		return Coupon{}, fmt.Errorf("coupon %s: %w", code, err)
	}
	return toCoupon(row, s.clock.Now()), nil
}

// TellExpiredCoupons writes coupon.expired for the issued coupons whose validity
// ended (at the instant it ended), marking them told in the same transaction, up to
// limit per call; it answers how many. A coupon's status turns EXPIRED when read,
// with no write of its own: this job is what tells it.
func (s *Service) TellExpiredCoupons(ctx context.Context, limit int32) (int, error) {
	now := s.clock.Now()
	var n int
	err := s.tx.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := s.q.TellExpiredCoupons(ctx, tx, campaignsdb.TellExpiredCouponsParams{Now: now, MaxRows: limit})
		if err != nil {
			return fmt.Errorf("expired coupons: %w", err)
		}
		n = len(rows)
		evs := make([]events.Event, len(rows))
		for i, r := range rows {
			evs[i] = couponEvent(events.CouponExpired, Coupon{Code: r.Code, MemberID: r.MemberID, CampaignID: r.CampaignID,
				EventOrderID: nullable.Value(r.EventOrderID)}, r.ValidUntil)
		}
		return events.AppendTx(ctx, tx, evs...)
	})
	return n, err
}
