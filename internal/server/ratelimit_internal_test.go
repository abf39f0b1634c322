package server

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/ledger"
)

func TestOnlyFailedCouponLookupsCostExtra(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, 0},
		{"coupon not found", campaigns.ErrCouponNotFound.With("no coupon X"), FailedCouponLookupCost - 1},
		{"coupon not found, wrapped", fmt.Errorf("redeem: %w", campaigns.ErrCouponNotFound), FailedCouponLookupCost - 1},
		{"coupon already redeemed", campaigns.ErrCouponRedeemed, 0},
		{"member not found", ledger.ErrMemberNotFound, 0},
		{"a NOT_FOUND status", status.Error(codes.NotFound, "no coupon X"), 0},
		{"internal", errors.New("boom"), 0},
	} {
		if got := extraCost(tc.err); got != tc.want {
			t.Errorf("%s: extra cost %d, want %d", tc.name, got, tc.want)
		}
	}
}
