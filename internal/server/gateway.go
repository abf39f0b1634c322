package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/protobuf/encoding/protojson"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/api/openapi"
)

// idempotencyKeyHeader is the REST alternative to a requestId in the body.
const idempotencyKeyHeader = "idempotency-key"

// httpHandler is the REST side: the gateway, which calls the services through the
// in-process channel so that every REST call passes the same interceptors (auth!) as
// a gRPC call, plus the operational endpoints (/metrics too, unless it has its own
// listener).
func (s *Server) httpHandler(ctx context.Context, withMetrics bool) (http.Handler, error) {
	gw := runtime.NewServeMux(
		runtime.WithIncomingHeaderMatcher(func(h string) (string, bool) {
			switch strings.ToLower(h) {
			case idempotencyKeyHeader, requestIDHeader:
				return strings.ToLower(h), true
			}
			return runtime.DefaultHeaderMatcher(h)
		}),
		runtime.WithOutgoingHeaderMatcher(func(h string) (string, bool) {
			if h == requestIDHeader {
				return "X-Request-Id", true
			}
			return "", false
		}),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: true},
			// Unknown fields are refused: a misspelt field is an error, not a no-op.
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}),
	)
	for _, err := range []error{
		loyaltyv1.RegisterMemberServiceHandlerClient(ctx, gw, loyaltyv1.NewMemberServiceClient(s.inproc)),
		loyaltyv1.RegisterApiKeyServiceHandlerClient(ctx, gw, loyaltyv1.NewApiKeyServiceClient(s.inproc)),
		loyaltyv1.RegisterPointsServiceHandlerClient(ctx, gw, loyaltyv1.NewPointsServiceClient(s.inproc)),
		loyaltyv1.RegisterLedgerServiceHandlerClient(ctx, gw, loyaltyv1.NewLedgerServiceClient(s.inproc)),
		loyaltyv1.RegisterProgramServiceHandlerClient(ctx, gw, loyaltyv1.NewProgramServiceClient(s.inproc)),
		loyaltyv1.RegisterGoodwillServiceHandlerClient(ctx, gw, loyaltyv1.NewGoodwillServiceClient(s.inproc)),
		loyaltyv1.RegisterClockServiceHandlerClient(ctx, gw, loyaltyv1.NewClockServiceClient(s.inproc)),
		loyaltyv1.RegisterTierServiceHandlerClient(ctx, gw, loyaltyv1.NewTierServiceClient(s.inproc)),
		loyaltyv1.RegisterCampaignServiceHandlerClient(ctx, gw, loyaltyv1.NewCampaignServiceClient(s.inproc)),
		loyaltyv1.RegisterCouponServiceHandlerClient(ctx, gw, loyaltyv1.NewCouponServiceClient(s.inproc)),
		loyaltyv1.RegisterAfterSalesServiceHandlerClient(ctx, gw, loyaltyv1.NewAfterSalesServiceClient(s.inproc)),
		loyaltyv1.RegisterAuditServiceHandlerClient(ctx, gw, loyaltyv1.NewAuditServiceClient(s.inproc)),
	} {
		if err != nil {
			return nil, fmt.Errorf("register gateway: %w", err)
		}
	}
	doc, err := openapi.Document()
	if err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.deps.Pool.Ping(ctx); err != nil {
			writeText(w, http.StatusServiceUnavailable, "database unreachable")
			return
		}
		writeText(w, http.StatusOK, "ready")
	})
	if withMetrics {
		mux.Handle("GET /metrics", s.metricsHandler())
	}
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
	mux.Handle("/", limitBody(gw, int64(s.deps.MaxBodyBytes)))
	return mux, nil
}

func (s *Server) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	return mux
}

// limitBody refuses bodies over the limit: at once when the length is declared, and
// while reading otherwise.
func limitBody(next http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = fmt.Fprintf(w, `{"code":3,"message":"request body larger than %d bytes","details":[]}`, limit)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body + "\n"))
}
