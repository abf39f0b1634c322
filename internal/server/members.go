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
	m, created, err := s.ledger.Enroll(ctx, ledger.EnrollMember{MemberID: req.GetMemberId(), DisplayName: req.GetDisplayName(),
		Profile: ledger.Profile{Birthday: birthdayOf(req.GetBirthday()), Channel: req.GetChannel(), Attributes: req.GetAttributes()}})
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

func (s *memberServer) UpdateMember(ctx context.Context, req *loyaltyv1.UpdateMemberRequest) (*loyaltyv1.UpdateMemberResponse, error) {
	c := ledger.ProfileChange{DisplayName: req.DisplayName, Channel: req.Channel, Attributes: req.GetAttributes()}
	if b := req.GetBirthday(); b != nil {
		c.Birthday, c.ClearBirthday = birthdayOf(b), b.GetMonth() == 0
	}
	m, err := s.ledger.UpdateProfile(ctx, req.GetMemberId(), c)
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.UpdateMemberResponse{Member: memberPB(m)}, nil
}

// birthdayOf is a request's birthday (nil: none given).
func birthdayOf(b *loyaltyv1.Birthday) *ledger.Birthday {
	if b == nil {
		return nil
	}
	return &ledger.Birthday{Month: b.GetMonth(), Day: b.GetDay(), Year: b.GetYear()}
}

func memberPB(m ledger.Member) *loyaltyv1.Member {
	pb := &loyaltyv1.Member{
		MemberId:    m.ID,
		DisplayName: m.DisplayName,
		TierId:      m.TierID,
		JoinTime:    timestamppb.New(m.JoinTime),
		Channel:     m.Channel,
		Attributes:  m.Attributes,
	}
	if b := m.Birthday; b != nil {
		pb.Birthday = &loyaltyv1.Birthday{Month: b.Month, Day: b.Day, Year: b.Year}
	}
	return pb
}
