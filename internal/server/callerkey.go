package server

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
)

// GetCallerKey answers the caller's own key, which the interceptors authenticated:
// a console learns the role it signed in with, and an agent what is left of its
// goodwill limits today (the same limits GrantGoodwill applies, actorOf).
func (s *apiKeyServer) GetCallerKey(ctx context.Context, _ *loyaltyv1.GetCallerKeyRequest) (*loyaltyv1.GetCallerKeyResponse, error) {
	key, _ := PrincipalFrom(ctx)
	resp := &loyaltyv1.GetCallerKeyResponse{Key: apiKeyPB(key)}
	if key.Role != access.RoleAgent {
		return resp, nil
	}
	a, err := s.ledger.GoodwillAllowanceOf(ctx, key.ID)
	if err != nil {
		return nil, err
	}
	resp.Goodwill = &loyaltyv1.GoodwillAllowance{
		PerGrant: a.Limits.PerGrant, PerDay: a.Limits.PerDay, GrantedToday: a.GrantedToday,
		RemainingToday: a.Remaining(), DayEndTime: timestamppb.New(a.DayEnd),
	}
	return resp, nil
}
