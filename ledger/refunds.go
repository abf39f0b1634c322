package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/pagetoken"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
	"github.com/loyalty-engine/loyalty/tiers"
)

// Errors of refunds.
var (
	ErrOrderNotFound = problem.New(problem.NotFound, "ORDER_NOT_FOUND", "the member earned or redeemed nothing on this order")
	ErrOverRefund    = problem.New(problem.Precondition, "REFUND_EXCEEDS_ORDER", "refunds cannot add up to more than the order")
)

// Refund refunds an order of a member, in full (AmountMinor zero) or in part.
type Refund struct {
	MemberID    string `json:"memberId" validate:"required,shopid"`
	OrderID     string `json:"orderId" validate:"required,shopid"`
	RequestID   string `json:"requestId" validate:"required,requestid"`
	AmountMinor int64  `json:"refundAmountMinor" validate:"gte=0,lte=10000000000000"`
}

// Order is what an order earned and how much of it was refunded so far.
type Order struct {
	MemberID    string
	OrderID     string
	EarnEntryID int64
	// SpendMinor is zero when the order earned explicit points or only redeemed:
	// it can then only be refunded in full.
	SpendMinor      int64
	Currency        string
	EarnedPoints    int64
	RefundedMinor   int64
	FullyRefunded   bool
	PointsTakenBack int64
	PointsReturned  int64
	// TierID and Perks are the member's effective tier and its perks when the
	// order earned (empty for an order earned before tiers were recorded, or only
	// redeemed on): refunds and support act on these, not on today's tier.
	TierID string
	Perks  *tiers.Perks
	// PointsPending and CreateTime are set by the reads (GetOrder, ListOrders):
	// the earned points still pending, and when the order earned (or, only
	// redeemed on, was first refunded).
	PointsPending int64
	CreateTime    time.Time
}

// Order statuses (Order.Status).
const (
	OrderNotRefunded    = "NOT_REFUNDED"
	OrderPartlyRefunded = "PARTLY_REFUNDED"
	OrderRefunded       = "REFUNDED"
)

// Status is how much of the order was refunded: nothing, part of it, or all that
// can be (nothing is left to refund). A refund that moved no money (an order
// without a known spend) but took points back counts as a refund.
func (o Order) Status() string {
	switch {
	case o.FullyRefunded:
		return OrderRefunded
	case o.RefundedMinor > 0 || o.PointsTakenBack > 0 || o.PointsReturned > 0:
		return OrderPartlyRefunded
	default:
		return OrderNotRefunded
	}
}

// RefundResult is what a refund did.
type RefundResult struct {
	Order Order
	// AmountMinor is what this refund refunded (zero for an order without spend).
	AmountMinor int64
	// Earned points taken back: voided from pending inside the return window,
	// clawed back from available after it.
	PointsVoided     int64
	PointsClawedBack int64
	// Points redeemed on the order given back.
	PointsReturned int64
	// The entries posted: the take-back (REFUND), the give-back (REFUND_RETURN).
	Entries []Entry
}

// RefundOrder takes back, pro rata to the refunded share of the order's spend, the
// points the order earned (from pending while its return window runs, from available
// after it, down into debt if the member already spent them), and gives back, in the
// same share, the points the member redeemed on it. Shares are cumulative: each
// refund brings the totals taken and given back to floor(points × refunded so far ÷
// spend), and the refund that completes the order settles exactly what is left.
//
// A refund goes through the group commit like any entry (see apply_refund.go): its
// batch locks the member, then the order, and decides it in Go, after the batch's
// earlier commands, so refunds of one order never add up to more than it; a repeat
// of a request answers its first result.
func (s *Service) RefundOrder(ctx context.Context, actor Actor, cmd Refund) (RefundResult, error) {
	if err := validation.Struct(cmd); err != nil {
		return RefundResult{}, err
	}
	// The give-back of redeemed points opens a lot for what the redemptions' lots
	// cannot take back; it expires as the program says now (a setting, read
	// before the batch).
	expire, err := s.lotExpiry(ctx, s.pool)
	if err != nil {
		return RefundResult{}, err
	}
	p := plan{
		memberID: cmd.MemberID, kind: KindRefund, requestID: cmd.RequestID, fingerprint: fingerprint("refund", cmd),
		orderID: cmd.OrderID, memo: "order refunded", actorKeyID: actor.KeyID, lotExpire: expire,
		refund: &refundPlan{amountMinor: cmd.AmountMinor},
	}
	// The campaigns that funded the order, so the batch locks their budgets.
	if s.promotions != nil {
		if p.refund.campaigns, err = s.promotions.OrderCampaigns(ctx, cmd.MemberID, cmd.OrderID); err != nil {
			return RefundResult{}, err
		}
	}
	var o outcome
	for range 3 {
		if o, err = s.post(ctx, p); err == nil {
			err = o.err
		}
		unread, ok := errors.AsType[*errCampaignsUnread](err)
		if !ok {
			break
		}
		// The order earned from campaigns since they were read: again with them.
		p.refund.campaigns = append(p.refund.campaigns, unread.campaigns...)
	}
	if database.IsUniqueViolation(err, "entries_request_idx") {
		return RefundResult{}, ErrIdempotencyConflict.With("requestId %q was already used by another request of member %q", cmd.RequestID, cmd.MemberID)
	}
	if err != nil {
		return RefundResult{}, err
	}
	return *o.refund, nil
}

// GetOrder returns what a member's order earned and how much of it was refunded.
func (s *Service) GetOrder(ctx context.Context, memberID, orderID string) (Order, error) {
	row, err := s.q.GetOrderRead(ctx, s.pool, ledgerdb.GetOrderReadParams{MemberID: memberID, OrderID: orderID})
	if errors.Is(err, pgx.ErrNoRows) {
		return Order{}, ErrOrderNotFound.With("member %q earned nothing on order %q", memberID, orderID)
	}
	if err != nil {
		return Order{}, fmt.Errorf("order %q: %w", orderID, err)
	}
	o := toOrder(row.Order)
	o.PointsPending, o.CreateTime = row.PointsPending, row.OrderTime
	return o, nil
}

// ListOrders asks for a page of a member's orders.
type ListOrders struct {
	MemberID  string    `json:"memberId" validate:"required,shopid"`
	PageSize  int32     `json:"pageSize" validate:"gte=0,lte=200"`
	PageToken string    `json:"pageToken" validate:"max=100"`
	StartTime time.Time `json:"startTime"`
	EndTime   time.Time `json:"endTime"`
}

// Orders is a page of a member's orders.
type Orders struct {
	Orders        []Order
	NextPageToken string
}

// ListOrders returns the member's orders, newest first (by the entry that made
// each: its earning, else its first refund's), keyset-paginated. An unknown member is
// ErrMemberNotFound, a member without orders an empty page.
func (s *Service) ListOrders(ctx context.Context, q ListOrders) (Orders, error) {
	if err := validation.Struct(q); err != nil {
		return Orders{}, err
	}
	if !q.StartTime.IsZero() && !q.EndTime.IsZero() && !q.EndTime.After(q.StartTime) {
		return Orders{}, problem.InvalidField("endTime", "must be after startTime")
	}
	if err := s.checkMember(ctx, q.MemberID); err != nil {
		return Orders{}, err
	}
	page := pagetoken.For("orders", q.MemberID, pagetoken.Time(q.StartTime), pagetoken.Time(q.EndTime))
	before := int64(math.MaxInt64)
	if q.PageToken != "" {
		id, err := s.pageTokens.DecodeID(page, q.PageToken)
		if err != nil {
			return Orders{}, err
		}
		before = id
	}
	size := q.PageSize
	if size == 0 {
		size = DefaultPageSize
	}
	start, end := historyStart, historyEnd
	if !q.StartTime.IsZero() {
		start = q.StartTime
	}
	if !q.EndTime.IsZero() {
		end = q.EndTime
	}
	rows, err := s.q.ListMemberOrders(ctx, database.ReadPool(ctx, s.pool), ledgerdb.ListMemberOrdersParams{
		MemberID: q.MemberID, BeforeEntryID: before, StartTime: start, EndTime: end, PageSize: size + 1})
	if err != nil {
		return Orders{}, fmt.Errorf("orders of %s: %w", q.MemberID, err)
	}
	var out Orders
	if len(rows) > int(size) {
		rows = rows[:size]
		out.NextPageToken = s.pageTokens.EncodeID(page, rows[len(rows)-1].OrderEntryID)
	}
	out.Orders = make([]Order, len(rows))
	for i, r := range rows {
		o := toOrder(r.Order)
		o.PointsPending, o.CreateTime = r.PointsPending, r.OrderTime
		out.Orders[i] = o
	}
	return out, nil
}

func toOrder(r ledgerdb.Order) Order {
	o := Order{MemberID: r.MemberID, OrderID: r.OrderID, Currency: r.Currency, EarnedPoints: r.EarnedPoints,
		RefundedMinor: r.RefundedMinor, FullyRefunded: r.FullyRefunded, PointsTakenBack: r.PointsTakenBack,
		PointsReturned: r.PointsReturned}
	if r.EarnEntryID != nil {
		o.EarnEntryID = *r.EarnEntryID
	}
	if r.SpendMinor != nil {
		o.SpendMinor = *r.SpendMinor
	}
	if r.TierID != nil {
		o.TierID = *r.TierID
	}
	if len(r.Perks) > 0 {
		var p tiers.Perks
		if json.Unmarshal(r.Perks, &p) == nil {
			o.Perks = &p
		}
	}
	return o
}

// mulDiv is floor(a × b ÷ c) for 0 ≤ a, 0 ≤ b ≤ c, without overflow.
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c)) // b ≤ c, so the quotient fits
	return int64(q)
}
