package server

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
	"github.com/loyalty-engine/loyalty/ledger"
)

func (s *pointsServer) RefundOrder(ctx context.Context, req *loyaltyv1.RefundOrderRequest) (*loyaltyv1.RefundOrderResponse, error) {
	requestID, err := requestIDOf(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	// Omitted refunds the rest of the order; an explicit 0 is more likely a
	// caller's mistake than a request for a full refund, so it is refused.
	if req.RefundAmountMinor != nil && req.GetRefundAmountMinor() <= 0 {
		return nil, problem.InvalidField("refundAmountMinor", "must be more than 0; omit it to refund the rest of the order in full")
	}
	res, err := s.ledger.RefundOrder(ctx, actorOf(ctx), ledger.Refund{
		MemberID: req.GetMemberId(), OrderID: req.GetOrderId(), RequestID: requestID, AmountMinor: req.GetRefundAmountMinor(),
	})
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.RefundOrderResponse{
		Order: orderPB(res.Order), RefundAmountMinor: res.AmountMinor, PointsVoided: res.PointsVoided,
		PointsClawedBack: res.PointsClawedBack, PointsReturned: res.PointsReturned,
		Entries: make([]*loyaltyv1.Entry, len(res.Entries)),
	}
	for i, e := range res.Entries {
		resp.Entries[i] = entryPB(e)
	}
	return resp, nil
}

// orderRef names a member's order in a read.
type orderRef struct {
	MemberID string `json:"memberId" validate:"required,shopid"`
	OrderID  string `json:"orderId" validate:"required,shopid"`
}

func (s *pointsServer) GetOrder(ctx context.Context, req *loyaltyv1.GetOrderRequest) (*loyaltyv1.GetOrderResponse, error) {
	if err := validation.Struct(orderRef{MemberID: req.GetMemberId(), OrderID: req.GetOrderId()}); err != nil {
		return nil, err
	}
	o, err := s.ledger.GetOrder(ctx, req.GetMemberId(), req.GetOrderId())
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.GetOrderResponse{Order: orderPB(o)}, nil
}

func (s *pointsServer) ListOrders(ctx context.Context, req *loyaltyv1.ListOrdersRequest) (*loyaltyv1.ListOrdersResponse, error) {
	q := ledger.ListOrders{MemberID: req.GetMemberId(), PageSize: req.GetPageSize(), PageToken: req.GetPageToken()}
	if req.GetStartTime() != nil {
		q.StartTime = req.GetStartTime().AsTime()
	}
	if req.GetEndTime() != nil {
		q.EndTime = req.GetEndTime().AsTime()
	}
	page, err := s.ledger.ListOrders(ctx, q)
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.ListOrdersResponse{NextPageToken: page.NextPageToken, Orders: make([]*loyaltyv1.Order, len(page.Orders))}
	for i, o := range page.Orders {
		resp.Orders[i] = orderPB(o)
	}
	return resp, nil
}

func (s *pointsServer) ListLots(ctx context.Context, req *loyaltyv1.ListLotsRequest) (*loyaltyv1.ListLotsResponse, error) {
	lots, err := s.ledger.Lots(ctx, req.GetMemberId(), req.GetIncludeSpent())
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.ListLotsResponse{Lots: make([]*loyaltyv1.Lot, len(lots))}
	for i, l := range lots {
		resp.Lots[i] = &loyaltyv1.Lot{
			LotId: formatID(l.ID), EntryId: formatID(l.EntryID), OriginEntryId: formatID(l.OriginEntryID),
			Points: l.Points, Remaining: l.Remaining,
			ExpireTime: timestamppb.New(l.ExpireTime), CreateTime: timestamppb.New(l.CreateTime),
		}
	}
	return resp, nil
}

func (s *pointsServer) ListEntryLots(ctx context.Context, req *loyaltyv1.ListEntryLotsRequest) (*loyaltyv1.ListEntryLotsResponse, error) {
	id, err := parseID("entryId", req.GetEntryId())
	if err != nil {
		return nil, err
	}
	// An unknown entry is not found, rather than an empty list.
	if _, err := s.ledger.Entry(ctx, id); err != nil {
		return nil, err
	}
	moves, err := s.ledger.LotMoves(ctx, id)
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.ListEntryLotsResponse{Moves: make([]*loyaltyv1.LotMove, len(moves))}
	for i, m := range moves {
		resp.Moves[i] = &loyaltyv1.LotMove{
			LotId: formatID(m.LotID), EntryId: formatID(m.EntryID), SourceEntryId: formatID(m.SourceEntryID), Points: m.Points,
		}
	}
	return resp, nil
}

func (s *ledgerServer) GetLiabilityReport(ctx context.Context, _ *loyaltyv1.GetLiabilityReportRequest) (*loyaltyv1.GetLiabilityReportResponse, error) {
	l, err := s.ledger.Liability(ctx)
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.GetLiabilityReportResponse{
		TimeZone: l.TimeZone, Available: l.Available, Pending: l.Pending, Held: l.Held, Debt: l.Debt,
		Outstanding: l.Outstanding, MembersInDebt: l.MembersInDebt,
		ByExpiryMonth:  make([]*loyaltyv1.MonthLiability, len(l.ByExpiryMonth)),
		SystemAccounts: make([]*loyaltyv1.SystemAccountBalance, len(l.SystemAccounts)),
		Issued:         l.Issued, Redeemed: l.Redeemed, Expired: l.Expired, Goodwill: l.Goodwill,
		Consistent: l.Consistent, ReportTime: timestamppb.New(l.Time),
	}
	for i, m := range l.ByExpiryMonth {
		resp.ByExpiryMonth[i] = &loyaltyv1.MonthLiability{Month: m.Month, Available: m.Available, Pending: m.Pending}
	}
	for i, a := range l.SystemAccounts {
		resp.SystemAccounts[i] = &loyaltyv1.SystemAccountBalance{Account: a.Account, Balance: a.Balance}
	}
	return resp, nil
}

func orderPB(o ledger.Order) *loyaltyv1.Order {
	pb := &loyaltyv1.Order{
		MemberId: o.MemberID, OrderId: o.OrderID, EarnEntryId: formatID(o.EarnEntryID),
		EarnedPoints: o.EarnedPoints, RefundedMinor: o.RefundedMinor, FullyRefunded: o.FullyRefunded,
		PointsTakenBack: o.PointsTakenBack, PointsReturned: o.PointsReturned, TierId: o.TierID,
		Status: o.Status(), PointsPending: o.PointsPending, CreateTime: optionalTime(o.CreateTime),
	}
	if o.Perks != nil {
		pb.Perks = perksPB(*o.Perks)
	}
	if o.SpendMinor != 0 {
		pb.Spend = &loyaltyv1.Money{AmountMinor: o.SpendMinor, Currency: o.Currency}
	}
	return pb
}
