package server

import (
	"context"
	"strconv"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/loyalty-engine/loyalty/access"
	v1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/bulk"
	"github.com/loyalty-engine/loyalty/internal/problem"
)

// bulkServer runs bulk credits. Admins run any; a marketer only those a campaign's
// budget funds (roles.go lets marketers in, this checks the funding).
type bulkServer struct {
	v1.UnimplementedBulkCreditServiceServer
	bulk *bulk.Service
}

// errUnfunded refuses a marketer's bulk credit without a campaign to fund it.
var errUnfunded = problem.New(problem.PermissionDenied, "PERMISSION_DENIED",
	"a marketer's bulk credit must be funded by a campaign's budget (campaignId); unfunded ones are for admins")

// mayRun tells whether the caller may act on a bulk credit funded by campaignID
// ("" : none).
func mayRun(ctx context.Context, campaignID string) error {
	k, _ := PrincipalFrom(ctx)
	if k.Role == access.RoleMarketer && campaignID == "" {
		return errUnfunded
	}
	return nil
}

func (s *bulkServer) CreateBulkCredit(ctx context.Context, req *v1.CreateBulkCreditRequest) (*v1.CreateBulkCreditResponse, error) {
	if err := mayRun(ctx, req.GetCampaignId()); err != nil {
		return nil, err
	}
	requestID, err := requestIDOf(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	t := req.GetTarget()
	c := bulk.Create{RequestID: requestID, Points: req.GetPoints(), Reason: req.GetReason(), CampaignID: req.GetCampaignId(),
		ActorKeyID: actorOf(ctx).KeyID,
		Target:     bulk.Target{CSV: t.GetCsv(), Tier: t.GetTier(), Rule: t.GetRule(), All: t.GetAll()}}
	if req.GetExpiry() != nil {
		c.LotExpire = req.GetExpiry().AsTime()
	}
	for _, m := range t.GetMembers() {
		c.Target.Members = append(c.Target.Members, bulk.MemberPoints{MemberID: m.GetMemberId(), Points: m.GetPoints()})
	}
	b, err := s.bulk.Create(ctx, c)
	if err != nil {
		return nil, err
	}
	return &v1.CreateBulkCreditResponse{BulkCredit: bulkPB(b)}, nil
}

// get reads a bulk credit the caller may see or act on.
func (s *bulkServer) get(ctx context.Context, id string) (bulk.BulkCredit, error) {
	n, err := parseID("bulkCreditId", id)
	if err != nil {
		return bulk.BulkCredit{}, err
	}
	return s.bulk.Get(ctx, n)
}

func (s *bulkServer) GetBulkCredit(ctx context.Context, req *v1.GetBulkCreditRequest) (*v1.GetBulkCreditResponse, error) {
	b, err := s.get(ctx, req.GetBulkCreditId())
	if err != nil {
		return nil, err
	}
	return &v1.GetBulkCreditResponse{BulkCredit: bulkPB(b)}, nil
}

func (s *bulkServer) ListBulkCredits(ctx context.Context, req *v1.ListBulkCreditsRequest) (*v1.ListBulkCreditsResponse, error) {
	size, before, err := keysetPage(req.GetPageSize(), 20, 100, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	list, err := s.bulk.List(ctx, before, size)
	if err != nil {
		return nil, err
	}
	resp := &v1.ListBulkCreditsResponse{BulkCredits: make([]*v1.BulkCredit, len(list))}
	for i, b := range list {
		resp.BulkCredits[i] = bulkPB(b)
	}
	if len(list) == int(size) {
		resp.NextPageToken = strconv.FormatInt(list[len(list)-1].ID, 10)
	}
	return resp, nil
}

func (s *bulkServer) change(ctx context.Context, id string, t bulk.Transition) (*v1.BulkCredit, error) {
	b, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := mayRun(ctx, b.CampaignID); err != nil {
		return nil, err
	}
	b, err = s.bulk.Change(ctx, b.ID, t)
	if err != nil {
		return nil, err
	}
	return bulkPB(b), nil
}

func (s *bulkServer) PauseBulkCredit(ctx context.Context, req *v1.PauseBulkCreditRequest) (*v1.PauseBulkCreditResponse, error) {
	b, err := s.change(ctx, req.GetBulkCreditId(), bulk.Pause)
	if err != nil {
		return nil, err
	}
	return &v1.PauseBulkCreditResponse{BulkCredit: b}, nil
}

func (s *bulkServer) ResumeBulkCredit(ctx context.Context, req *v1.ResumeBulkCreditRequest) (*v1.ResumeBulkCreditResponse, error) {
	b, err := s.change(ctx, req.GetBulkCreditId(), bulk.Resume)
	if err != nil {
		return nil, err
	}
	return &v1.ResumeBulkCreditResponse{BulkCredit: b}, nil
}

func (s *bulkServer) CancelBulkCredit(ctx context.Context, req *v1.CancelBulkCreditRequest) (*v1.CancelBulkCreditResponse, error) {
	b, err := s.change(ctx, req.GetBulkCreditId(), bulk.Cancel)
	if err != nil {
		return nil, err
	}
	return &v1.CancelBulkCreditResponse{BulkCredit: b}, nil
}

func (s *bulkServer) ListBulkCreditFailures(ctx context.Context, req *v1.ListBulkCreditFailuresRequest) (*v1.ListBulkCreditFailuresResponse, error) {
	b, err := s.get(ctx, req.GetBulkCreditId())
	if err != nil {
		return nil, err
	}
	size, after, err := keysetPage(req.GetPageSize(), 100, 1000, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	if req.GetPageToken() == "" {
		after = -1
	}
	list, err := s.bulk.Failures(ctx, b.ID, after, size)
	if err != nil {
		return nil, err
	}
	resp := &v1.ListBulkCreditFailuresResponse{Failures: make([]*v1.BulkCreditFailure, len(list))}
	for i, f := range list {
		resp.Failures[i] = &v1.BulkCreditFailure{MemberId: f.MemberID, Reason: f.Reason, Message: f.Message}
	}
	if len(list) == int(size) {
		resp.NextPageToken = strconv.FormatInt(list[len(list)-1].Seq, 10)
	}
	return resp, nil
}

// keysetPage reads a page size (0: def, at most most) and a numeric page token
// (the last row's key of the page before).
func keysetPage(size, def, most int32, token string) (int32, int64, error) {
	switch {
	case size == 0:
		size = def
	case size < 0 || size > most:
		return 0, 0, problem.InvalidField("pageSize", "must be between 1 and "+strconv.Itoa(int(most)))
	}
	if token == "" {
		return size, 0, nil
	}
	key, err := strconv.ParseInt(token, 10, 64)
	if err != nil || key < 0 {
		return 0, 0, problem.InvalidField("pageToken", "must be a nextPageToken the API returned")
	}
	return size, key, nil
}

func bulkPB(b bulk.BulkCredit) *v1.BulkCredit {
	pb := &v1.BulkCredit{BulkCreditId: formatID(b.ID), RequestId: b.RequestID, Points: b.Points, Reason: b.Reason,
		TargetKind: b.TargetKind, TargetValue: b.TargetValue, CampaignId: b.CampaignID, Status: b.Status,
		Total: b.Total, Done: b.Done, Failed: b.Failed, PointsCredited: b.PointsCredited, Prepared: b.Prepared,
		CreateTime: timestamppb.New(b.CreateTime), UpdateTime: timestamppb.New(b.UpdateTime),
		StartTime: optionalTime(b.StartTime), EndTime: optionalTime(b.EndTime), Expiry: optionalTime(b.LotExpire), CreatedBy: b.ActorKeyID}
	return pb
}
