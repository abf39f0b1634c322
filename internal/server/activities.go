package server

import (
	"context"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/campaigns"
)

type activityServer struct {
	loyaltyv1.UnimplementedActivityServiceServer
	campaigns *campaigns.Service
}

func (s *activityServer) RecordActivity(ctx context.Context, req *loyaltyv1.RecordActivityRequest) (*loyaltyv1.RecordActivityResponse, error) {
	requestID, err := requestIDOf(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	a := campaigns.Activity{RequestID: requestID, MemberID: req.GetMemberId(), Type: req.GetType(), Key: req.GetActivityKey(),
		Attributes: req.GetAttributes()}
	if t := req.GetOccurTime(); t != nil {
		a.OccurTime = t.AsTime()
	}
	res, err := s.campaigns.RecordActivity(ctx, actorOf(ctx), a)
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.RecordActivityResponse{
		MemberId: res.MemberID, Type: res.Type, ActivityKey: res.Key, RequestId: res.RequestID,
		Grants:   make([]*loyaltyv1.ActivityGrant, len(res.Grants)),
		Refusals: make([]*loyaltyv1.CampaignRefusal, len(res.Refusals)),
		Points:   res.Points, Reason: res.Reason, Replayed: res.Replayed,
		OccurTime: optionalTime(res.OccurTime), Time: optionalTime(res.Time),
	}
	for i, g := range res.Grants {
		resp.Grants[i] = &loyaltyv1.ActivityGrant{CampaignId: g.CampaignID, Points: g.Points, EntryId: formatID(g.EntryID)}
	}
	for i, r := range res.Refusals {
		resp.Refusals[i] = &loyaltyv1.CampaignRefusal{CampaignId: r.CampaignID, Reason: r.Reason, RuleError: r.RuleError}
	}
	return resp, nil
}

func (s *activityServer) ListActivityTypes(ctx context.Context, _ *loyaltyv1.ListActivityTypesRequest) (*loyaltyv1.ListActivityTypesResponse, error) {
	types, err := s.campaigns.ActivityTypes(ctx)
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.ListActivityTypesResponse{}
	for _, t := range types {
		resp.ActivityTypes = append(resp.ActivityTypes, &loyaltyv1.ActivityType{Type: t.Type, Description: t.Description})
	}
	return resp, nil
}

func (s *activityServer) CreateActivityType(ctx context.Context, req *loyaltyv1.CreateActivityTypeRequest) (*loyaltyv1.CreateActivityTypeResponse, error) {
	t, created, err := s.campaigns.CreateActivityType(ctx, campaigns.ActivityType{Type: req.GetType(), Description: req.GetDescription()})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.CreateActivityTypeResponse{ActivityType: &loyaltyv1.ActivityType{Type: t.Type, Description: t.Description}, Created: created}, nil
}
