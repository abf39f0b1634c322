package server

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/ledger"
)

type apiKeyServer struct {
	loyaltyv1.UnimplementedApiKeyServiceServer
	keys   *access.Service
	ledger *ledger.Service // goodwill allowances (GetCallerKey)
}

func (s *apiKeyServer) CreateApiKey(ctx context.Context, req *loyaltyv1.CreateApiKeyRequest) (*loyaltyv1.CreateApiKeyResponse, error) {
	key, secret, err := s.keys.Create(ctx, access.CreateKey{Name: req.GetName(), Role: req.GetRole()})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.CreateApiKeyResponse{KeyId: key.ID, Secret: secret, Key: apiKeyPB(key)}, nil
}

func (s *apiKeyServer) RevokeApiKey(ctx context.Context, req *loyaltyv1.RevokeApiKeyRequest) (*loyaltyv1.RevokeApiKeyResponse, error) {
	key, err := s.keys.Revoke(ctx, req.GetKeyId())
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.RevokeApiKeyResponse{Key: apiKeyPB(key)}, nil
}

func (s *apiKeyServer) ListApiKeys(ctx context.Context, _ *loyaltyv1.ListApiKeysRequest) (*loyaltyv1.ListApiKeysResponse, error) {
	keys, err := s.keys.List(ctx)
	if err != nil {
		return nil, err
	}
	resp := &loyaltyv1.ListApiKeysResponse{Keys: make([]*loyaltyv1.ApiKey, len(keys))}
	for i, k := range keys {
		resp.Keys[i] = apiKeyPB(k)
	}
	return resp, nil
}

func apiKeyPB(k access.Key) *loyaltyv1.ApiKey {
	pb := &loyaltyv1.ApiKey{KeyId: k.ID, Name: k.Name, Role: string(k.Role), CreateTime: timestamppb.New(k.CreateTime),
		PublicPrefix: k.PublicPrefix}
	if k.RevokeTime != nil {
		pb.RevokeTime = timestamppb.New(*k.RevokeTime)
	}
	if k.LastUseTime != nil {
		pb.LastUseTime = timestamppb.New(*k.LastUseTime)
	}
	return pb
}

func (s *apiKeyServer) SetApiKeyRateLimit(ctx context.Context, req *loyaltyv1.SetApiKeyRateLimitRequest) (*loyaltyv1.SetApiKeyRateLimitResponse, error) {
	l, err := s.keys.SetRateLimit(ctx, access.SetRateLimit{
		KeyID: req.GetKeyId(), RequestsPerSecond: int(req.GetRequestsPerSecond()), Burst: int(req.GetBurst()),
	})
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.SetApiKeyRateLimitResponse{RateLimit: rateLimitPB(l)}, nil
}

func (s *apiKeyServer) GetApiKeyRateLimit(ctx context.Context, req *loyaltyv1.GetApiKeyRateLimitRequest) (*loyaltyv1.GetApiKeyRateLimitResponse, error) {
	l, err := s.keys.RateLimitOf(ctx, req.GetKeyId())
	if err != nil {
		return nil, err
	}
	return &loyaltyv1.GetApiKeyRateLimitResponse{RateLimit: rateLimitPB(l)}, nil
}

func rateLimitPB(l access.KeyRateLimit) *loyaltyv1.ApiKeyRateLimit {
	return &loyaltyv1.ApiKeyRateLimit{
		KeyId: l.KeyID, RequestsPerSecond: int32(l.Limit.RequestsPerSecond), Burst: int32(l.Limit.Burst), RoleDefault: l.RoleDefault,
	}
}
