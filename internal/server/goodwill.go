package server

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/ledger"
)

type goodwillServer struct {
	loyaltyv1.UnimplementedGoodwillServiceServer
	ledger *ledger.Service
	keys   *access.Service // whether a key exists (GetGoodwillLimits)
}

func (s *goodwillServer) GrantGoodwill(ctx context.Context, req *loyaltyv1.GrantGoodwillRequest) (*loyaltyv1.GrantGoodwillResponse, error) {
	requestID, err := requestIDOf(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	res, err := s.ledger.GrantGoodwill(ctx, actorOf(ctx), ledger.GrantGoodwill{
		MemberID: req.GetMemberId(), RequestID: requestID, Points: req.GetPoints(),
		ReasonCode: req.GetReasonCode(), TicketID: req.GetTicketId(), Note: req.GetNote(),
	})
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.GrantGoodwillResponse{}
	if res.Approval != nil {
		resp.Approval = approvalPB(*res.Approval)
	} else {
		resp.Entry = entryPB(res.Entry)
	}
	return resp, nil
}

func (s *goodwillServer) ApproveGoodwill(ctx context.Context, req *loyaltyv1.ApproveGoodwillRequest) (*loyaltyv1.ApproveGoodwillResponse, error) {
	id, err := parseID("approvalId", req.GetApprovalId())
	if err != nil {
		return nil, err
	}
	a, e, err := s.ledger.DecideApproval(ctx, actorOf(ctx), id, true)
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.ApproveGoodwillResponse{Approval: approvalPB(a), Entry: entryPB(e)}, nil
}

func (s *goodwillServer) RejectGoodwill(ctx context.Context, req *loyaltyv1.RejectGoodwillRequest) (*loyaltyv1.RejectGoodwillResponse, error) {
	id, err := parseID("approvalId", req.GetApprovalId())
	if err != nil {
		return nil, err
	}
	a, _, err := s.ledger.DecideApproval(ctx, actorOf(ctx), id, false)
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.RejectGoodwillResponse{Approval: approvalPB(a)}, nil
}

func (s *goodwillServer) ListApprovals(ctx context.Context, req *loyaltyv1.ListApprovalsRequest) (*loyaltyv1.ListApprovalsResponse, error) {
	list, next, err := s.ledger.ListApprovals(ctx, req.GetStatus(), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.ListApprovalsResponse{NextPageToken: next, Approvals: make([]*loyaltyv1.Approval, len(list))}
	for i, a := range list {
		resp.Approvals[i] = approvalPB(a)
	}
	return resp, nil
}

func (s *goodwillServer) SetGoodwillLimits(ctx context.Context, req *loyaltyv1.SetGoodwillLimitsRequest) (*loyaltyv1.SetGoodwillLimitsResponse, error) {
	l, err := s.ledger.SetGoodwillLimits(ctx, ledger.GoodwillLimits{KeyID: req.GetKeyId(), PerGrant: req.GetPerGrant(), PerDay: req.GetPerDay()})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.SetGoodwillLimitsResponse{Limits: goodwillLimitsPB(l)}, nil
}

// ListOwnApprovals lists the caller's own approvals: the key is the one the
// interceptors authenticated, never a field of the request, so no caller can ask
// for another key's.
func (s *goodwillServer) ListOwnApprovals(ctx context.Context, req *loyaltyv1.ListOwnApprovalsRequest) (*loyaltyv1.ListOwnApprovalsResponse, error) {
	key, _ := PrincipalFrom(ctx)
	list, next, err := s.ledger.ListApprovalsRequestedBy(ctx, key.ID, req.GetStatus(), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.ListOwnApprovalsResponse{NextPageToken: next, Approvals: make([]*loyaltyv1.Approval, len(list))}
	for i, a := range list {
		resp.Approvals[i] = approvalPB(a)
	}
	return resp, nil
}

// GetGoodwillLimits answers a key's limits; an unknown key is API_KEY_NOT_FOUND,
// as setting its limits would be.
func (s *goodwillServer) GetGoodwillLimits(ctx context.Context, req *loyaltyv1.GetGoodwillLimitsRequest) (*loyaltyv1.GetGoodwillLimitsResponse, error) {
	key, err := s.keys.Key(ctx, req.GetKeyId())
	if err != nil {
		return nil, err
	}
	l, err := s.ledger.GoodwillLimitsOf(ctx, key.ID)
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.GetGoodwillLimitsResponse{Limits: goodwillLimitsPB(l)}, nil
}

func goodwillLimitsPB(l ledger.GoodwillLimits) *loyaltyv1.GoodwillLimits {
	return &loyaltyv1.GoodwillLimits{KeyId: l.KeyID, PerGrant: l.PerGrant, PerDay: l.PerDay, DefaultLimits: l.Default}
}

func approvalPB(a ledger.Approval) *loyaltyv1.Approval {
	pb := &loyaltyv1.Approval{
		ApprovalId: formatID(a.ID), MemberId: a.MemberID, Points: a.Points, ReasonCode: a.ReasonCode,
		TicketId: a.TicketID, Note: a.Note, RequestedBy: a.RequestedBy, Status: a.Status, DecidedBy: a.DecidedBy,
		EntryId: formatID(a.EntryID), CreateTime: timestamppb.New(a.CreateTime),
	}
	if !a.DecideTime.IsZero() {
		pb.DecideTime = timestamppb.New(a.DecideTime)
	}
	return pb
}
