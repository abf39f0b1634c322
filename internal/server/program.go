package server

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger"
)

type programServer struct {
	loyaltyv1.UnimplementedProgramServiceServer
	ledger *ledger.Service
}

func (s *programServer) GetProgram(ctx context.Context, _ *loyaltyv1.GetProgramRequest) (*loyaltyv1.GetProgramResponse, error) {
	p, err := s.ledger.Program(ctx)
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.GetProgramResponse{Program: programPB(p)}, nil
}

func (s *programServer) UpdateProgram(ctx context.Context, req *loyaltyv1.UpdateProgramRequest) (*loyaltyv1.UpdateProgramResponse, error) {
	in := req.GetProgram()
	if in == nil {
		return nil, problem.InvalidField("program", "is required")
	}
	p, err := s.ledger.UpdateProgram(ctx, actorOf(ctx), ledger.Program{
		EarnPoints: in.GetEarnPoints(), EarnPerAmountMinor: in.GetEarnPerAmountMinor(),
		ReturnWindowDays: in.GetReturnWindowDays(), ExpiryKind: in.GetExpiry().GetKind(), ExpiryDays: in.GetExpiry().GetDays(),
		PointsPerUnit: in.GetPointsPerUnit(), Currencies: in.GetCurrencies(), TimeZone: in.GetTimeZone(),
		ExpiryReminderDays: in.GetExpiryReminderDays(),
	})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.UpdateProgramResponse{Program: programPB(p)}, nil
}

func programPB(p ledger.Program) *loyaltyv1.Program {
	return &loyaltyv1.Program{
		EarnPoints: p.EarnPoints, EarnPerAmountMinor: p.EarnPerAmountMinor, ReturnWindowDays: p.ReturnWindowDays,
		Expiry:        &loyaltyv1.ExpiryPolicy{Kind: p.ExpiryKind, Days: p.ExpiryDays},
		PointsPerUnit: p.PointsPerUnit, Currencies: p.Currencies, TimeZone: p.TimeZone,
		ExpiryReminderDays: p.ExpiryReminderDays, Version: p.Version, UpdateTime: timestamppb.New(p.UpdateTime),
	}
}
