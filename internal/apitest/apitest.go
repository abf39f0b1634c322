// Package apitest starts the whole server (gRPC, REST gateway, interceptors, real
// PostgreSQL) in-process for API tests, and gives tests clients for both transports.
package apitest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/internal/app"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
)

// AdminKey is the bootstrap admin secret of every test server.
const AdminKey = "lk_test_admin_secret_0123456789"

// Env is a running server and clients for it.
type Env struct {
	t        testing.TB
	shutdown func() error
	Pool     *pgxpool.Pool
	App      *app.App
	Conn     *grpc.ClientConn
	BaseURL  string
	GRPCAddr string
	HTTP     *http.Client
}

// Start runs a server on a fresh database until the test ends; edits change the
// server's options (time travel, say). With Options.TLS the clients speak TLS and
// trust the server's first certificate.
func Start(t testing.TB, edits ...func(*app.Options)) *Env {
	t.Helper()
	return StartOn(t, dbtest.NewPool(t), edits...)
}

// StartOn runs a server on an existing database until the test ends: another
// replica of an Env's database, or the same one after a restart.
func StartOn(t testing.TB, pool *pgxpool.Pool, edits ...func(*app.Options)) *Env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	opts := app.Options{AdminKey: AdminKey, ShutdownTimeout: 15 * time.Second}
	for _, edit := range edits {
		edit(&opts)
	}
	a, err := app.New(ctx, pool, log, opts)
	if err != nil {
		t.Fatalf("apitest: build app: %v", err)
	}
	grpcLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	httpLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Server.Serve(ctx, grpcLis, httpLis) }()
	creds, httpClient, scheme := insecure.NewCredentials(), &http.Client{Timeout: 30 * time.Second}, "http://"
	if opts.TLS != nil {
		// The clients trust the server's own (self-signed) certificate.
		leaf, err := x509.ParseCertificate(opts.TLS.Certificates[0].Certificate[0])
		if err != nil {
			t.Fatalf("apitest: server certificate: %v", err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(leaf)
		clientTLS := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		creds, scheme = credentials.NewTLS(clientTLS), "https://"
		httpClient.Transport = &http.Transport{TLSClientConfig: clientTLS, ForceAttemptHTTP2: true}
	}
	conn, err := grpc.NewClient(grpcLis.Addr().String(), grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatalf("apitest: grpc client: %v", err)
	}
	var once sync.Once
	var serveErr error
	shutdown := func() error {
		once.Do(func() {
			cancel()
			serveErr = <-done
		})
		return serveErr
	}
	t.Cleanup(func() {
		_ = conn.Close()
		if err := shutdown(); err != nil {
			t.Errorf("apitest: serve: %v", err)
		}
	})
	return &Env{t: t, shutdown: shutdown, Pool: pool, App: a, Conn: conn, BaseURL: scheme + httpLis.Addr().String(),
		GRPCAddr: grpcLis.Addr().String(), HTTP: httpClient}
}

// Shutdown stops the server gracefully, as SIGTERM does, and returns when it has
// stopped.
func (e *Env) Shutdown() error { return e.shutdown() }

// Key creates a key with the role and returns its secret.
func (e *Env) Key(role access.Role) string {
	e.t.Helper()
	_, secret, err := e.App.Keys.Create(context.Background(), access.CreateKey{Name: "test " + string(role), Role: string(role)})
	if err != nil {
		e.t.Fatalf("apitest: create %s key: %v", role, err)
	}
	return secret
}

// Ctx is a context whose gRPC calls carry the key.
func (e *Env) Ctx(key string) context.Context {
	if key == "" {
		return context.Background()
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key)
}

// Response is a REST answer with its JSON body decoded.
type Response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// REST calls the gateway. body may be nil, a string (sent as is) or a value to
// encode as JSON. headers are extra name/value pairs.
func (e *Env) REST(method, path, key string, body any, headers ...string) Response {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewBufferString(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("apitest: encode body: %v", err)
		}
		r = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, e.BaseURL+path, r)
	if err != nil {
		e.t.Fatalf("apitest: %v", err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.HTTP.Do(req)
	if err != nil {
		e.t.Fatalf("apitest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("apitest: read body: %v", err)
	}
	out := Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out.Body); err != nil {
			e.t.Fatalf("apitest: decode %s: %v", raw, err)
		}
	}
	return out
}

// Metric reads one series from /metrics by its full name, labels included as
// Prometheus prints them (`pgxpool_max_conns{pool="primary"}`); found is false when
// /metrics has no such series.
func (e *Env) Metric(series string) (value float64, found bool) {
	e.t.Helper()
	for _, line := range strings.Split(string(e.REST("GET", "/metrics", "", nil).Raw), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				e.t.Fatalf("apitest: metric %s: %v", series, err)
			}
			return f, true
		}
	}
	return 0, false
}

// FieldViolations lists the fields named by a REST error's BadRequest detail.
func (r Response) FieldViolations() []string {
	var fields []string
	details, _ := r.Body["details"].([]any)
	for _, d := range details {
		m, _ := d.(map[string]any)
		violations, _ := m["fieldViolations"].([]any)
		for _, v := range violations {
			fv, _ := v.(map[string]any)
			if f, ok := fv["field"].(string); ok {
				fields = append(fields, f)
			}
		}
	}
	return fields
}

// Reason is the ErrorInfo reason of a REST error.
func (r Response) Reason() string {
	details, _ := r.Body["details"].([]any)
	for _, d := range details {
		m, _ := d.(map[string]any)
		if reason, ok := m["reason"].(string); ok {
			return reason
		}
	}
	return ""
}
