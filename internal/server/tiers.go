package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/tiers"
)

// Sources of a member's effective tier, as GetPerks answers them.
const (
	tierSourceQualified = "QUALIFIED"
	tierSourcePaid      = "PAID"
)

type tierServer struct {
	loyaltyv1.UnimplementedTierServiceServer
	tiers *tiers.Service
}

func (s *tierServer) GetTierPolicy(ctx context.Context, _ *loyaltyv1.GetTierPolicyRequest) (*loyaltyv1.GetTierPolicyResponse, error) {
	p, err := s.tiers.Policy(ctx)
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.GetTierPolicyResponse{Policy: tierPolicyPB(p)}, nil
}

func (s *tierServer) UpdateTierPolicy(ctx context.Context, req *loyaltyv1.UpdateTierPolicyRequest) (*loyaltyv1.UpdateTierPolicyResponse, error) {
	in := req.GetPolicy()
	if in == nil {
		return nil, problem.InvalidField("policy", "is required")
	}
	p := tiers.Policy{
		Metric: in.GetMetric(), WindowDays: in.GetWindowDays(), PeriodDays: in.GetPeriodDays(), GraceDays: in.GetGraceDays(),
		OneDown: in.GetOneDown(), QualifyingSources: in.GetQualifyingSources(), Tiers: make([]tiers.Tier, len(in.GetTiers())),
		DowngradeReminderDays: in.GetDowngradeReminderDays(),
	}
	for i, t := range in.GetTiers() {
		p.Tiers[i] = tiers.Tier{ID: t.GetId(), DisplayName: t.GetDisplayName(), Threshold: t.GetThreshold(), Perks: perksOf(t.GetPerks())}
	}
	updated, err := s.tiers.UpdatePolicy(ctx, actorOf(ctx).KeyID, p)
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.UpdateTierPolicyResponse{Policy: tierPolicyPB(updated)}, nil
}

func (s *tierServer) GetPerks(ctx context.Context, req *loyaltyv1.GetPerksRequest) (*loyaltyv1.GetPerksResponse, error) {
	mp, err := s.tiers.Perks(ctx, req.GetMemberId())
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.GetPerksResponse{
		MemberId: mp.MemberID, Tier: &loyaltyv1.MemberTier{Id: mp.Tier.ID, DisplayName: mp.Tier.DisplayName, Threshold: mp.Tier.Threshold},
		Perks: perksPB(mp.Tier.Perks), Source: tierSourceQualified, PolicyVersion: mp.PolicyVersion, AsOf: timestamppb.New(mp.AsOf),
	}
	if mp.Paid {
		resp.Source = tierSourcePaid
	}
	if mp.Membership != nil {
		resp.Membership = membershipPB(*mp.Membership, mp.AsOf)
	}
	pr := mp.Progress
	resp.Progress = &loyaltyv1.TierProgress{
		Metric: pr.Metric, WindowDays: pr.WindowDays, Value: pr.Value, QualifiedTierId: pr.QualifiedTierID,
		HeldUntil: optionalTime(pr.HeldUntil), InGrace: pr.InGrace, KeepThreshold: pr.KeepThreshold, KeepNeeded: pr.KeepNeeded,
		NextTierId: pr.NextTierID, NextThreshold: pr.NextThreshold, NeededForNext: pr.NeededForNext,
	}
	return resp, nil
}

func (s *tierServer) ListTierHistory(ctx context.Context, req *loyaltyv1.ListTierHistoryRequest) (*loyaltyv1.ListTierHistoryResponse, error) {
	h, err := s.tiers.History(ctx, tiers.HistoryQuery{MemberID: req.GetMemberId(), PageSize: req.GetPageSize(), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.ListTierHistoryResponse{NextPageToken: h.NextPageToken, Changes: make([]*loyaltyv1.TierChange, len(h.Changes))}
	for i, c := range h.Changes {
		resp.Changes[i] = &loyaltyv1.TierChange{
			ChangeId: formatID(c.ID), FromTierId: c.From, ToTierId: c.To, Reason: c.Reason, Metric: c.Metric,
			PeriodEnd: optionalTime(c.PeriodEnd), GraceEnd: optionalTime(c.GraceEnd), MembershipId: formatID(c.MembershipID),
			PolicyVersion: c.PolicyVersion, CreateTime: timestamppb.New(c.Time),
		}
	}
	return resp, nil
}

func (s *tierServer) CreateMembership(ctx context.Context, req *loyaltyv1.CreateMembershipRequest) (*loyaltyv1.CreateMembershipResponse, error) {
	requestID, err := requestIDOf(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	start, err := timeOf("startTime", req.GetStartTime())
	if err != nil {
		return nil, err
	}
	end, err := timeOf("endTime", req.GetEndTime())
	if err != nil {
		return nil, err
	}
	m, err := s.tiers.BuyMembership(ctx, actorOf(ctx).KeyID, tiers.BuyMembership{
		MemberID: req.GetMemberId(), RequestID: requestID, TierID: req.GetTierId(),
		StartTime: start, EndTime: end, OrderID: req.GetOrderId(),
	})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.CreateMembershipResponse{Membership: membershipPB(m, s.tiers.Now())}, nil
}

func (s *tierServer) ListMemberships(ctx context.Context, req *loyaltyv1.ListMembershipsRequest) (*loyaltyv1.ListMembershipsResponse, error) {
	list, err := s.tiers.Memberships(ctx, req.GetMemberId())
	if err != nil {
		return nil, err
	}
	now := s.tiers.Now()
	resp := &loyaltyv1.ListMembershipsResponse{Memberships: make([]*loyaltyv1.Membership, len(list))}
	for i, m := range list {
		resp.Memberships[i] = membershipPB(m, now)
	}
	return resp, nil
}

func (s *tierServer) CancelMembership(ctx context.Context, req *loyaltyv1.CancelMembershipRequest) (*loyaltyv1.CancelMembershipResponse, error) {
	id, err := parseID("membershipId", req.GetMembershipId())
	if err != nil {
		return nil, err
	}
	m, err := s.tiers.CancelMembership(ctx, req.GetMemberId(), id)
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.CancelMembershipResponse{Membership: membershipPB(m, s.tiers.Now())}, nil
}

func (s *tierServer) CheckEntitlement(ctx context.Context, req *loyaltyv1.CheckEntitlementRequest) (*loyaltyv1.CheckEntitlementResponse, error) {
	e, err := s.tiers.CheckEntitlement(ctx, req.GetMemberId(), req.GetPerk())
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.CheckEntitlementResponse{Entitlement: entitlementPB(e)}, nil
}

func (s *tierServer) ListEntitlements(ctx context.Context, req *loyaltyv1.ListEntitlementsRequest) (*loyaltyv1.ListEntitlementsResponse, error) {
	list, err := s.tiers.ListEntitlements(ctx, req.GetMemberId())
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.ListEntitlementsResponse{Entitlements: make([]*loyaltyv1.Entitlement, len(list))}
	for i, e := range list {
		resp.Entitlements[i] = entitlementPB(e)
	}
	return resp, nil
}

func (s *tierServer) ConsumeEntitlement(ctx context.Context, req *loyaltyv1.ConsumeEntitlementRequest) (*loyaltyv1.ConsumeEntitlementResponse, error) {
	requestID, err := requestIDOf(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	c, err := s.tiers.ConsumeEntitlement(ctx, actorOf(ctx).KeyID, tiers.ConsumeEntitlement{
		MemberID: req.GetMemberId(), Perk: req.GetPerk(), RequestID: requestID, OrderID: req.GetOrderId(),
	})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.ConsumeEntitlementResponse{
		Entitlement: entitlementPB(c.Entitlement), RequestId: c.RequestID, OrderId: c.OrderID, UseTime: timestamppb.New(c.UseTime),
	}, nil
}

func tierPolicyPB(p tiers.Policy) *loyaltyv1.TierPolicy {
	pb := &loyaltyv1.TierPolicy{
		Metric: p.Metric, WindowDays: p.WindowDays, PeriodDays: p.PeriodDays, GraceDays: p.GraceDays, OneDown: p.OneDown,
		QualifyingSources: p.QualifyingSources, Tiers: make([]*loyaltyv1.Tier, len(p.Tiers)),
		DowngradeReminderDays: p.DowngradeReminderDays, Version: p.Version, UpdateTime: optionalTime(p.UpdateTime),
	}
	for i, t := range p.Tiers {
		pb.Tiers[i] = &loyaltyv1.Tier{Id: t.ID, DisplayName: t.DisplayName, Threshold: t.Threshold, Perks: perksPB(t.Perks)}
	}
	return pb
}

func perksPB(p tiers.Perks) *loyaltyv1.Perks {
	return &loyaltyv1.Perks{
		EarnMultiplierPercent: p.EarnMultiplierPercent, SupportPriority: p.SupportPriority, SupportResponseHours: p.SupportResponseHours,
		RefundMode: p.RefundMode, InstantRefundLimitMinor: p.InstantRefundLimitMinor, FreeReturnShipping: p.FreeReturnShipping,
		BirthdayBonusPoints: p.BirthdayBonusPoints, MonthlyCouponAllowance: p.MonthlyCouponAllowance, FreeReturnPickups: p.FreeReturnPickups,
	}
}

// perksOf is the inverse of perksPB; absent perks are all zero (which the policy's
// validation refuses, naming the fields).
func perksOf(p *loyaltyv1.Perks) tiers.Perks {
	return tiers.Perks{
		EarnMultiplierPercent: p.GetEarnMultiplierPercent(), SupportPriority: p.GetSupportPriority(), SupportResponseHours: p.GetSupportResponseHours(),
		RefundMode: p.GetRefundMode(), InstantRefundLimitMinor: p.GetInstantRefundLimitMinor(), FreeReturnShipping: p.GetFreeReturnShipping(),
		BirthdayBonusPoints: p.GetBirthdayBonusPoints(), MonthlyCouponAllowance: p.GetMonthlyCouponAllowance(), FreeReturnPickups: p.GetFreeReturnPickups(),
	}
}

// membershipPB answers a membership as it stands at now (active or not).
func membershipPB(m tiers.Membership, now time.Time) *loyaltyv1.Membership {
	return &loyaltyv1.Membership{
		MembershipId: formatID(m.ID), MemberId: m.MemberID, TierId: m.TierID, RequestId: m.RequestID, OrderId: m.OrderID,
		StartTime: timestamppb.New(m.StartTime), EndTime: timestamppb.New(m.EndTime), CancelTime: optionalTime(m.CancelTime),
		CreateTime: timestamppb.New(m.CreateTime), Active: m.ActiveAt(now),
	}
}

func entitlementPB(e tiers.Entitlement) *loyaltyv1.Entitlement {
	return &loyaltyv1.Entitlement{
		MemberId: e.MemberID, Perk: e.Perk, TierId: e.TierID, Quota: e.Quota, Used: e.Used, Remaining: e.Remaining,
		Allowed: e.Allowed, CycleStart: timestamppb.New(e.CycleStart), CycleEnd: timestamppb.New(e.CycleEnd),
	}
}

// optionalTime is nil for the zero time (absent in JSON rather than year 1).
func optionalTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// timeOf reads an optional timestamp: absent is the zero time; one out of range
// is refused naming the field.
func timeOf(field string, ts *timestamppb.Timestamp) (time.Time, error) {
	if ts == nil {
		return time.Time{}, nil
	}
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, problem.InvalidField(field, "is not a valid timestamp")
	}
	return ts.AsTime(), nil
}
