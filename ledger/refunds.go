package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/idempotency"
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
// spend), and the refund that completes the order settles exactly what is left. The
// order's row is locked throughout, so refunds of one order never add up to more
// than it; a repeat of a request answers its first result.
func (s *Service) RefundOrder(ctx context.Context, actor Actor, cmd Refund) (RefundResult, error) {
	if err := validation.Struct(cmd); err != nil {
		return RefundResult{}, err
	}
	fp := fingerprint("refund", cmd)
	var res RefundResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		order, err := s.lockOrder(ctx, tx, cmd.MemberID, cmd.OrderID)
		if err != nil {
			return err
		}
		// A racing duplicate of this request waited for the order's lock above
		// and now finds the first one's record.
		if stored, found, err := s.storedRefund(ctx, tx, cmd, fp); found || err != nil {
			res = stored
			return err
		}
		res, err = s.refund(ctx, tx, actor, cmd, fp, order)
		return err
	})
	if database.IsUniqueViolation(err, "entries_request_idx") {
		return RefundResult{}, ErrIdempotencyConflict.With("requestId %q was already used by another request of member %q", cmd.RequestID, cmd.MemberID)
	}
	return res, err
}

// refund decides and posts a refund of the locked order.
func (s *Service) refund(ctx context.Context, tx pgx.Tx, actor Actor, cmd Refund, fp []byte, order ledgerdb.Order) (RefundResult, error) {
	res := RefundResult{Order: toOrder(order)}
	o := &res.Order
	if o.FullyRefunded {
		return RefundResult{}, ErrOverRefund.With("order %q is already fully refunded", o.OrderID).WithMetadata("refundableMinor", "0")
	}
	full := true
	if o.SpendMinor == 0 {
		if cmd.AmountMinor > 0 {
			return RefundResult{}, problem.InvalidField("refundAmountMinor",
				"order "+strconv.Quote(o.OrderID)+" earned no points from a spend, so it can only be refunded in full: omit refundAmountMinor")
		}
	} else {
		refundable := o.SpendMinor - o.RefundedMinor
		res.AmountMinor = cmd.AmountMinor
		if res.AmountMinor == 0 {
			res.AmountMinor = refundable
		}
		if res.AmountMinor > refundable {
			return RefundResult{}, ErrOverRefund.
				With("order %q has %d minor units left to refund, %d asked", o.OrderID, refundable, res.AmountMinor).
				WithMetadata("refundableMinor", strconv.FormatInt(refundable, 10))
		}
		o.RefundedMinor += res.AmountMinor
		full = o.RefundedMinor == o.SpendMinor
	}
	o.FullyRefunded = full
	share := func(total int64) int64 {
		if full {
			return total
		}
		return mulDiv(total, o.RefundedMinor, o.SpendMinor)
	}

	take, err := s.refundTakeBack(ctx, tx, actor, cmd, fp, o, share)
	if err != nil {
		return RefundResult{}, err
	}
	if take.entry.ID != 0 {
		res.Entries = append(res.Entries, take.entry)
	}
	res.PointsVoided, res.PointsClawedBack = take.voided, take.clawedBack
	metric := refundMetric{points: order.MetricPointsTaken, spend: order.MetricSpendTaken}
	if !take.reversed {
		if metric, err = s.lowerMetric(ctx, tx, order, take.entry.ID, share); err != nil {
			return RefundResult{}, err
		}
	}

	ret, err := s.refundGiveBack(ctx, tx, actor, cmd, fp, o, share)
	if err != nil {
		return RefundResult{}, err
	}
	if ret.ID != 0 {
		res.Entries = append(res.Entries, ret)
		res.PointsReturned = ret.Delta(AccountAvailable)
	}

	if err := s.q.UpdateOrderRefunded(ctx, tx, ledgerdb.UpdateOrderRefundedParams{
		MemberID: o.MemberID, OrderID: o.OrderID, RefundedMinor: o.RefundedMinor, FullyRefunded: o.FullyRefunded,
		PointsTakenBack: o.PointsTakenBack, PointsReturned: o.PointsReturned,
		MetricPointsTaken: metric.points, MetricSpendTaken: metric.spend,
	}); err != nil {
		return RefundResult{}, fmt.Errorf("update order %q: %w", o.OrderID, err)
	}
	if _, err := s.q.InsertRefund(ctx, tx, ledgerdb.InsertRefundParams{
		MemberID: o.MemberID, RequestID: cmd.RequestID, OrderID: o.OrderID, Fingerprint: fp, AmountMinor: res.AmountMinor,
		PointsVoided: res.PointsVoided, PointsClawedBack: res.PointsClawedBack, PointsReturned: res.PointsReturned,
		TakeEntryID: optionalID(take.entry.ID), ReturnEntryID: optionalID(ret.ID),
		OrderRefundedMinor: o.RefundedMinor, OrderFullyRefunded: o.FullyRefunded,
		OrderPointsTakenBack: o.PointsTakenBack, OrderPointsReturned: o.PointsReturned, CreateTime: s.clock.Now(),
	}); err != nil {
		return RefundResult{}, fmt.Errorf("record refund: %w", err)
	}
	return res, nil
}

type takeBack struct {
	entry              Entry
	voided, clawedBack int64
	// reversed: the earning was reversed before any refund, which took its
	// points and its qualifying metric back already.
	reversed bool
}

// refundTakeBack takes back the order's earned points up to their refunded share:
// voided from pending while the earning waits for release, clawed back from
// available (possibly into debt) once released.
func (s *Service) refundTakeBack(ctx context.Context, tx pgx.Tx, actor Actor, cmd Refund, fp []byte, o *Order, share func(int64) int64) (takeBack, error) {
	if o.EarnEntryID == 0 {
		return takeBack{}, nil
	}
	earned := o.EarnedPoints
	if _, err := s.q.GetReversal(ctx, tx, &o.EarnEntryID); err == nil {
		return takeBack{reversed: true}, nil // the earning was reversed before any refund: nothing left to take
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return takeBack{}, fmt.Errorf("reversal of entry %d: %w", o.EarnEntryID, err)
	}
	points := share(earned) - o.PointsTakenBack
	if points <= 0 {
		return takeBack{}, nil
	}
	p := plan{
		memberID: o.MemberID, kind: KindRefund, requestID: cmd.RequestID, fingerprint: fp, orderID: o.OrderID,
		memo: "order refunded", actorKeyID: actor.KeyID, preferLotOrigin: o.EarnEntryID,
	}
	rel, err := s.q.LockPendingRelease(ctx, tx, o.EarnEntryID)
	pending := err == nil && !rel.Released
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return takeBack{}, fmt.Errorf("pending state of entry %d: %w", o.EarnEntryID, err)
	}
	var tb takeBack
	sources, err := s.refundSources(ctx, tx, o, points, share)
	if err != nil {
		return takeBack{}, err
	}
	if pending {
		p.postings = append([]Posting{{AccountPending, -points}}, sources...)
		tb.voided = points
	} else {
		p.postings = append([]Posting{{AccountAvailable, -points}}, sources...)
		p.allowNegative = true
		tb.clawedBack = points
	}
	if tb.entry, err = s.append(ctx, tx, p); err != nil {
		return takeBack{}, err
	}
	if pending {
		if err := s.q.VoidPending(ctx, tx, ledgerdb.VoidPendingParams{EntryID: o.EarnEntryID, Points: points}); err != nil {
			return takeBack{}, fmt.Errorf("void pending points of entry %d: %w", o.EarnEntryID, err)
		}
	}
	o.PointsTakenBack += points
	return tb, nil
}

// refundSources splits points a refund takes back among the accounts the order's
// earning came from: each campaign gets back its refunded share of what it gave
// (cumulative, never more than what is taken), which goes back to its budget; the
// rest goes back to system:issued.
func (s *Service) refundSources(ctx context.Context, tx pgx.Tx, o *Order, points int64, share func(int64) int64) ([]Posting, error) {
	var grants []OrderGrant
	if s.promotions != nil {
		var err error
		if grants, err = s.promotions.OrderGrants(ctx, tx, o.MemberID, o.OrderID); err != nil {
			return nil, err
		}
	}
	left := points
	var out []Posting
	for _, g := range grants {
		back := min(share(g.Points)-g.Returned, left)
		if back <= 0 {
			continue
		}
		if err := s.promotions.GiveBack(ctx, tx, o.MemberID, o.OrderID, g.CampaignID, back); err != nil {
			return nil, err
		}
		out = append(out, Posting{g.Account, back})
		left -= back
	}
	if left > 0 {
		out = append([]Posting{{AccountIssued, left}}, out...)
	}
	return out, nil
}

// refundMetric is what refunds of an order took off the qualifying metric so far.
type refundMetric struct{ points, spend int64 }

// lowerMetric takes the refunded share of what the order's earning added to the
// qualifying metric off it, on the day the order earned (cumulative shares, like
// the points). The member keeps the tier until the end of its period: downgrades
// are decided then.
func (s *Service) lowerMetric(ctx context.Context, tx pgx.Tx, order ledgerdb.Order, takeEntryID int64, share func(int64) int64) (refundMetric, error) {
	taken := refundMetric{points: share(order.MetricPoints), spend: share(order.MetricSpend)}
	points, spend := taken.points-order.MetricPointsTaken, taken.spend-order.MetricSpendTaken
	if order.MetricDay == nil || (points == 0 && spend == 0) {
		return taken, nil
	}
	var err error
	s.q.WriteMetricMoves(ctx, tx, []ledgerdb.WriteMetricMovesParams{{
		MemberIds: []string{order.MemberID}, EntryIds: []int64{takeEntryID}, OrderIds: []string{order.OrderID},
		Days: []time.Time{*order.MetricDay}, Points: []int64{-points}, SpendMinor: []int64{-spend},
		CreateTimes: []time.Time{s.clock.Now()},
	}}).Exec(func(_ int, e error) { err = e })
	if err != nil {
		return refundMetric{}, fmt.Errorf("lower the qualifying metric of order %q: %w", order.OrderID, err)
	}
	return taken, nil
}

// refundGiveBack gives back the points redeemed on the order up to their refunded
// share, to the lots the redemptions consumed.
func (s *Service) refundGiveBack(ctx context.Context, tx pgx.Tx, actor Actor, cmd Refund, fp []byte, o *Order, share func(int64) int64) (Entry, error) {
	rows, err := s.q.OrderRedemptions(ctx, tx, ledgerdb.OrderRedemptionsParams{MemberID: o.MemberID, OrderID: o.OrderID})
	if err != nil {
		return Entry{}, fmt.Errorf("redemptions on order %q: %w", o.OrderID, err)
	}
	var redeemed int64
	var sources []int64
	for _, r := range rows {
		redeemed += r.Redeemed
		if r.LotSourceEntryID != 0 {
			sources = append(sources, r.LotSourceEntryID)
		}
	}
	points := share(redeemed) - o.PointsReturned
	if points <= 0 {
		return Entry{}, nil
	}
	expire, err := s.lotExpiry(ctx, tx)
	if err != nil {
		return Entry{}, err
	}
	e, err := s.append(ctx, tx, plan{
		memberID: o.MemberID, kind: KindRefundReturn, requestID: cmd.RequestID + "#return", fingerprint: fp,
		postings: []Posting{{AccountAvailable, points}, {AccountRedeemed, -points}}, orderID: o.OrderID,
		memo: "points redeemed on a refunded order", actorKeyID: actor.KeyID, restoreFrom: sources, lotExpire: expire,
	})
	if err != nil {
		return Entry{}, err
	}
	o.PointsReturned += points
	return e, nil
}

// lockOrder locks the member's order for a refund. An order the member only
// redeemed on gets its row now; one the member never touched is not found.
func (s *Service) lockOrder(ctx context.Context, tx pgx.Tx, memberID, orderID string) (ledgerdb.Order, error) {
	row, err := s.q.LockOrder(ctx, tx, ledgerdb.LockOrderParams{MemberID: memberID, OrderID: orderID})
	if err == nil {
		return row, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return ledgerdb.Order{}, fmt.Errorf("lock order %q: %w", orderID, err)
	}
	redemptions, err := s.q.OrderRedemptions(ctx, tx, ledgerdb.OrderRedemptionsParams{MemberID: memberID, OrderID: orderID})
	if err != nil {
		return ledgerdb.Order{}, fmt.Errorf("redemptions on order %q: %w", orderID, err)
	}
	if len(redemptions) == 0 {
		if _, err := s.q.GetMemberBalance(ctx, tx, memberID); errors.Is(err, pgx.ErrNoRows) {
			return ledgerdb.Order{}, ErrMemberNotFound.With("member %q not found", memberID)
		}
		return ledgerdb.Order{}, ErrOrderNotFound.With("member %q earned or redeemed nothing on order %q", memberID, orderID)
	}
	return s.ensureAndLockOrder(ctx, tx, memberID, orderID)
}

// ensureAndLockOrder locks the member's order, giving it a row first if it has none
// (an order the member only redeemed on has none until refunded or reversed).
func (s *Service) ensureAndLockOrder(ctx context.Context, tx pgx.Tx, memberID, orderID string) (ledgerdb.Order, error) {
	key := ledgerdb.LockOrderParams{MemberID: memberID, OrderID: orderID}
	if err := s.q.EnsureOrder(ctx, tx, ledgerdb.EnsureOrderParams(key)); err != nil {
		return ledgerdb.Order{}, fmt.Errorf("record order %q: %w", orderID, err)
	}
	row, err := s.q.LockOrder(ctx, tx, key)
	if err != nil {
		return ledgerdb.Order{}, fmt.Errorf("lock order %q: %w", orderID, err)
	}
	return row, nil
}

// storedRefund returns the outcome a refund request already had, if it did.
func (s *Service) storedRefund(ctx context.Context, tx pgx.Tx, cmd Refund, fp []byte) (RefundResult, bool, error) {
	row, err := s.q.GetRefund(ctx, tx, ledgerdb.GetRefundParams{MemberID: cmd.MemberID, RequestID: cmd.RequestID})
	if errors.Is(err, pgx.ErrNoRows) {
		return RefundResult{}, false, nil
	}
	if err != nil {
		return RefundResult{}, false, fmt.Errorf("look up refund %q: %w", cmd.RequestID, err)
	}
	if err := idempotency.Check(row.Fingerprint, fp, cmd.RequestID); err != nil {
		return RefundResult{}, true, err
	}
	order, err := s.q.GetOrder(ctx, tx, ledgerdb.GetOrderParams{MemberID: row.MemberID, OrderID: row.OrderID})
	if err != nil {
		return RefundResult{}, true, fmt.Errorf("order %q: %w", row.OrderID, err)
	}
	res := RefundResult{Order: toOrder(order), AmountMinor: row.AmountMinor, PointsVoided: row.PointsVoided,
		PointsClawedBack: row.PointsClawedBack, PointsReturned: row.PointsReturned}
	// The order as this refund left it, not as later refunds did.
	res.Order.RefundedMinor, res.Order.FullyRefunded = row.OrderRefundedMinor, row.OrderFullyRefunded
	res.Order.PointsTakenBack, res.Order.PointsReturned = row.OrderPointsTakenBack, row.OrderPointsReturned
	for _, id := range []*int64{row.TakeEntryID, row.ReturnEntryID} {
		if id == nil {
			continue
		}
		e, err := s.q.GetEntry(ctx, tx, *id)
		if err != nil {
			return RefundResult{}, true, fmt.Errorf("entry %d: %w", *id, err)
		}
		res.Entries = append(res.Entries, toEntry(e))
	}
	return res, true, nil
}

// GetOrder returns what a member's order earned and how much of it was refunded.
func (s *Service) GetOrder(ctx context.Context, memberID, orderID string) (Order, error) {
	row, err := s.q.GetOrder(ctx, s.pool, ledgerdb.GetOrderParams{MemberID: memberID, OrderID: orderID})
	if errors.Is(err, pgx.ErrNoRows) {
		return Order{}, ErrOrderNotFound.With("member %q earned nothing on order %q", memberID, orderID)
	}
	if err != nil {
		return Order{}, fmt.Errorf("order %q: %w", orderID, err)
	}
	return toOrder(row), nil
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
