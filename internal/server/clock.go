package server

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/businessclock"
	"github.com/loyalty-engine/loyalty/internal/problem"
)

// errTimeTravelOff refuses to move the clock of a server running without time
// travel. Business time may still run ahead of the wall clock (an offset persisted
// while time travel was on keeps applying: business time never goes back); only
// moving it is off.
var errTimeTravelOff = problem.New(problem.Precondition, "TIME_TRAVEL_OFF",
	"time travel is off: start loyaltyd with --demo or --time-travel=on to move business time")

type clockServer struct {
	loyaltyv1.UnimplementedClockServiceServer
	clock *businessclock.Clock
	// timeTravel: an admin may move the clock forward.
	timeTravel bool
}

func (s *clockServer) GetClock(context.Context, *loyaltyv1.GetClockRequest) (*loyaltyv1.GetClockResponse, error) {
	now, offset := s.clock.Read()
	return &loyaltyv1.GetClockResponse{Now: timestamppb.New(now), Offset: durationpb.New(offset), TimeTravel: s.timeTravel,
		MaxOffset: durationpb.New(businessclock.MaxOffset)}, nil
}

func (s *clockServer) AdvanceClock(ctx context.Context, req *loyaltyv1.AdvanceClockRequest) (*loyaltyv1.AdvanceClockResponse, error) {
	d, err := advanceBy(req.GetDays(), req.GetHours())
	if err != nil {
		return nil, err
	}
	if !s.timeTravel {
		return nil, errTimeTravelOff
	}
	now, offset, err := s.clock.Advance(ctx, d)
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.AdvanceClockResponse{Now: timestamppb.New(now), Offset: durationpb.New(offset), TimeTravel: true,
		MaxOffset: durationpb.New(businessclock.MaxOffset)}, nil
}

// advanceBy is how far a request moves the clock. Each field is bounded by the
// limit on its own first, so that the sum cannot overflow; the limit on the total
// offset is businessclock.NextOffset's.
func advanceBy(days, hours int32) (time.Duration, error) {
	maxDays := int32(businessclock.MaxOffset / (24 * time.Hour))
	var fields []problem.FieldViolation
	check := func(field string, v, most int32) {
		switch {
		case v < 0:
			fields = append(fields, problem.FieldViolation{Field: field, Description: "must not be negative: business time never goes back"})
		case v > most:
			fields = append(fields, problem.FieldViolation{Field: field,
				Description: fmt.Sprintf("must be at most %d: business time may run at most %d days (20 years) ahead of the wall clock", most, maxDays)})
		}
	}
	check("days", days, maxDays)
	check("hours", hours, maxDays*24)
	if len(fields) == 0 && days == 0 && hours == 0 {
		fields = append(fields, problem.FieldViolation{Field: "days", Description: "give days or hours to move business time forward"})
	}
	if len(fields) > 0 {
		return 0, problem.InvalidFields(fields...)
	}
	return time.Duration(days)*24*time.Hour + time.Duration(hours)*time.Hour, nil
}
