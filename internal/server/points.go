package server

import (
	"context"
	"strconv"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger"
)

type pointsServer struct {
	loyaltyv1.UnimplementedPointsServiceServer
	ledger *ledger.Service
}

func (s *pointsServer) Earn(ctx context.Context, req *loyaltyv1.EarnRequest) (*loyaltyv1.EarnResponse, error) {
	requestID, err := requestIDOf(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	res, err := s.ledger.Earn(ctx, actorOf(ctx), ledger.Earn{
		MemberID: req.GetMemberId(), RequestID: requestID, Points: req.GetPoints(),
		SpendMinor: req.GetSpend().GetAmountMinor(), Currency: req.GetSpend().GetCurrency(),
		OrderID: req.GetOrderId(), Reason: req.GetReason(),
	})
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.EarnResponse{Points: res.Points}
	if res.Entry.ID != 0 {
		resp.Entry = entryPB(res.Entry)
	}
	for _, l := range res.Breakdown {
		resp.Breakdown = append(resp.Breakdown, &loyaltyv1.BreakdownLine{Source: l.Source, Points: l.Points, Description: l.Description,
			CampaignId: l.CampaignID})
	}
	for _, r := range res.CampaignRefusals {
		resp.CampaignRefusals = append(resp.CampaignRefusals, &loyaltyv1.CampaignRefusal{CampaignId: r.CampaignID, Reason: r.Reason, RuleError: r.RuleError})
	}
	return resp, nil
}

func (s *pointsServer) Redeem(ctx context.Context, req *loyaltyv1.RedeemRequest) (*loyaltyv1.RedeemResponse, error) {
	requestID, err := requestIDOf(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	e, err := s.ledger.Redeem(ctx, actorOf(ctx), ledger.Redeem{
		MemberID: req.GetMemberId(), RequestID: requestID, Points: req.GetPoints(),
		OrderID: req.GetOrderId(), Memo: req.GetMemo(),
	})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.RedeemResponse{Entry: entryPB(e)}, nil
}

func (s *pointsServer) CreateHold(ctx context.Context, req *loyaltyv1.CreateHoldRequest) (*loyaltyv1.CreateHoldResponse, error) {
	requestID, err := requestIDOf(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	var ttl time.Duration
	if req.GetTtl() != nil {
		if err := req.GetTtl().CheckValid(); err != nil {
			return nil, problem.InvalidField("ttl", "is not a valid duration")
		}
		if ttl = req.GetTtl().AsDuration(); ttl <= 0 || ttl > ledger.MaxHoldTTL {
			return nil, problem.InvalidField("ttl", "must be more than 0s and at most 2592000s (30 days)")
		}
	}
	res, err := s.ledger.CreateHold(ctx, actorOf(ctx), ledger.CreateHold{
		MemberID: req.GetMemberId(), RequestID: requestID, Points: req.GetPoints(), OrderID: req.GetOrderId(), TTL: ttl,
	})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.CreateHoldResponse{Hold: holdPB(res.Hold), Entry: entryPB(res.Entry)}, nil
}

func (s *pointsServer) CaptureHold(ctx context.Context, req *loyaltyv1.CaptureHoldRequest) (*loyaltyv1.CaptureHoldResponse, error) {
	id, requestID, err := holdCall(ctx, req)
	if err != nil {
		return nil, err
	}
	res, err := s.ledger.CaptureHold(ctx, actorOf(ctx), ledger.CaptureHold{HoldID: id, RequestID: requestID, Points: req.GetPoints()})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.CaptureHoldResponse{Hold: holdPB(res.Hold), Entry: entryPB(res.Entry)}, nil
}

func (s *pointsServer) VoidHold(ctx context.Context, req *loyaltyv1.VoidHoldRequest) (*loyaltyv1.VoidHoldResponse, error) {
	id, requestID, err := holdCall(ctx, req)
	if err != nil {
		return nil, err
	}
	res, err := s.ledger.VoidHold(ctx, actorOf(ctx), ledger.VoidHold{HoldID: id, RequestID: requestID})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.VoidHoldResponse{Hold: holdPB(res.Hold), Entry: entryPB(res.Entry)}, nil
}

func (s *pointsServer) GetHold(ctx context.Context, req *loyaltyv1.GetHoldRequest) (*loyaltyv1.GetHoldResponse, error) {
	id, err := parseID("holdId", req.GetHoldId())
	if err != nil {
		return nil, err
	}
	h, err := s.ledger.GetHold(ctx, id)
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.GetHoldResponse{Hold: holdPB(h)}, nil
}

func (s *pointsServer) ReverseEntry(ctx context.Context, req *loyaltyv1.ReverseEntryRequest) (*loyaltyv1.ReverseEntryResponse, error) {
	requestID, err := requestIDOf(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	id, err := parseID("entryId", req.GetEntryId())
	if err != nil {
		return nil, err
	}
	e, err := s.ledger.Reverse(ctx, actorOf(ctx), ledger.Reverse{EntryID: id, RequestID: requestID, Reason: req.GetReason()})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.ReverseEntryResponse{Entry: entryPB(e)}, nil
}

func (s *pointsServer) GetBalance(ctx context.Context, req *loyaltyv1.GetBalanceRequest) (*loyaltyv1.GetBalanceResponse, error) {
	var (
		b   ledger.Balance
		err error
	)
	if req.GetAsOfTime() != nil {
		if err := req.GetAsOfTime().CheckValid(); err != nil {
			return nil, problem.InvalidField("asOfTime", "is not a valid timestamp")
		}
		b, err = s.ledger.BalanceAsOf(ctx, req.GetMemberId(), req.GetAsOfTime().AsTime())
	} else {
		b, err = s.ledger.Balance(ctx, req.GetMemberId())
	}
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.GetBalanceResponse{MemberId: b.MemberID, Available: b.Available, Pending: b.Pending, Held: b.Held,
		Expiring: make([]*loyaltyv1.ExpiringPoints, len(b.Expiring))}
	for i, x := range b.Expiring {
		resp.Expiring[i] = &loyaltyv1.ExpiringPoints{Points: x.Points, ExpireTime: timestamppb.New(x.ExpireTime)}
	}
	if !b.AsOf.IsZero() {
		resp.AsOfTime = timestamppb.New(b.AsOf)
	}
	return resp, nil
}

func (s *pointsServer) ListActivity(ctx context.Context, req *loyaltyv1.ListActivityRequest) (*loyaltyv1.ListActivityResponse, error) {
	q := ledger.ListActivity{MemberID: req.GetMemberId(), PageSize: req.GetPageSize(), PageToken: req.GetPageToken(), Kinds: req.GetKinds()}
	if req.GetStartTime() != nil {
		q.StartTime = req.GetStartTime().AsTime()
	}
	if req.GetEndTime() != nil {
		q.EndTime = req.GetEndTime().AsTime()
	}
	a, err := s.ledger.ListActivity(ctx, q)
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.ListActivityResponse{NextPageToken: a.NextPageToken, Entries: make([]*loyaltyv1.Entry, len(a.Entries))}
	for i, e := range a.Entries {
		resp.Entries[i] = entryPB(e)
	}
	return resp, nil
}

type ledgerServer struct {
	loyaltyv1.UnimplementedLedgerServiceServer
	ledger *ledger.Service
}

func (s *ledgerServer) VerifyLedger(ctx context.Context, req *loyaltyv1.VerifyLedgerRequest) (*loyaltyv1.VerifyLedgerResponse, error) {
	verify := s.ledger.Verify
	if req.GetIncremental() {
		verify = s.ledger.VerifyIncremental
	}
	v, err := verify(ctx)
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.VerifyLedgerResponse{Ok: v.OK, EntriesChecked: v.EntriesChecked, AccountsChecked: v.AccountsChecked,
		PostingsSum: v.PostingsSum, VerifyTime: timestamppb.New(v.Time), Discrepancies: []*loyaltyv1.Discrepancy{},
		Full: v.Full, AfterEntryId: formatID(v.After), UptoEntryId: formatID(v.Upto)}
	for _, d := range v.Discrepancies {
		resp.Discrepancies = append(resp.Discrepancies, &loyaltyv1.Discrepancy{
			Kind: d.Kind, Account: d.Account, MemberId: d.MemberID, EntryId: formatID(d.EntryID),
			Expected: d.Expected, Actual: d.Actual, Detail: d.Detail,
		})
	}
	return resp, nil
}

// requestIDOf takes the requestId from the body or, failing that, from the REST
// Idempotency-Key header. Both given and different is an error.
func requestIDOf(ctx context.Context, fromBody string) (string, error) {
	var header string
	if v := metadata.ValueFromIncomingContext(ctx, idempotencyKeyHeader); len(v) > 0 {
		header = v[0]
	}
	switch {
	case header == "" || header == fromBody:
		return fromBody, nil
	case fromBody == "":
		return header, nil
	default:
		return "", problem.InvalidField("requestId", "differs from the Idempotency-Key header")
	}
}

// holdCall reads what every call on an existing hold carries.
func holdCall(ctx context.Context, req interface {
	GetHoldId() string
	GetRequestId() string
}) (holdID int64, requestID string, err error) {
	if requestID, err = requestIDOf(ctx, req.GetRequestId()); err != nil {
		return 0, "", err
	}
	holdID, err = parseID("holdId", req.GetHoldId())
	return holdID, requestID, err
}

// actorOf is the authenticated key, recorded on entries. Agent keys are held to
// their goodwill limits.
func actorOf(ctx context.Context) ledger.Actor {
	k, _ := PrincipalFrom(ctx)
	return ledger.Actor{KeyID: k.ID, GoodwillLimited: k.Role == access.RoleAgent}
}

func parseID(field, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, problem.InvalidField(field, "must be an id returned by the API")
	}
	return id, nil
}

func formatID(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

func entryPB(e ledger.Entry) *loyaltyv1.Entry {
	pb := &loyaltyv1.Entry{
		EntryId: formatID(e.ID), MemberId: e.MemberID, Kind: string(e.Kind),
		Points: e.Delta(ledger.AccountAvailable), BalanceAfter: e.AvailableAfter,
		PendingPoints: e.Delta(ledger.AccountPending), PendingAfter: e.PendingAfter,
		HeldPoints: e.Delta(ledger.AccountHeld), HeldAfter: e.HeldAfter,
		CreateTime: timestamppb.New(e.CreateTime), RequestId: e.RequestID, OrderId: e.OrderID, Memo: e.Memo,
		HoldId: formatID(e.HoldID), ReversesEntryId: formatID(e.ReversesEntryID),
		ActorKeyId: e.ActorKeyID, ReasonCode: e.ReasonCode, TicketId: e.TicketID,
	}
	for _, p := range e.Postings {
		pb.Postings = append(pb.Postings, &loyaltyv1.Posting{Account: p.Account, Amount: p.Amount})
	}
	return pb
}

func holdPB(h ledger.Hold) *loyaltyv1.Hold {
	return &loyaltyv1.Hold{
		HoldId: formatID(h.ID), MemberId: h.MemberID, Points: h.Points, Status: h.Status,
		CapturedPoints: h.CapturedPoints, OrderId: h.OrderID,
		CreateTime: timestamppb.New(h.CreateTime), ExpireTime: timestamppb.New(h.ExpireTime),
	}
}
