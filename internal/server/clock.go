package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/businessclock"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger"
)

// errTimeTravelOff refuses to move the clock of a server running on the wall clock.
var errTimeTravelOff = problem.New(problem.Precondition, "TIME_TRAVEL_OFF",
	"business time is the wall clock: start loyaltyd with --demo or --time-travel=on to move it")

type clockServer struct {
	loyaltyv1.UnimplementedClockServiceServer
	clock *businessclock.Clock // nil: no time travel
}

func (s *clockServer) GetClock(context.Context, *loyaltyv1.GetClockRequest) (*loyaltyv1.GetClockResponse, error) {
	now, offset := s.now()
	return &loyaltyv1.GetClockResponse{Now: timestamppb.New(now), Offset: durationpb.New(offset), TimeTravel: s.clock != nil}, nil
}

func (s *clockServer) AdvanceClock(_ context.Context, req *loyaltyv1.AdvanceClockRequest) (*loyaltyv1.AdvanceClockResponse, error) {
	const maxDays = 3650
	var fields []problem.FieldViolation
	if req.GetDays() < 0 || req.GetDays() > maxDays {
		fields = append(fields, problem.FieldViolation{Field: "days", Description: "must be 0-3650"})
	}
	if req.GetHours() < 0 || req.GetHours() > maxDays*24 {
		fields = append(fields, problem.FieldViolation{Field: "hours", Description: "must be 0-87600"})
	}
	if len(fields) == 0 && req.GetDays() == 0 && req.GetHours() == 0 {
		fields = append(fields, problem.FieldViolation{Field: "days", Description: "give days or hours to move forward"})
	}
	if len(fields) > 0 {
		return nil, problem.InvalidFields(fields...)
	}
	if s.clock == nil {
		return nil, errTimeTravelOff
	}
	s.clock.Advance(time.Duration(req.GetDays())*24*time.Hour + time.Duration(req.GetHours())*time.Hour)
	now, offset := s.now()
	return &loyaltyv1.AdvanceClockResponse{Now: timestamppb.New(now), Offset: durationpb.New(offset), TimeTravel: true}, nil
}

func (s *clockServer) now() (time.Time, time.Duration) {
	if s.clock == nil {
		return ledger.WallClock.Now(), 0
	}
	return s.clock.Now(), s.clock.Offset()
}
