package server_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// limitedKey creates a key of the role and gives it, through the API, a bucket of
// burst requests refilled at perSecond.
func limitedKey(t *testing.T, env *apitest.Env, role access.Role, perSecond, burst int32) (id, secret string) {
	t.Helper()
	key, secret, err := env.App.Keys.Create(context.Background(), access.CreateKey{Name: "limited " + string(role), Role: string(role)})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := loyaltyv1.NewApiKeyServiceClient(env.Conn).SetApiKeyRateLimit(env.Ctx(apitest.AdminKey),
		&loyaltyv1.SetApiKeyRateLimitRequest{KeyId: key.ID, RequestsPerSecond: perSecond, Burst: burst})
	if err != nil {
		t.Fatalf("set rate limit: %v", err)
	}
	if got := resp.GetRateLimit(); got.GetRequestsPerSecond() != perSecond || got.GetBurst() != burst || got.GetRoleDefault() {
		t.Fatalf("set rate limit answered %v", got)
	}
	return key.ID, secret
}

// rateLimitDetails are the ErrorInfo reason and RetryInfo delay of a status.
func rateLimitDetails(err error) (reason string, retry time.Duration) {
	for _, d := range status.Convert(err).Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			reason = d.GetReason()
		case *errdetails.RetryInfo:
			retry = d.GetRetryDelay().AsDuration()
		}
	}
	return reason, retry
}

func TestAKeyOverItsRateLimitIsRefusedWithRetryInfoAndTheHeaders(t *testing.T) {
	env := apitest.Start(t)
	_, secret := limitedKey(t, env, access.RoleApp, 1, 3)
	clock := loyaltyv1.NewClockServiceClient(env.Conn)
	points := loyaltyv1.NewPointsServiceClient(env.Conn)
	if _, err := loyaltyv1.NewMemberServiceClient(env.Conn).EnrollMember(env.Ctx(apitest.AdminKey),
		&loyaltyv1.EnrollMemberRequest{MemberId: "rl-1"}); err != nil {
		t.Fatal(err)
	}

	const policy = `"key";q=1;w=1;loyalty-burst=3`
	for i := 2; i >= 0; i-- {
		var md metadata.MD
		if _, err := clock.GetClock(env.Ctx(secret), &loyaltyv1.GetClockRequest{}, grpc.Header(&md)); err != nil {
			t.Fatalf("call within the burst: %v", err)
		}
		if got, want := md.Get("ratelimit"), `"key";r=`+strconv.Itoa(i)+`;t=1`; len(got) != 1 || got[0] != want {
			t.Errorf("ratelimit header %q, want %q", got, want)
		}
		if got := md.Get("ratelimit-policy"); len(got) != 1 || got[0] != policy {
			t.Errorf("ratelimit-policy header %q, want %q", got, policy)
		}
	}

	// Over the limit: an earn is refused before it runs, and changes nothing.
	var md metadata.MD
	_, err := points.Earn(env.Ctx(secret), &loyaltyv1.EarnRequest{MemberId: "rl-1", RequestId: "rl-earn", Points: 100}, grpc.Header(&md))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("over the limit: %v, want ResourceExhausted", err)
	}
	reason, retry := rateLimitDetails(err)
	if reason != "RATE_LIMITED" || retry <= 0 || retry > time.Second {
		t.Errorf("refusal details: reason %q, retry %v; want RATE_LIMITED and a wait of at most 1 s", reason, retry)
	}
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "over its rate limit (requestsPerSecond 1, burst 3); retry in 1 s") {
		t.Errorf("message %q does not say the limit", msg)
	}
	if got := md.Get("ratelimit"); len(got) != 1 || got[0] != `"key";r=0;t=1` {
		t.Errorf("ratelimit header on the refusal %q", got)
	}
	if got := md.Get("ratelimit-policy"); len(got) != 1 || got[0] != policy {
		t.Errorf("ratelimit-policy header on the refusal %q", got)
	}
	bal, err := points.GetBalance(env.Ctx(apitest.AdminKey), &loyaltyv1.GetBalanceRequest{MemberId: "rl-1"})
	if err != nil || bal.GetAvailable() != 0 {
		t.Fatalf("the refused earn changed the balance: %v %v", bal, err)
	}

	// Other keys have their own buckets: the admin is not slowed down.
	for i := 0; i < 5; i++ {
		if _, err := clock.GetClock(env.Ctx(apitest.AdminKey), &loyaltyv1.GetClockRequest{}); err != nil {
			t.Fatalf("admin call %d: %v", i, err)
		}
	}

	// After the wait the same request goes through, as new: nothing of it was kept.
	time.Sleep(retry)
	resp, err := points.Earn(env.Ctx(secret), &loyaltyv1.EarnRequest{MemberId: "rl-1", RequestId: "rl-earn", Points: 100})
	if err != nil || resp.GetEntry().GetPoints() != 100 {
		t.Fatalf("earn after the wait: %v %v", resp, err)
	}
}

func TestAnAdminSetsAndClearsAKeysRateLimitAndItAppliesAtOnce(t *testing.T) {
	env := apitest.Start(t)
	keys := loyaltyv1.NewApiKeyServiceClient(env.Conn)
	clock := loyaltyv1.NewClockServiceClient(env.Conn)
	key, secret, err := env.App.Keys.Create(context.Background(), access.CreateKey{Name: "agent desk", Role: "agent"})
	if err != nil {
		t.Fatal(err)
	}
	get := func() *loyaltyv1.ApiKeyRateLimit {
		t.Helper()
		resp, err := keys.GetApiKeyRateLimit(env.Ctx(apitest.AdminKey), &loyaltyv1.GetApiKeyRateLimitRequest{KeyId: key.ID})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetRateLimit()
	}
	def := access.DefaultRateLimit(access.RoleAgent)
	if got := get(); !got.GetRoleDefault() || int(got.GetRequestsPerSecond()) != def.RequestsPerSecond || int(got.GetBurst()) != def.Burst {
		t.Fatalf("a new agent key: %v, want the agent default %+v", got, def)
	}
	// The key is in use (and cached) before the change.
	if _, err := clock.GetClock(env.Ctx(secret), &loyaltyv1.GetClockRequest{}); err != nil {
		t.Fatal(err)
	}

	// On REST, burst omitted: as many as requestsPerSecond.
	r := env.REST("PUT", "/v1/apiKeys/"+key.ID+"/rateLimit", apitest.AdminKey, map[string]any{"requestsPerSecond": 2})
	if r.Status != http.StatusOK {
		t.Fatalf("PUT rateLimit: %d %s", r.Status, r.Raw)
	}
	if rl, _ := r.Body["rateLimit"].(map[string]any); rl["requestsPerSecond"] != float64(2) || rl["burst"] != float64(2) || rl["roleDefault"] != false {
		t.Fatalf("PUT rateLimit answered %s", r.Raw)
	}
	if g := env.REST("GET", "/v1/apiKeys/"+key.ID+"/rateLimit", apitest.AdminKey, nil); g.Status != http.StatusOK ||
		g.Body["rateLimit"].(map[string]any)["burst"] != float64(2) {
		t.Fatalf("GET rateLimit: %d %s", g.Status, g.Raw)
	}
	// This replica applies it at once: the third call in a row is refused.
	for i := 0; i < 2; i++ {
		if _, err := clock.GetClock(env.Ctx(secret), &loyaltyv1.GetClockRequest{}); err != nil {
			t.Fatalf("call %d under the new limit: %v", i+1, err)
		}
	}
	if _, err := clock.GetClock(env.Ctx(secret), &loyaltyv1.GetClockRequest{}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("third call under a limit of 2: %v", err)
	}

	// requestsPerSecond 0: back to the role's default, at once.
	resp, err := keys.SetApiKeyRateLimit(env.Ctx(apitest.AdminKey), &loyaltyv1.SetApiKeyRateLimitRequest{KeyId: key.ID})
	if err != nil || !resp.GetRateLimit().GetRoleDefault() || int(resp.GetRateLimit().GetBurst()) != def.Burst {
		t.Fatalf("clear: %v %v", resp, err)
	}
	if got := get(); !got.GetRoleDefault() {
		t.Fatalf("after clearing: %v", got)
	}
	var n int
	if err := env.Pool.QueryRow(context.Background(), `SELECT count(*) FROM api_key_rate_limits`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a cleared limit left %d rows (%v)", n, err)
	}
	time.Sleep(10 * time.Millisecond) // the default refills 200 a second: a token is there
	var md metadata.MD
	if _, err := clock.GetClock(env.Ctx(secret), &loyaltyv1.GetClockRequest{}, grpc.Header(&md)); err != nil {
		t.Fatalf("call after clearing: %v", err)
	}
	if got := md.Get("ratelimit-policy"); len(got) != 1 || got[0] != `"key";q=200;w=1;loyalty-burst=400` {
		t.Errorf("policy after clearing %q", got)
	}
}

func TestBadRateLimitsNameTheFieldAndChangeNothing(t *testing.T) {
	env := apitest.Start(t)
	key, _, err := env.App.Keys.Create(context.Background(), access.CreateKey{Name: "shop", Role: "app"})
	if err != nil {
		t.Fatal(err)
	}
	path := "/v1/apiKeys/" + key.ID + "/rateLimit"
	for _, tc := range []struct {
		body   any
		field  string
		status int
	}{
		{map[string]any{"requestsPerSecond": -1}, "requestsPerSecond", http.StatusBadRequest},
		{map[string]any{"requestsPerSecond": 1000001}, "requestsPerSecond", http.StatusBadRequest},
		{map[string]any{"requestsPerSecond": 10, "burst": -5}, "burst", http.StatusBadRequest},
		{map[string]any{"requestsPerSecond": 10, "burst": 2000000}, "burst", http.StatusBadRequest},
		{map[string]any{"requestsPerSecond": 0, "burst": 5}, "burst", http.StatusBadRequest},
		{map[string]any{"requestsPerSecond": "fast"}, "", http.StatusBadRequest},
		{map[string]any{"requestsPerSecond": 10, "rate": 5}, "", http.StatusBadRequest},
	} {
		r := env.REST("PUT", path, apitest.AdminKey, tc.body)
		if r.Status != tc.status {
			t.Errorf("%v: %d %s, want %d", tc.body, r.Status, r.Raw, tc.status)
			continue
		}
		if tc.field == "" {
			continue
		}
		if f := r.FieldViolations(); len(f) != 1 || f[0] != tc.field || r.Reason() != "INVALID_ARGUMENT" {
			t.Errorf("%v: violations %v reason %q, want %s", tc.body, f, r.Reason(), tc.field)
		}
	}
	if r := env.REST("PUT", "/v1/apiKeys/key_nope/rateLimit", apitest.AdminKey, map[string]any{"requestsPerSecond": 5}); r.Status != http.StatusNotFound || r.Reason() != "API_KEY_NOT_FOUND" {
		t.Errorf("unknown key: %d %s", r.Status, r.Raw)
	}
	if r := env.REST("GET", "/v1/apiKeys/key_nope/rateLimit", apitest.AdminKey, nil); r.Status != http.StatusNotFound {
		t.Errorf("GET of an unknown key: %d %s", r.Status, r.Raw)
	}
	_, err = loyaltyv1.NewApiKeyServiceClient(env.Conn).SetApiKeyRateLimit(env.Ctx(apitest.AdminKey),
		&loyaltyv1.SetApiKeyRateLimitRequest{KeyId: key.ID, RequestsPerSecond: -3})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "requestsPerSecond must be at least 0") {
		t.Errorf("gRPC: %v", err)
	}
	var n int
	if err := env.Pool.QueryRow(context.Background(), `SELECT count(*) FROM api_key_rate_limits`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("bad requests stored %d limits (%v)", n, err)
	}
}

func TestFailedCouponLookupsCostTenTokens(t *testing.T) {
	env := apitest.Start(t)
	_, secret := limitedKey(t, env, access.RoleApp, 1, 12)
	coupons := loyaltyv1.NewCouponServiceClient(env.Conn)
	clock := loyaltyv1.NewClockServiceClient(env.Conn)

	var md metadata.MD
	_, err := coupons.RedeemCoupon(env.Ctx(secret), &loyaltyv1.RedeemCouponRequest{
		Code: "AAAA-BBBB-CCCC-DDDD", RequestId: "guess-1", MemberId: "m", OrderId: "o"}, grpc.Header(&md))
	if st := status.Convert(err); st.Code() != codes.NotFound {
		t.Fatalf("guessed code: %v, want NotFound", err)
	}
	if got := md.Get("ratelimit"); len(got) != 1 || !strings.HasPrefix(got[0], `"key";r=2;`) {
		t.Fatalf("after one failed lookup the header says %q, want 2 of 12 left", got)
	}
	// A normal call costs one: two fit, the third is refused.
	for i := 0; i < 2; i++ {
		if _, err := clock.GetClock(env.Ctx(secret), &loyaltyv1.GetClockRequest{}); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if _, err := clock.GetClock(env.Ctx(secret), &loyaltyv1.GetClockRequest{}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("after 10 + 2 tokens of 12: %v, want ResourceExhausted", err)
	}

	// A code looked up that exists costs one, like any call.
	_, secret2 := limitedKey(t, env, access.RoleApp, 1, 12)
	if _, err := coupons.GetCoupon(env.Ctx(secret2), &loyaltyv1.GetCouponRequest{Code: "ZZZZ-ZZZZ-ZZZZ-ZZZZ"}, grpc.Header(&md)); status.Code(err) != codes.NotFound {
		t.Fatalf("get a guessed code: %v", err)
	}
	if got := md.Get("ratelimit"); len(got) != 1 || !strings.HasPrefix(got[0], `"key";r=2;`) {
		t.Fatalf("a failed GetCoupon: header %q, want 2 left", got)
	}
	if _, err := loyaltyv1.NewMemberServiceClient(env.Conn).GetMember(env.Ctx(secret2), &loyaltyv1.GetMemberRequest{MemberId: "nobody"}, grpc.Header(&md)); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown member: %v", err)
	}
	if got := md.Get("ratelimit"); len(got) != 1 || !strings.HasPrefix(got[0], `"key";r=1;`) {
		t.Fatalf("another not-found (a member) costs one: header %q, want 1 left", got)
	}
}

// REST answers carry the same headers, and a refusal is 429 with Retry-After. The
// REST and gRPC calls of a key share its bucket.
func TestRateLimitOnRESTIs429WithRetryAfterAndTheHeaders(t *testing.T) {
	env := apitest.Start(t)
	_, secret := limitedKey(t, env, access.RoleApp, 1, 3)
	if _, err := loyaltyv1.NewClockServiceClient(env.Conn).GetClock(env.Ctx(secret), &loyaltyv1.GetClockRequest{}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i >= 0; i-- {
		r := env.REST("GET", "/v1/clock", secret, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("within the burst: %d %s", r.Status, r.Raw)
		}
		if got, want := r.Header.Get("RateLimit"), `"key";r=`+strconv.Itoa(i)+`;t=1`; got != want {
			t.Errorf("RateLimit %q, want %q", got, want)
		}
		if got := r.Header.Get("RateLimit-Policy"); got != `"key";q=1;w=1;loyalty-burst=3` {
			t.Errorf("RateLimit-Policy %q", got)
		}
	}
	r := env.REST("GET", "/v1/clock", secret, nil)
	if r.Status != http.StatusTooManyRequests || r.Reason() != "RATE_LIMITED" {
		t.Fatalf("over the limit: %d %s, want 429 RATE_LIMITED", r.Status, r.Raw)
	}
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}
	if got := r.Header.Get("RateLimit"); got != `"key";r=0;t=1` {
		t.Errorf("RateLimit on the 429 %q", got)
	}
}
