package server

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/ledger"
)

type memberServer struct {
	loyaltyv1.UnimplementedMemberServiceServer
	ledger *ledger.Service
}

func (s *memberServer) EnrollMember(ctx context.Context, req *loyaltyv1.EnrollMemberRequest) (*loyaltyv1.EnrollMemberResponse, error) {
	m, created, err := s.ledger.Enroll(ctx, ledger.EnrollMember{MemberID: req.GetMemberId(), DisplayName: req.GetDisplayName()})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.EnrollMemberResponse{Member: memberPB(m), Created: created}, nil
}

func (s *memberServer) GetMember(ctx context.Context, req *loyaltyv1.GetMemberRequest) (*loyaltyv1.GetMemberResponse, error) {
	m, err := s.ledger.Member(ctx, req.GetMemberId())
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.GetMemberResponse{Member: memberPB(m)}, nil
}

func memberPB(m ledger.Member) *loyaltyv1.Member {
	return &loyaltyv1.Member{
		MemberId:    m.ID,
		DisplayName: m.DisplayName,
		TierId:      m.TierID,
		JoinTime:    timestamppb.New(m.JoinTime),
	}
}
