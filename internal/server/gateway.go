package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"

	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/api/openapi"
	"github.com/loyalty-engine/loyalty/console"
)

// idempotencyKeyHeader is the REST alternative to a requestId in the body.
const idempotencyKeyHeader = "idempotency-key"

// httpHandler is the REST side: the front door (rest.go) and the gateway behind it,
// which calls the services through directConn (direct.go) so that every REST call
// passes the same interceptors (auth!) as a gRPC call, plus the operational
// endpoints (/metrics too, unless it has its own listener). Nothing here redirects: a path is answered as it was sent.
func (s *Server) httpHandler(ctx context.Context, withMetrics bool) (http.Handler, error) {
	doc, err := openapi.Document()
	if err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	routes, err := loadRESTRoutes(doc)
	if err != nil {
		return nil, err
	}
	marshaler := newRESTMarshaler()
	errs := restErrors{log: s.deps.Log, marshaler: marshaler}
	// One gateway mux per service: the front door has matched the route and knows its
	// service, and a mux tries its patterns one after another, so each call tries
	// only its own service's few routes instead of every route of the API.
	gateways := map[string]*runtime.ServeMux{}
	gw := func(service grpc.ServiceDesc) *runtime.ServeMux {
		mux := runtime.NewServeMux(
			runtime.WithIncomingHeaderMatcher(forwardedHeader),
			runtime.WithOutgoingHeaderMatcher(outgoingHeader),
			runtime.WithMarshalerOption(runtime.MIMEWildcard, marshaler),
			runtime.WithErrorHandler(errs.handle),
			runtime.WithRoutingErrorHandler(errs.routing(routes)),
			// The front door matched the route by method and path; a form-encoded POST
			// must not turn into another method behind its back.
			runtime.WithDisablePathLengthFallback(),
			runtime.WithDisableHTTPMethodOverride(),
		)
		gateways[service.ServiceName] = mux
		return mux
	}
	for _, err := range []error{
		loyaltyv1.RegisterMemberServiceHandlerClient(ctx, gw(loyaltyv1.MemberService_ServiceDesc), loyaltyv1.NewMemberServiceClient(s.inproc)),
		loyaltyv1.RegisterApiKeyServiceHandlerClient(ctx, gw(loyaltyv1.ApiKeyService_ServiceDesc), loyaltyv1.NewApiKeyServiceClient(s.inproc)),
		loyaltyv1.RegisterPointsServiceHandlerClient(ctx, gw(loyaltyv1.PointsService_ServiceDesc), loyaltyv1.NewPointsServiceClient(s.inproc)),
		loyaltyv1.RegisterLedgerServiceHandlerClient(ctx, gw(loyaltyv1.LedgerService_ServiceDesc), loyaltyv1.NewLedgerServiceClient(s.inproc)),
		loyaltyv1.RegisterProgramServiceHandlerClient(ctx, gw(loyaltyv1.ProgramService_ServiceDesc), loyaltyv1.NewProgramServiceClient(s.inproc)),
		loyaltyv1.RegisterGoodwillServiceHandlerClient(ctx, gw(loyaltyv1.GoodwillService_ServiceDesc), loyaltyv1.NewGoodwillServiceClient(s.inproc)),
		loyaltyv1.RegisterClockServiceHandlerClient(ctx, gw(loyaltyv1.ClockService_ServiceDesc), loyaltyv1.NewClockServiceClient(s.inproc)),
		loyaltyv1.RegisterTierServiceHandlerClient(ctx, gw(loyaltyv1.TierService_ServiceDesc), loyaltyv1.NewTierServiceClient(s.inproc)),
		loyaltyv1.RegisterCampaignServiceHandlerClient(ctx, gw(loyaltyv1.CampaignService_ServiceDesc), loyaltyv1.NewCampaignServiceClient(s.inproc)),
		loyaltyv1.RegisterCouponServiceHandlerClient(ctx, gw(loyaltyv1.CouponService_ServiceDesc), loyaltyv1.NewCouponServiceClient(s.inproc)),
		loyaltyv1.RegisterAfterSalesServiceHandlerClient(ctx, gw(loyaltyv1.AfterSalesService_ServiceDesc), loyaltyv1.NewAfterSalesServiceClient(s.inproc)),
		loyaltyv1.RegisterActivityServiceHandlerClient(ctx, gw(loyaltyv1.ActivityService_ServiceDesc), loyaltyv1.NewActivityServiceClient(s.inproc)),
		loyaltyv1.RegisterReferralServiceHandlerClient(ctx, gw(loyaltyv1.ReferralService_ServiceDesc), loyaltyv1.NewReferralServiceClient(s.inproc)),
		loyaltyv1.RegisterAuditServiceHandlerClient(ctx, gw(loyaltyv1.AuditService_ServiceDesc), loyaltyv1.NewAuditServiceClient(s.inproc)),
		loyaltyv1.RegisterEventServiceHandlerClient(ctx, gw(loyaltyv1.EventService_ServiceDesc), loyaltyv1.NewEventServiceClient(s.inproc)),
		loyaltyv1.RegisterWebhookServiceHandlerClient(ctx, gw(loyaltyv1.WebhookService_ServiceDesc), loyaltyv1.NewWebhookServiceClient(s.inproc)),
		loyaltyv1.RegisterBulkCreditServiceHandlerClient(ctx, gw(loyaltyv1.BulkCreditService_ServiceDesc), loyaltyv1.NewBulkCreditServiceClient(s.inproc)),
	} {
		if err != nil {
			return nil, fmt.Errorf("register gateway: %w", err)
		}
	}
	if err := routes.bindGateways(gateways); err != nil {
		return nil, err
	}
	api := &restFront{routes: routes, keys: s.deps.Keys, errors: errs, maxBody: int64(s.deps.MaxBodyBytes), audit: s.deps.Audit}
	streamed := &streamREST{keys: s.deps.Keys, errors: errs, audit: s.deps.Audit, ledger: s.deps.Ledger, campaigns: s.deps.Campaigns,
		reads: s.deps.Reads, maxImport: s.deps.MaxImportBytes}

	ops := map[string]http.Handler{
		"/healthz": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeText(w, http.StatusOK, "ok")
		}),
		"/readyz": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := s.deps.Pool.Ping(ctx); err != nil {
				writeText(w, http.StatusServiceUnavailable, "database unreachable")
				return
			}
			writeText(w, http.StatusOK, "ready")
		}),
		"/openapi.json": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(doc)
		}),
	}
	if withMetrics {
		ops["/metrics"] = promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
	}
	web := console.Handler()
	// Not an http.ServeMux: it cleans paths and redirects (/v1/members/../balance
	// to /v1/balance), and the API must answer every path as sent.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/console" || strings.HasPrefix(r.URL.Path, console.Prefix) {
			web.ServeHTTP(w, r) // the web console, without a key: it asks for one
			return
		}
		if route, variable, allow := matchStream(r.Method, r.URL.Path); route != nil {
			streamed.serve(w, r, route, variable) // imports and exports (streams_rest.go)
			return
		} else if len(allow) > 0 {
			errs.refuse(r.Context(), w, r, methodNotAllowed(r.Method, allow))
			return
		}
		op, ok := ops[r.URL.Path]
		if !ok {
			api.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeText(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		op.ServeHTTP(w, r)
	}), nil
}

// forwardedHeader is which HTTP headers reach the services as gRPC metadata: the
// two the server reads (the gateway passes Authorization itself). The gateway's
// default would also pass every standard header (Accept, User-Agent...) and any
// Grpc-Metadata-* one, which nothing reads and every call would copy.
func forwardedHeader(h string) (string, bool) {
	switch strings.ToLower(h) {
	case idempotencyKeyHeader:
		return idempotencyKeyHeader, true
	case requestIDHeader:
		return requestIDHeader, true
	case wantPositionHeader, minPositionHeader, readPrimaryHeader: // read replicas (replicas.go)
		return strings.ToLower(h), true
	}
	return "", false
}

func (s *Server) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	return mux
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body + "\n"))
}
