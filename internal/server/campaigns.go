package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/tiers"
)

type campaignServer struct {
	loyaltyv1.UnimplementedCampaignServiceServer
	campaigns *campaigns.Service
	// tiers tells the business time (campaigns has no clock of its own to ask), at
	// which a campaign's status is answered.
	tiers *tiers.Service
}

func (s *campaignServer) CreateCampaign(ctx context.Context, req *loyaltyv1.CreateCampaignRequest) (*loyaltyv1.CreateCampaignResponse, error) {
	requestID, err := requestIDOf(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	c, err := s.campaigns.Create(ctx, actorOf(ctx).KeyID, campaigns.Create{RequestID: requestID, Definition: definitionOf(req)})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.CreateCampaignResponse{Campaign: campaignPB(c, s.tiers.Now())}, nil
}

func (s *campaignServer) GetCampaign(ctx context.Context, req *loyaltyv1.GetCampaignRequest) (*loyaltyv1.GetCampaignResponse, error) {
	c, err := s.campaigns.Get(ctx, req.GetCampaignId())
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.GetCampaignResponse{Campaign: campaignPB(c, s.tiers.Now())}, nil
}

func (s *campaignServer) ListCampaigns(ctx context.Context, req *loyaltyv1.ListCampaignsRequest) (*loyaltyv1.ListCampaignsResponse, error) {
	list, next, err := s.campaigns.List(ctx, campaigns.ListQuery{Status: req.GetStatus(), PageSize: req.GetPageSize(), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, err
	}
	now := s.tiers.Now()
	resp := &loyaltyv1.ListCampaignsResponse{NextPageToken: next, Campaigns: make([]*loyaltyv1.Campaign, len(list))}
	for i, c := range list {
		resp.Campaigns[i] = campaignPB(c, now)
	}
	return resp, nil
}

func (s *campaignServer) ActivateCampaign(ctx context.Context, req *loyaltyv1.ActivateCampaignRequest) (*loyaltyv1.ActivateCampaignResponse, error) {
	c, err := s.campaigns.Activate(ctx, req.GetCampaignId())
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.ActivateCampaignResponse{Campaign: campaignPB(c, s.tiers.Now())}, nil
}

func (s *campaignServer) PauseCampaign(ctx context.Context, req *loyaltyv1.PauseCampaignRequest) (*loyaltyv1.PauseCampaignResponse, error) {
	c, err := s.campaigns.Pause(ctx, req.GetCampaignId())
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.PauseCampaignResponse{Campaign: campaignPB(c, s.tiers.Now())}, nil
}

func (s *campaignServer) EndCampaign(ctx context.Context, req *loyaltyv1.EndCampaignRequest) (*loyaltyv1.EndCampaignResponse, error) {
	c, err := s.campaigns.End(ctx, req.GetCampaignId())
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.EndCampaignResponse{Campaign: campaignPB(c, s.tiers.Now())}, nil
}

func (s *campaignServer) SimulateCampaign(ctx context.Context, req *loyaltyv1.SimulateCampaignRequest) (*loyaltyv1.SimulateCampaignResponse, error) {
	sim, err := s.campaigns.Simulate(ctx, campaigns.Simulate{
		CampaignID: req.GetCampaignId(), MemberID: req.GetMemberId(), OrderID: req.GetOrderId(),
		SpendMinor: req.GetSpend().GetAmountMinor(), Currency: req.GetSpend().GetCurrency(),
		EventType: req.GetEventType(), DelayHours: req.GetDelayHours(),
		ActivityType: req.GetActivityType(), ActivityKey: req.GetActivityKey(),
	})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.SimulateCampaignResponse{
		CampaignId: sim.CampaignID, ActiveNow: sim.ActiveNow, Eligible: sim.Eligible, TierId: sim.TierID,
		BasePoints: sim.BasePoints, Points: sim.Points, Coupons: sim.Coupons, Reason: sim.Reason,
		BudgetPointsLeft: sim.BudgetPointsLeft, BudgetCouponsLeft: sim.BudgetCouponsLeft,
		CapPointsLeft: sim.CapPointsLeft, CapCouponsLeft: sim.CapCouponsLeft, RuleError: sim.RuleError,
	}, nil
}

// campaignDefinition is what CreateCampaignRequest and Campaign share: a
// campaign's definition as the marketer wrote it.
type campaignDefinition interface {
	GetDisplayName() string
	GetType() string
	GetSchedule() *loyaltyv1.CampaignSchedule
	GetEligibility() *loyaltyv1.CampaignEligibility
	GetMultiplierPercent() int32
	GetBonusPoints() int64
	GetCoupon() *loyaltyv1.CouponTemplate
	GetCompensation() *loyaltyv1.CampaignCompensation
	GetBudget() *loyaltyv1.CampaignBudget
	GetPerMemberCap() *loyaltyv1.CampaignCap
	GetActivity() *loyaltyv1.CampaignActivity
	GetReferral() *loyaltyv1.CampaignReferral
}

// definitionOf converts a definition; the domain checks it (naming fields such as
// schedule.timeZone or eligibility.rule). Empty lists and maps become nil, so that a
// repeat of a creation with "tiers": [] is the same definition as the first.
func definitionOf(d campaignDefinition) campaigns.Definition {
	sched, elig, coupon, comp := d.GetSchedule(), d.GetEligibility(), d.GetCoupon(), d.GetCompensation()
	def := campaigns.Definition{
		DisplayName: d.GetDisplayName(), Type: d.GetType(),
		Schedule:          campaigns.Schedule{StartTime: sched.GetStartTime(), EndTime: sched.GetEndTime(), TimeZone: sched.GetTimeZone()},
		Eligibility:       campaigns.Eligibility{Tiers: nilIfEmpty(elig.GetTiers()), Rule: elig.GetRule()},
		MultiplierPercent: d.GetMultiplierPercent(), BonusPoints: d.GetBonusPoints(),
		Coupon: campaigns.CouponTemplate{Kind: coupon.GetKind(), AmountOffMinor: coupon.GetAmountOffMinor(), PercentOff: coupon.GetPercentOff(),
			MinSpendMinor: coupon.GetMinSpendMinor(), ValidDays: coupon.GetValidDays()},
		Compensation: campaigns.Compensation{EventTypes: nilIfEmpty(comp.GetEventTypes()), MinDelayHours: comp.GetMinDelayHours(),
			Points: comp.GetPoints()},
		Budget:       campaigns.Budget{Points: d.GetBudget().GetPoints(), Coupons: d.GetBudget().GetCoupons()},
		PerMemberCap: campaigns.Cap{Points: d.GetPerMemberCap().GetPoints(), Coupons: d.GetPerMemberCap().GetCoupons()},
	}
	if tp := comp.GetTierPercent(); len(tp) > 0 {
		def.Compensation.TierPercent = tp
	}
	if a := d.GetActivity(); a != nil {
		caps := a.GetCaps()
		def.Activity = campaigns.ActivityReward{ActivityTypes: nilIfEmpty(a.GetActivityTypes()), Points: a.GetPoints(),
			Caps: campaigns.ActivityCaps{PerDay: caps.GetPerDay(), PerWeek: caps.GetPerWeek(), PerMonth: caps.GetPerMonth(), PerActivityKey: caps.GetPerActivityKey()}}
	}
	if r := d.GetReferral(); r != nil {
		def.Referral = campaigns.ReferralReward{ReferrerPoints: r.GetReferrerPoints(), ReferredPoints: r.GetReferredPoints(),
			Caps: campaigns.ReferralCaps{PerReferrerPerMonth: r.GetCaps().GetPerReferrerPerMonth()}}
	}
	return def
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// campaignPB answers a campaign as it stands at now. The parts of the definition
// that were not given (all zero) are absent, as is remaining without a budget.
func campaignPB(c campaigns.Campaign, now time.Time) *loyaltyv1.Campaign {
	d := c.Definition
	pb := &loyaltyv1.Campaign{
		CampaignId: c.ID, DisplayName: d.DisplayName, Type: d.Type,
		MultiplierPercent: d.MultiplierPercent, BonusPoints: d.BonusPoints,
		Status: c.EffectiveStatus(now), StartsAt: optionalTime(c.Start), EndsAt: optionalTime(c.End),
		Spent:  &loyaltyv1.CampaignBudget{Points: c.SpentPoints, Coupons: c.IssuedCoupons},
		Grants: c.Grants, CreateTime: optionalTime(c.CreateTime), UpdateTime: optionalTime(c.UpdateTime),
	}
	if s := d.Schedule; s != (campaigns.Schedule{}) {
		pb.Schedule = &loyaltyv1.CampaignSchedule{StartTime: s.StartTime, EndTime: s.EndTime, TimeZone: s.TimeZone}
	}
	if e := d.Eligibility; len(e.Tiers) > 0 || e.Rule != "" {
		pb.Eligibility = &loyaltyv1.CampaignEligibility{Tiers: e.Tiers, Rule: e.Rule}
	}
	if t := d.Coupon; t != (campaigns.CouponTemplate{}) {
		pb.Coupon = &loyaltyv1.CouponTemplate{Kind: t.Kind, AmountOffMinor: t.AmountOffMinor, PercentOff: t.PercentOff,
			MinSpendMinor: t.MinSpendMinor, ValidDays: t.ValidDays}
	}
	if k := d.Compensation; len(k.EventTypes) > 0 || k.MinDelayHours != 0 || k.Points != 0 || len(k.TierPercent) > 0 {
		pb.Compensation = &loyaltyv1.CampaignCompensation{EventTypes: k.EventTypes, MinDelayHours: k.MinDelayHours,
			Points: k.Points, TierPercent: k.TierPercent}
	}
	if a := d.Activity; len(a.ActivityTypes) > 0 || a.Points != 0 || a.Caps != (campaigns.ActivityCaps{}) {
		pb.Activity = &loyaltyv1.CampaignActivity{ActivityTypes: a.ActivityTypes, Points: a.Points,
			Caps: &loyaltyv1.ActivityCaps{PerDay: a.Caps.PerDay, PerWeek: a.Caps.PerWeek, PerMonth: a.Caps.PerMonth, PerActivityKey: a.Caps.PerActivityKey}}
	}
	if r := d.Referral; r != (campaigns.ReferralReward{}) {
		pb.Referral = &loyaltyv1.CampaignReferral{ReferrerPoints: r.ReferrerPoints, ReferredPoints: r.ReferredPoints,
			Caps: &loyaltyv1.ReferralCaps{PerReferrerPerMonth: r.Caps.PerReferrerPerMonth}}
	}
	if b := d.Budget; b != (campaigns.Budget{}) {
		pb.Budget = &loyaltyv1.CampaignBudget{Points: b.Points, Coupons: b.Coupons}
		pb.Remaining = &loyaltyv1.CampaignRemaining{}
		if b.Points > 0 {
			left := max(b.Points-c.SpentPoints, 0)
			pb.Remaining.Points = &left
		}
		if b.Coupons > 0 {
			left := max(b.Coupons-c.IssuedCoupons, 0)
			pb.Remaining.Coupons = &left
		}
	}
	if m := d.PerMemberCap; m != (campaigns.Cap{}) {
		pb.PerMemberCap = &loyaltyv1.CampaignCap{Points: m.Points, Coupons: m.Coupons}
	}
	return pb
}

type couponServer struct {
	loyaltyv1.UnimplementedCouponServiceServer
	campaigns *campaigns.Service
}

func (s *couponServer) GetCouponAllowance(ctx context.Context, _ *loyaltyv1.GetCouponAllowanceRequest) (*loyaltyv1.GetCouponAllowanceResponse, error) {
	a, err := s.campaigns.CouponAllowance(ctx)
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.GetCouponAllowanceResponse{Allowance: couponAllowancePB(a)}, nil
}

func (s *couponServer) UpdateCouponAllowance(ctx context.Context, req *loyaltyv1.UpdateCouponAllowanceRequest) (*loyaltyv1.UpdateCouponAllowanceResponse, error) {
	a, err := s.campaigns.SetCouponAllowance(ctx, actorOf(ctx).KeyID, campaigns.SetCouponAllowance{CampaignID: req.GetCampaignId()})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.UpdateCouponAllowanceResponse{Allowance: couponAllowancePB(a)}, nil
}

func couponAllowancePB(a campaigns.CouponAllowance) *loyaltyv1.CouponAllowance {
	pb := &loyaltyv1.CouponAllowance{CampaignId: a.CampaignID, ActorKeyId: a.ActorKeyID}
	if !a.UpdateTime.IsZero() {
		pb.UpdateTime = timestamppb.New(a.UpdateTime)
	}
	return pb
}

func (s *couponServer) IssueCoupon(ctx context.Context, req *loyaltyv1.IssueCouponRequest) (*loyaltyv1.IssueCouponResponse, error) {
	requestID, err := requestIDOf(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	c, err := s.campaigns.IssueCoupon(ctx, campaigns.IssueCoupon{MemberID: req.GetMemberId(), RequestID: requestID, CampaignID: req.GetCampaignId()})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.IssueCouponResponse{Coupon: couponPB(c)}, nil
}

func (s *couponServer) ListCoupons(ctx context.Context, req *loyaltyv1.ListCouponsRequest) (*loyaltyv1.ListCouponsResponse, error) {
	list, next, err := s.campaigns.Coupons(ctx, campaigns.CouponQuery{MemberID: req.GetMemberId(), PageSize: req.GetPageSize(), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.ListCouponsResponse{NextPageToken: next, Coupons: make([]*loyaltyv1.Coupon, len(list))}
	for i, c := range list {
		resp.Coupons[i] = couponPB(c)
	}
	return resp, nil
}

func (s *couponServer) GetCoupon(ctx context.Context, req *loyaltyv1.GetCouponRequest) (*loyaltyv1.GetCouponResponse, error) {
	c, err := s.campaigns.Coupon(ctx, req.GetCode())
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.GetCouponResponse{Coupon: couponPB(c)}, nil
}

func (s *couponServer) RedeemCoupon(ctx context.Context, req *loyaltyv1.RedeemCouponRequest) (*loyaltyv1.RedeemCouponResponse, error) {
	requestID, err := requestIDOf(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	c, err := s.campaigns.RedeemCoupon(ctx, campaigns.RedeemCoupon{
		Code: req.GetCode(), RequestID: requestID, MemberID: req.GetMemberId(), OrderID: req.GetOrderId(), SpendMinor: req.GetSpendMinor(),
	})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.RedeemCouponResponse{Coupon: couponPB(c)}, nil
}

func (s *couponServer) RevokeCoupon(ctx context.Context, req *loyaltyv1.RevokeCouponRequest) (*loyaltyv1.RevokeCouponResponse, error) {
	c, err := s.campaigns.RevokeCoupon(ctx, req.GetCode())
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.RevokeCouponResponse{Coupon: couponPB(c)}, nil
}

func couponPB(c campaigns.Coupon) *loyaltyv1.Coupon {
	return &loyaltyv1.Coupon{
		Code: c.Code, MemberId: c.MemberID, CampaignId: c.CampaignID, Kind: c.Kind, AmountOffMinor: c.AmountOffMinor,
		PercentOff: c.PercentOff, MinSpendMinor: c.MinSpendMinor, Status: c.Status,
		IssueTime: timestamppb.New(c.IssueTime), ValidUntil: timestamppb.New(c.ValidUntil), RedeemTime: optionalTime(c.RedeemTime),
		RedeemOrderId: c.RedeemOrderID, EventOrderId: c.EventOrderID, EventType: c.EventType,
	}
}

type afterSalesServer struct {
	loyaltyv1.UnimplementedAfterSalesServiceServer
	campaigns *campaigns.Service
}

func (s *afterSalesServer) ReportAfterSalesEvent(ctx context.Context, req *loyaltyv1.ReportAfterSalesEventRequest) (*loyaltyv1.ReportAfterSalesEventResponse, error) {
	requestID, err := requestIDOf(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	res, err := s.campaigns.Compensate(ctx, actorOf(ctx), campaigns.AfterSalesEvent{
		RequestID: requestID, MemberID: req.GetMemberId(), OrderID: req.GetOrderId(), Type: req.GetType(),
		DelayHours: req.GetDelayHours(), Note: req.GetNote(),
	})
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.ReportAfterSalesEventResponse{
		MemberId: res.MemberID, OrderId: res.OrderID, Type: res.Type, RequestId: res.RequestID,
		Grants:   make([]*loyaltyv1.CompensationGrant, len(res.Grants)),
		Refusals: make([]*loyaltyv1.CampaignRefusal, len(res.Refusals)),
		Reason:   res.Reason, Replayed: res.Replayed, Time: optionalTime(res.Time),
	}
	for i, g := range res.Grants {
		resp.Grants[i] = &loyaltyv1.CompensationGrant{CampaignId: g.CampaignID, Points: g.Points, EntryId: formatID(g.EntryID),
			CouponCode: g.CouponCode, TierPercent: g.TierPercent}
	}
	for i, r := range res.Refusals {
		resp.Refusals[i] = &loyaltyv1.CampaignRefusal{CampaignId: r.CampaignID, Reason: r.Reason, RuleError: r.RuleError}
	}
	return resp, nil
}

func (s *campaignServer) CheckCampaignRule(ctx context.Context, req *loyaltyv1.CheckCampaignRuleRequest) (*loyaltyv1.CheckCampaignRuleResponse, error) {
	comp := req.GetCompensation()
	issues, err := campaigns.CheckRule(campaigns.Definition{
		Type:         req.GetType(),
		Eligibility:  campaigns.Eligibility{Tiers: nilIfEmpty(req.GetTiers()), Rule: req.GetRule()},
		Compensation: campaigns.Compensation{EventTypes: nilIfEmpty(comp.GetEventTypes()), MinDelayHours: comp.GetMinDelayHours()},
	})
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.CheckCampaignRuleResponse{Valid: len(issues) == 0}
	for _, i := range issues {
		resp.Issues = append(resp.Issues, &loyaltyv1.RuleIssue{Message: i.Message, Line: int32(i.Line), Column: int32(i.Column)})
	}
	return resp, nil
}

func (s *campaignServer) GetCampaignStats(ctx context.Context, req *loyaltyv1.GetCampaignStatsRequest) (*loyaltyv1.GetCampaignStatsResponse, error) {
	st, err := s.campaigns.Stats(ctx, req.GetCampaignId())
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.GetCampaignStatsResponse{CampaignId: st.CampaignID, TimeZone: st.TimeZone,
		CouponsIssued: st.CouponsIssued, CouponsRedeemed: st.CouponsRedeemed, CouponsRevoked: st.CouponsRevoked, CouponsExpired: st.CouponsExpired}
	for _, d := range st.Days {
		resp.Days = append(resp.Days, &loyaltyv1.CampaignDay{Day: d.Day, Points: d.Points, Grants: d.Grants,
			CouponsIssued: d.CouponsIssued, CouponsRedeemed: d.CouponsRedeemed})
	}
	return resp, nil
}
