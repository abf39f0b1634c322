package server

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/internal/ratelimit"
)

// The rate-limit headers of the IETF httpapi ratelimit-headers draft, as gRPC
// header metadata; the gateway forwards them as RateLimit and RateLimit-Policy.
const (
	rateLimitHeader       = "ratelimit"
	rateLimitPolicyHeader = "ratelimit-policy"
)

// FailedCouponLookupCost is what a call answered COUPON_NOT_FOUND costs in all:
// codes are found by guessing only, so a key that guesses is throttled ten times
// sooner than one that calls normally.
const FailedCouponLookupCost = 10

// extraCost is how many tokens a finished call costs beyond the one it was let in
// for.
func extraCost(err error) int {
	if errors.Is(err, campaigns.ErrCouponNotFound) {
		return FailedCouponLookupCost - 1
	}
	return 0
}

// limitRate spends a token of the caller's bucket before the handler runs, and
// refuses the call (RESOURCE_EXHAUSTED, RATE_LIMITED, with a RetryInfo) when there
// is none, so a refused call changes nothing. It runs after authorize: the key and
// its limit are known, and unauthenticated or forbidden calls spend nothing. Every
// answer carries the RateLimit and RateLimit-Policy headers.
func limitRate(limiters *ratelimit.Limiters) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		key, ok := PrincipalFrom(ctx)
		if !ok {
			return handler(ctx, req)
		}
		limit := bucketLimit(key)
		d := limiters.Take(key.ID, limit, 1, time.Now())
		if !d.Allowed {
			setRateLimitHeaders(ctx, d)
			return nil, ratelimit.ErrRateLimited.
				With("API key %s is over its rate limit (requestsPerSecond %d, burst %d); retry in %d s",
					key.ID, limit.PerSecond, limit.Burst, ratelimit.Seconds(d.RetryAfter)).
				WithRetryAfter(d.RetryAfter)
		}
		resp, err := handler(ctx, req)
		if extra := extraCost(err); extra > 0 {
			d = limiters.Charge(key.ID, limit, extra, time.Now())
		}
		setRateLimitHeaders(ctx, d)
		return resp, err
	}
}

func bucketLimit(key access.Key) ratelimit.Limit {
	l := key.RateLimit()
	return ratelimit.Limit{PerSecond: l.RequestsPerSecond, Burst: l.Burst}
}

func setRateLimitHeaders(ctx context.Context, d ratelimit.Decision) {
	setCallHeader(ctx, rateLimitHeader, d.Header())
	setCallHeader(ctx, rateLimitPolicyHeader, d.PolicyHeader())
}
