package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/loyalty-engine/loyalty/api/openapi"
)

func testRoutes(t *testing.T) *restRoutes {
	t.Helper()
	doc, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	routes, err := loadRESTRoutes(doc)
	if err != nil {
		t.Fatal(err)
	}
	return routes
}

// Every route answers its own paths and no other route's: the front door's table
// has no two routes one request could mean, so it cannot read a request
// differently from the gateway, which matches the same templates.
func TestEveryRESTRouteMatchesItselfOnly(t *testing.T) {
	routes := testRoutes(t)
	if len(routes.routes) < 50 {
		t.Fatalf("%d routes read from the OpenAPI document", len(routes.routes))
	}
	for _, r := range routes.routes {
		segs := make([]string, len(r.segments))
		for i, s := range r.segments {
			segs[i] = s
			if _, isVar := r.vars[i]; isVar {
				segs[i] = "x1"
			}
		}
		path := "/" + strings.Join(segs, "/")
		if r.verb != "" {
			path += ":" + r.verb
		}
		got, vars, _ := routes.match(r.httpMethod, path)
		if got != r {
			t.Errorf("%s %s matched %v, want %s", r.httpMethod, path, got, r.fullMethod)
			continue
		}
		for i := range r.vars {
			if vars[i] != "x1" {
				t.Errorf("%s %s: variable %d = %q", r.httpMethod, path, i, vars[i])
			}
		}
		if !Allowed("admin", r.fullMethod) {
			t.Errorf("%s is not in the role table", r.fullMethod)
		}
	}
}

func TestRESTErrorsCarryRetryAfterAndRateLimitHeaders(t *testing.T) {
	errs := restErrors{log: quiet, marshaler: newRESTMarshaler()}
	limited, err := status.New(codes.ResourceExhausted, "Too many requests.").
		WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(1200 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := runtime.NewServerMetadataContext(context.Background(), runtime.ServerMetadata{HeaderMD: metadata.Pairs(
		"ratelimit", `"default";r=0;t=2`, "ratelimit-policy", `"default";q=100;w=60`, "x-internal", "secret")})
	w := httptest.NewRecorder()
	errs.write(ctx, w, limited.Err())
	if w.Code != http.StatusTooManyRequests {
		t.Errorf("status %d, want 429", w.Code)
	}
	for header, want := range map[string]string{
		"Retry-After": "2", "RateLimit": `"default";r=0;t=2`, "RateLimit-Policy": `"default";q=100;w=60`, "X-Internal": "",
		"Content-Type": "application/json",
	} {
		if got := w.Header().Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	if !strings.Contains(w.Body.String(), `"reason":"RESOURCE_EXHAUSTED"`) {
		t.Errorf("no ErrorInfo added: %s", w.Body)
	}

	for delay, want := range map[time.Duration]string{0: "1", 100 * time.Millisecond: "1", time.Second: "1", 1001 * time.Millisecond: "2", time.Minute: "60"} {
		st, _ := status.New(codes.Unavailable, "Busy.").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(delay)})
		if got := retryAfter(st); got != want {
			t.Errorf("retry delay %v: Retry-After %q, want %q", delay, got, want)
		}
	}
	// A gRPC retry-after header without RetryInfo is forwarded as it is.
	w = httptest.NewRecorder()
	errs.write(runtime.NewServerMetadataContext(context.Background(), runtime.ServerMetadata{HeaderMD: metadata.Pairs("retry-after", "7")}),
		w, status.Error(codes.Unavailable, "Busy."))
	if got := w.Header().Get("Retry-After"); got != "7" {
		t.Errorf("forwarded Retry-After %q, want 7", got)
	}
	// Success answers get the same headers through the gateway's outgoing matcher.
	for key, want := range map[string]string{"ratelimit": "RateLimit", "RateLimit-Policy": "RateLimit-Policy", "retry-after": "Retry-After"} {
		if got, ok := outgoingHeader(key); !ok || got != want {
			t.Errorf("outgoingHeader(%q) = %q %v, want %q", key, got, ok, want)
		}
	}
	if _, ok := outgoingHeader("x-request-id"); ok {
		t.Error("x-request-id forwarded twice: the front door sets X-Request-Id")
	}
}

func TestRESTStatusCodesOfServerSideTrouble(t *testing.T) {
	errs := restErrors{log: quiet, marshaler: newRESTMarshaler()}
	for code, want := range map[codes.Code]int{
		codes.Unavailable: 503, codes.ResourceExhausted: 429, codes.DeadlineExceeded: 504, codes.Canceled: 499,
		codes.FailedPrecondition: 400, codes.AlreadyExists: 409, codes.Unauthenticated: 401, codes.PermissionDenied: 403,
	} {
		st, got := errs.status(context.Background(), status.Error(code, "Trouble."))
		if got != want || reasonOf(st) == "" {
			t.Errorf("%v: HTTP %d reason %q, want %d with a reason", code, got, reasonOf(st), want)
		}
	}
}
