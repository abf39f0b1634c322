// Package server is the transport: the gRPC services, their interceptors (request
// ids, logs, metrics, panics, errors, auth) and the REST gateway in front of them.
// Handlers only convert, call the domain and return; errors are mapped in one place.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/loyalty-engine/loyalty/access"
	loyaltyv1 "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/bulk"
	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/audit"
	"github.com/loyalty-engine/loyalty/internal/businessclock"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/ratelimit"
	"github.com/loyalty-engine/loyalty/internal/replica"
	"github.com/loyalty-engine/loyalty/internal/webhookhttp"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

// Deps are what the server serves.
type Deps struct {
	Pool   *pgxpool.Pool // for readiness
	Keys   *access.Service
	Ledger *ledger.Service
	Tiers  *tiers.Service
	// Campaigns run campaigns, coupons and after-sales compensation.
	Campaigns *campaigns.Service
	// Bulk runs bulk credits.
	Bulk *bulk.Service
	// Audit records every mutating call and reads the log.
	Audit *audit.Store
	// Events reads the feed of events and keeps the webhook endpoints.
	Events *events.Store
	// Webhooks keeps the webhook endpoints; WebhookGuard refuses endpoint URLs
	// that resolve to private addresses (unless its allow-list admits them).
	Webhooks     *events.Webhooks
	WebhookGuard *webhookhttp.Guard
	// WatchEvery is how often WatchEvents looks for new events once it has caught
	// up (default 200 ms).
	WatchEvery time.Duration
	Log        *slog.Logger
	// Clock is the business clock; with TimeTravel an admin may move it forward
	// (for demos).
	Clock      *businessclock.Clock
	TimeTravel bool
	// MaxBodyBytes bounds REST request bodies and gRPC messages (default 1 MiB).
	MaxBodyBytes int
	// MaxImportBytes bounds a member import's CSV upload (default
	// DefaultMaxImportBytes, 2 GiB).
	MaxImportBytes int64
	// ShutdownTimeout bounds how long in-flight calls may finish (default 20 s).
	ShutdownTimeout time.Duration
	// TLS, when set, is the server side of TLS on both the gRPC and the REST
	// listener (its Certificates at least); nil: plain text.
	TLS *tls.Config
	// CallTimeout is the server's deadline for every call (default 10 s); a
	// client's shorter deadline wins. It cancels the call's SQL statements too.
	CallTimeout time.Duration
	// Reads routes the reads that may lag to the read replica (nil: no
	// replica; everything runs on Pool).
	Reads *replica.Router
}

func watchEvery(d time.Duration) time.Duration {
	if d <= 0 {
		return 200 * time.Millisecond
	}
	return d
}

// DefaultCallTimeout is the server's deadline for a call when none is configured.
const DefaultCallTimeout = 10 * time.Second

// Server serves gRPC and REST.
type Server struct {
	deps Deps
	// draining is closed when shutdown starts: streams that would run until the
	// caller hangs up (WatchEvents) end, so that they do not hold the shutdown.
	draining chan struct{}
	grpc     *grpc.Server
	inproc   *directConn
	registry *prometheus.Registry
}

// New builds the gRPC server with every service and interceptor.
func New(d Deps) *Server {
	if d.Audit == nil {
		panic("server: Deps.Audit is required: every mutating call is recorded")
	}
	if d.MaxBodyBytes == 0 {
		d.MaxBodyBytes = 1 << 20
	}
	if d.MaxImportBytes == 0 {
		d.MaxImportBytes = DefaultMaxImportBytes
	}
	if d.ShutdownTimeout == 0 {
		d.ShutdownTimeout = 20 * time.Second
	}
	if d.CallTimeout == 0 {
		d.CallTimeout = DefaultCallTimeout
	}
	if d.Reads == nil {
		d.Reads = replica.New(d.Pool, nil, d.Log, replica.Options{})
	}
	draining := make(chan struct{})
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram())
	registry.MustRegister(metrics)
	registry.MustRegister(d.Ledger.Collectors()...)
	registry.MustRegister(d.Campaigns.Collectors()...)
	// Every component's transaction retries are one metric, registered once here.
	registry.MustRegister(database.Collectors()...)
	registry.MustRegister(database.PoolCollector(d.Pool, "primary"))
	registry.MustRegister(d.Reads.Collectors()...)

	// Outermost first: the request id is known to every log line; the deadline
	// bounds everything after it, auth included; recovery sits inside logging and
	// metrics so a panic is counted and logged as INTERNAL; errors are mapped before
	// they are counted; the audit trail sees the final status, panics included;
	// then auth, whose errors are mapped like any other (it names the key on the
	// audit record first, so refusals are recorded with it); the rate limit runs
	// once the key is known, and a refused call never reaches the handler; then
	// every string of the request is checked for NUL, control characters and
	// invalid UTF-8; last, a read that may lag is routed (replica or primary),
	// innermost so that a call refused before costs the router nothing.
	unary := []grpc.UnaryServerInterceptor{
		withRequestID,
		withDeadline(d.CallTimeout),
		logCalls(d.Log),
		metrics.UnaryServerInterceptor(),
		auditCalls(d.Audit, d.Log),
		recoverPanics(d.Log),
		mapErrors(d.Log),
		authorize(d.Keys),
		limitRate(ratelimit.New(0)),
		refuseBadText,
		routeReads(d.Reads, d.Log),
	}
	chain := chainUnary(unary...)
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(d.MaxBodyBytes),
		grpc.ForceServerCodecV2(newRequestCodec()),
		grpc.UnaryInterceptor(chain),
		grpc.ChainStreamInterceptor(authorizeStreams(d.Keys, d.Log)),
	}
	if d.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(d.TLS.Clone())))
	}
	gs := grpc.NewServer(opts...)
	// The REST gateway calls the same services directly, through the same
	// interceptor chain: same auth, logs and metrics as gRPC, without a loopback
	// connection, a serialization or a goroutine per call (direct.go).
	inproc := newDirectConn(chain, errStreamsRefused)
	for _, reg := range []grpc.ServiceRegistrar{gs, inproc} {
		loyaltyv1.RegisterMemberServiceServer(reg, &memberServer{ledger: d.Ledger})
		loyaltyv1.RegisterApiKeyServiceServer(reg, &apiKeyServer{keys: d.Keys, ledger: d.Ledger})
		loyaltyv1.RegisterPointsServiceServer(reg, &pointsServer{ledger: d.Ledger})
		loyaltyv1.RegisterLedgerServiceServer(reg, &ledgerServer{ledger: d.Ledger})
		loyaltyv1.RegisterProgramServiceServer(reg, &programServer{ledger: d.Ledger})
		loyaltyv1.RegisterGoodwillServiceServer(reg, &goodwillServer{ledger: d.Ledger, keys: d.Keys})
		loyaltyv1.RegisterClockServiceServer(reg, &clockServer{clock: d.Clock, timeTravel: d.TimeTravel})
		loyaltyv1.RegisterTierServiceServer(reg, &tierServer{tiers: d.Tiers})
		loyaltyv1.RegisterCampaignServiceServer(reg, &campaignServer{campaigns: d.Campaigns, tiers: d.Tiers})
		loyaltyv1.RegisterCouponServiceServer(reg, &couponServer{campaigns: d.Campaigns})
		loyaltyv1.RegisterAfterSalesServiceServer(reg, &afterSalesServer{campaigns: d.Campaigns})
		loyaltyv1.RegisterActivityServiceServer(reg, &activityServer{campaigns: d.Campaigns})
		loyaltyv1.RegisterReferralServiceServer(reg, &referralServer{campaigns: d.Campaigns})
		loyaltyv1.RegisterAuditServiceServer(reg, &auditServer{store: d.Audit})
		loyaltyv1.RegisterEventServiceServer(reg, &eventServer{store: d.Events, every: watchEvery(d.WatchEvery), draining: draining})
		loyaltyv1.RegisterWebhookServiceServer(reg, &webhookServer{hooks: d.Webhooks, guard: d.WebhookGuard})
		loyaltyv1.RegisterBulkCreditServiceServer(reg, &bulkServer{bulk: d.Bulk})
	}
	metrics.InitializeMetrics(gs)
	return &Server{deps: d, draining: draining, grpc: gs, inproc: inproc, registry: registry}
}

// Registry is the server's metrics registry, for the domain's own collectors.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Listeners are where the server listens: gRPC and REST (with TLS when Deps.TLS is
// set), and optionally Metrics, which then serves /metrics in plain HTTP instead of
// the REST listener, so that the scrape endpoint can sit on a private address.
type Listeners struct {
	GRPC, HTTP, Metrics net.Listener
}

// Serve serves gRPC on grpcLis and REST on httpLis until ctx is done, then shuts
// down gracefully: no new calls are accepted, in-flight calls finish.
func (s *Server) Serve(ctx context.Context, grpcLis, httpLis net.Listener) error {
	return s.ServeListeners(ctx, Listeners{GRPC: grpcLis, HTTP: httpLis})
}

// ServeListeners is Serve with a choice of listeners.
func (s *Server) ServeListeners(ctx context.Context, lis Listeners) error {
	grpcLis, httpLis := lis.GRPC, lis.HTTP
	handler, err := s.httpHandler(ctx, lis.Metrics == nil)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	serveHTTP := httpSrv.Serve
	if s.deps.TLS != nil {
		httpSrv.TLSConfig = s.deps.TLS.Clone()
		serveHTTP = func(l net.Listener) error { return httpSrv.ServeTLS(l, "", "") }
	}
	// The metrics server has nothing in flight worth waiting for: it is closed, not
	// drained, when the others stop.
	metricsSrv := &http.Server{Handler: s.metricsHandler(), ReadHeaderTimeout: 10 * time.Second}
	defer metricsSrv.Close()
	errc := make(chan error, 3)
	go func() { errc <- s.grpc.Serve(grpcLis) }()
	go func() {
		if err := serveHTTP(httpLis); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	if lis.Metrics != nil {
		go func() {
			if err := metricsSrv.Serve(lis.Metrics); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics: %w", err)
			}
		}()
	}

	select {
	case err := <-errc:
		s.grpc.Stop()
		_ = httpSrv.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	s.deps.Log.Info("shutting down: finishing in-flight calls", "timeout", s.deps.ShutdownTimeout)
	close(s.draining)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.deps.ShutdownTimeout)
	defer cancel()
	// REST first: its in-flight requests still need the gRPC server to answer them.
	httpErr := httpSrv.Shutdown(shutdownCtx)
	stopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-shutdownCtx.Done():
		s.grpc.Stop()
	}
	if httpErr != nil {
		return fmt.Errorf("http shutdown: %w", httpErr)
	}
	return nil
}
