package server

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/problem"
)

type eventServer struct {
	v1.UnimplementedEventServiceServer
	store *events.Store
	// every is how often WatchEvents looks for new events once it has caught up.
	every time.Duration
	// draining is closed when the server shuts down: watches end then.
	draining <-chan struct{}
}

// errShuttingDown ends a watch when the server shuts down; the caller watches
// again (on another replica, or after the restart) after the last position it got.
var errShuttingDown = problem.New(problem.Unavailable, "SHUTTING_DOWN",
	"the server is shutting down: watch again after the last position you received")

// watchPageSize is how many events WatchEvents reads at a time.
const watchPageSize = 500

func (s *eventServer) ListEvents(ctx context.Context, req *v1.ListEventsRequest) (*v1.ListEventsResponse, error) {
	f, err := eventFilter(req.GetAfterPosition(), req.GetTypes())
	if err != nil {
		return nil, err
	}
	if ps := req.GetPageSize(); ps < 0 || ps > events.MaxPageSize {
		return nil, problem.InvalidField("pageSize", fmt.Sprintf("must be 1-%d (0: %d)", events.MaxPageSize, events.DefaultPageSize))
	}
	f.MemberID, f.Limit = req.GetMemberId(), int(req.GetPageSize())
	page, err := s.store.List(ctx, f)
	if err != nil {
		return nil, err
	}
	resp := &v1.ListEventsResponse{NextPosition: req.GetAfterPosition(), Events: make([]*v1.Event, len(page))}
	for i, e := range page {
		resp.Events[i] = eventToProto(e)
		resp.NextPosition = resp.Events[i].Position
	}
	return resp, nil
}

func (s *eventServer) WatchEvents(req *v1.WatchEventsRequest, stream grpc.ServerStreamingServer[v1.WatchEventsResponse]) error {
	ctx := stream.Context()
	f, err := eventFilter(req.GetAfterPosition(), req.GetTypes())
	if err != nil {
		return err
	}
	f.Limit = watchPageSize
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	for {
		page, err := s.store.List(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := stream.Send(&v1.WatchEventsResponse{Event: eventToProto(e)}); err != nil {
				return err
			}
			f.After = e.Position
		}
		if len(page) == watchPageSize {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.draining:
			return errShuttingDown
		case <-tick.C:
		}
	}
}

func eventFilter(after string, types []string) (events.Filter, error) {
	pos, err := events.ParsePosition(after)
	if err != nil {
		return events.Filter{}, err
	}
	f := events.Filter{After: pos, Types: make([]events.Type, len(types))}
	for i, t := range types {
		f.Types[i] = events.Type(t)
	}
	return f, events.CheckTypes("types", f.Types)
}

func eventToProto(e events.Stored) *v1.Event {
	data := &structpb.Struct{}
	// The data was marshalled from Go values and stored as jsonb: an object.
	_ = protojson.Unmarshal(e.Data, data)
	return &v1.Event{
		EventId: e.EventID, Type: string(e.Type), OccurTime: timestamppb.New(e.OccurTime),
		MemberId: e.MemberID, MemberSeq: e.MemberSeq, Data: data, Position: e.Position.String(),
	}
}
