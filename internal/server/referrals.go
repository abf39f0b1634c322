package server

import (
	"context"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/campaigns"
)

type referralServer struct {
	loyaltyv1.UnimplementedReferralServiceServer
	campaigns *campaigns.Service
}

func (s *referralServer) RecordReferral(ctx context.Context, req *loyaltyv1.RecordReferralRequest) (*loyaltyv1.RecordReferralResponse, error) {
	requestID, err := requestIDOf(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	r, err := s.campaigns.RecordReferral(ctx, actorOf(ctx), campaigns.RecordReferralCmd{RequestID: requestID,
		MemberID: req.GetMemberId(), ReferredMemberID: req.GetReferredMemberId()})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.RecordReferralResponse{Referral: referralPB(r), Replayed: r.Replayed}, nil
}

func (s *referralServer) ListReferrals(ctx context.Context, req *loyaltyv1.ListReferralsRequest) (*loyaltyv1.ListReferralsResponse, error) {
	list, next, err := s.campaigns.Referrals(ctx, campaigns.ReferralQuery{MemberID: req.GetMemberId(), PageSize: req.GetPageSize(), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.ListReferralsResponse{NextPageToken: next, Referrals: make([]*loyaltyv1.Referral, len(list))}
	for i, r := range list {
		resp.Referrals[i] = referralPB(r)
	}
	return resp, nil
}

func referralPB(r campaigns.Referral) *loyaltyv1.Referral {
	pb := &loyaltyv1.Referral{MemberId: r.ReferrerMemberID, ReferredMemberId: r.ReferredMemberID, RequestId: r.RequestID,
		Status: r.Status, CampaignId: r.CampaignID, ReferrerPoints: r.ReferrerPoints, ReferredPoints: r.ReferredPoints,
		CreateTime: optionalTime(r.CreateTime), SettleTime: optionalTime(r.SettleTime)}
	if r.ReferrerEntryID != 0 {
		pb.ReferrerEntryId = formatID(r.ReferrerEntryID)
	}
	if r.ReferredEntryID != 0 {
		pb.ReferredEntryId = formatID(r.ReferredEntryID)
	}
	return pb
}
