package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/webhookhttp"
)

// webhookServer manages the webhook endpoints. Webhooks run on the wall clock, not
// business time: receivers check webhook-timestamp against theirs, and retries wait
// real time.
type webhookServer struct {
	v1.UnimplementedWebhookServiceServer
	hooks *events.Webhooks
	guard *webhookhttp.Guard
}

func (s *webhookServer) CreateWebhookEndpoint(ctx context.Context, req *v1.CreateWebhookEndpointRequest) (*v1.CreateWebhookEndpointResponse, error) {
	if err := s.guard.CheckURL(ctx, req.GetUrl()); err != nil {
		return nil, err
	}
	e, secret, err := s.hooks.Create(ctx, events.CreateEndpoint{
		URL: req.GetUrl(), EventTypes: eventTypes(req.GetEventTypes()), Description: req.GetDescription(),
	}, time.Now())
	if err != nil {
		return nil, err
	}
	return &v1.CreateWebhookEndpointResponse{Endpoint: endpointPB(e), Secret: secret}, nil
}

func (s *webhookServer) ListWebhookEndpoints(ctx context.Context, _ *v1.ListWebhookEndpointsRequest) (*v1.ListWebhookEndpointsResponse, error) {
	list, err := s.hooks.List(ctx)
	if err != nil {
		return nil, err
	}
	resp := &v1.ListWebhookEndpointsResponse{Endpoints: make([]*v1.WebhookEndpoint, len(list))}
	for i, e := range list {
		resp.Endpoints[i] = endpointPB(e)
	}
	return resp, nil
}

func (s *webhookServer) GetWebhookEndpoint(ctx context.Context, req *v1.GetWebhookEndpointRequest) (*v1.GetWebhookEndpointResponse, error) {
	e, err := s.hooks.Get(ctx, req.GetEndpointId())
	if err != nil {
		return nil, err
	}
	return &v1.GetWebhookEndpointResponse{Endpoint: endpointPB(e)}, nil
}

func (s *webhookServer) DeleteWebhookEndpoint(ctx context.Context, req *v1.DeleteWebhookEndpointRequest) (*v1.DeleteWebhookEndpointResponse, error) {
	if err := s.hooks.Delete(ctx, req.GetEndpointId()); err != nil {
		return nil, err
	}
	return &v1.DeleteWebhookEndpointResponse{}, nil
}

func (s *webhookServer) RotateWebhookSecret(ctx context.Context, req *v1.RotateWebhookSecretRequest) (*v1.RotateWebhookSecretResponse, error) {
	e, secret, err := s.hooks.Rotate(ctx, req.GetEndpointId(), time.Now())
	if err != nil {
		return nil, err
	}
	return &v1.RotateWebhookSecretResponse{Endpoint: endpointPB(e), Secret: secret}, nil
}

func (s *webhookServer) ListWebhookDeliveries(ctx context.Context, req *v1.ListWebhookDeliveriesRequest) (*v1.ListWebhookDeliveriesResponse, error) {
	list, next, err := s.hooks.Deliveries(ctx, req.GetEndpointId(), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &v1.ListWebhookDeliveriesResponse{NextPageToken: next, Deliveries: make([]*v1.WebhookDelivery, len(list))}
	for i, d := range list {
		resp.Deliveries[i] = deliveryPB(d)
	}
	return resp, nil
}

func (s *webhookServer) RetryWebhookDelivery(ctx context.Context, req *v1.RetryWebhookDeliveryRequest) (*v1.RetryWebhookDeliveryResponse, error) {
	id, err := parseID("deliveryId", req.GetDeliveryId())
	if err != nil {
		return nil, err
	}
	d, err := s.hooks.Retry(ctx, req.GetEndpointId(), id, time.Now())
	if err != nil {
		return nil, err
	}
	return &v1.RetryWebhookDeliveryResponse{Delivery: deliveryPB(d)}, nil
}

func (s *webhookServer) ReplayWebhookEndpoint(ctx context.Context, req *v1.ReplayWebhookEndpointRequest) (*v1.ReplayWebhookEndpointResponse, error) {
	after, err := events.ParsePosition(req.GetAfterPosition())
	if err != nil {
		return nil, err
	}
	var since time.Time
	if req.GetStartTime() != nil {
		since = req.GetStartTime().AsTime()
	}
	e, err := s.hooks.Replay(ctx, req.GetEndpointId(), after, since)
	if err != nil {
		return nil, err
	}
	return &v1.ReplayWebhookEndpointResponse{Endpoint: endpointPB(e)}, nil
}

func eventTypes(types []string) []events.Type {
	out := make([]events.Type, len(types))
	for i, t := range types {
		out[i] = events.Type(t)
	}
	return out
}

func endpointPB(e events.Endpoint) *v1.WebhookEndpoint {
	pb := &v1.WebhookEndpoint{
		EndpointId: e.ID, Url: e.URL, Description: e.Description, Status: e.Status, DisabledReason: e.DisabledReason,
		CreateTime: timestamppb.New(e.CreateTime), Position: e.Position.String(),
	}
	for _, t := range e.EventTypes {
		pb.EventTypes = append(pb.EventTypes, string(t))
	}
	if e.PreviousSecretExpireTime != nil && time.Now().Before(*e.PreviousSecretExpireTime) {
		pb.PreviousSecretExpireTime = timestamppb.New(*e.PreviousSecretExpireTime)
	}
	return pb
}

func deliveryPB(d events.Delivery) *v1.WebhookDelivery {
	pb := &v1.WebhookDelivery{
		DeliveryId: formatID(d.ID), EndpointId: d.EndpointID, EventId: d.EventID, EventType: string(d.EventType),
		MemberId: d.MemberID, MemberSeq: d.MemberSeq, Status: d.Status, Attempts: int32(d.Attempts),
		LastStatusCode: int32(d.LastStatusCode), LastLatencyMs: d.LastLatency.Milliseconds(), LastError: d.LastError,
		CreateTime: timestamppb.New(d.CreateTime),
	}
	if d.Status == events.DeliveryPending {
		pb.NextAttemptTime = timestamppb.New(d.NextAttemptTime)
	}
	if d.DeliverTime != nil {
		pb.DeliverTime = timestamppb.New(*d.DeliverTime)
	}
	return pb
}
