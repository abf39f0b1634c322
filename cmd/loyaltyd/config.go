package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"time"

	"github.com/loyalty-engine/loyalty/bulk"
	"github.com/loyalty-engine/loyalty/internal/webhookhttp"
)

// config is everything loyaltyd can be told, from flags with environment defaults.
type config struct {
	HTTPAddr    string
	GRPCAddr    string
	DatabaseURL string // empty: a local cluster under DataDir
	// ReadDatabaseURL is a streaming replica of DatabaseURL's database, for the
	// reads that may lag (empty: none); ReplicaMaxLag and ReplicaWait tune it.
	ReadDatabaseURL            string
	ReplicaMaxLag, ReplicaWait time.Duration
	DataDir                    string
	LocalPGPort                int
	AdminKey                   string
	Demo                       bool
	LogLevel                   slog.Level
	LogFormat                  string
	MaxBodyBytes               int
	MaxImportBytes             int
	MaxDBConns                 int
	ShutdownTimeout            time.Duration
	CallTimeout                time.Duration
	PprofAddr                  string
	GroupCommit                int
	CommitFlushers             int
	// BulkChunk, BulkYield and BulkParallel tune the bulk credits' job
	// (docs/BULK.md).
	BulkChunk    int
	BulkYield    time.Duration
	BulkParallel int
	TimeTravel   bool
	// NightParallel is how many sweepers the expiry job and the expiry reminders
	// run at once (docs/BULK.md, "Expiry night").
	NightParallel int
	// TLSCert and TLSKey are PEM files; both set: gRPC and REST serve TLS.
	TLSCert, TLSKey string
	// MetricsAddr, when set, serves /metrics there instead of on the REST listener.
	MetricsAddr string
	// WebhookAllow admits webhook endpoints on these private networks.
	WebhookAllow []netip.Prefix
	// WebhookRetryFor is how long a failing delivery is retried before its
	// endpoint is disabled; WebhookTimeout bounds one attempt.
	WebhookRetryFor, WebhookTimeout time.Duration
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("loyaltyd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	envInt := func(name string, def int) int {
		if v, err := strconv.Atoi(getenv(name)); err == nil {
			return v
		}
		return def
	}
	fs.StringVar(&c.HTTPAddr, "http-addr", env("LOYALTY_HTTP_ADDR", "127.0.0.1:8080"), "REST listen address (LOYALTY_HTTP_ADDR)")
	fs.StringVar(&c.GRPCAddr, "grpc-addr", env("LOYALTY_GRPC_ADDR", "127.0.0.1:9090"), "gRPC listen address (LOYALTY_GRPC_ADDR)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("LOYALTY_DATABASE_URL", ""), "PostgreSQL URL; empty runs a local cluster under -data-dir (LOYALTY_DATABASE_URL)")
	fs.StringVar(&c.ReadDatabaseURL, "read-database-url", env("LOYALTY_READ_DATABASE_URL", ""), "PostgreSQL URL of a streaming replica (hot standby) of the database: statements, past balances, lots, reports and exports read from it; empty: everything on the primary (LOYALTY_READ_DATABASE_URL)")
	replicaMaxLag := fs.String("replica-max-lag", env("LOYALTY_REPLICA_MAX_LAG", "5s"), "replica lag beyond which its reads go to the primary until it catches up (LOYALTY_REPLICA_MAX_LAG)")
	replicaWait := fs.String("replica-wait", env("LOYALTY_REPLICA_WAIT", "250ms"), "how long a read with Loyalty-Min-Position waits for the replica to replay it before it goes to the primary (LOYALTY_REPLICA_WAIT)")
	fs.StringVar(&c.DataDir, "data-dir", env("LOYALTY_DATA_DIR", ".data"), "where the local cluster and demo files live (LOYALTY_DATA_DIR)")
	fs.IntVar(&c.LocalPGPort, "local-pg-port", envInt("LOYALTY_LOCAL_PG_PORT", 54329), "port of the local cluster (LOYALTY_LOCAL_PG_PORT)")
	fs.StringVar(&c.AdminKey, "admin-key", env("LOYALTY_ADMIN_KEY", ""), "guarantee an admin key with this secret (LOYALTY_ADMIN_KEY)")
	fs.BoolVar(&c.Demo, "demo", getenv("LOYALTY_DEMO") == "1", "seed demo data and print what to try (LOYALTY_DEMO=1)")
	level := fs.String("log-level", env("LOYALTY_LOG_LEVEL", "info"), "debug, info, warn or error (LOYALTY_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("LOYALTY_LOG_FORMAT", "text"), "text or json (LOYALTY_LOG_FORMAT)")
	fs.IntVar(&c.MaxBodyBytes, "max-body-bytes", envInt("LOYALTY_MAX_BODY_BYTES", 1<<20), "largest accepted request body (LOYALTY_MAX_BODY_BYTES)")
	fs.IntVar(&c.MaxImportBytes, "max-import-bytes", envInt("LOYALTY_MAX_IMPORT_BYTES", 2<<30), "largest accepted member import file, POST /v1/imports (LOYALTY_MAX_IMPORT_BYTES)")
	fs.IntVar(&c.MaxDBConns, "max-db-conns", envInt("LOYALTY_MAX_DB_CONNS", defaultMaxDBConns(runtime.GOMAXPROCS(0))), "database connection pool size; by default 4 a core, between 8 and 32 (LOYALTY_MAX_DB_CONNS)")
	fs.StringVar(&c.PprofAddr, "pprof-addr", env("LOYALTY_PPROF_ADDR", ""), "serve Go profiles (net/http/pprof) on this address; empty: off (LOYALTY_PPROF_ADDR)")
	fs.IntVar(&c.GroupCommit, "group-commit", envInt("LOYALTY_GROUP_COMMIT", 64), "most entries committed together by group commit; 1 turns it off (LOYALTY_GROUP_COMMIT)")
	fs.IntVar(&c.CommitFlushers, "commit-flushers", envInt("LOYALTY_COMMIT_FLUSHERS", 2), "group-commit batches in flight at once (LOYALTY_COMMIT_FLUSHERS)")
	timeTravel := fs.String("time-travel", env("LOYALTY_TIME_TRAVEL", "auto"), "let an admin move business time forward (POST /v1/clock:advance): on, off, or auto = on with -demo only (LOYALTY_TIME_TRAVEL)")
	fs.StringVar(&c.TLSCert, "tls-cert", env("LOYALTY_TLS_CERT", ""), "PEM certificate (chain) file: with -tls-key, gRPC and REST serve TLS (LOYALTY_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", env("LOYALTY_TLS_KEY", ""), "PEM private key file of -tls-cert (LOYALTY_TLS_KEY)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("LOYALTY_METRICS_ADDR", ""), "serve /metrics (plain HTTP) on this address instead of the REST listener; empty: on the REST listener (LOYALTY_METRICS_ADDR)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "how long in-flight calls may finish at shutdown")
	webhookAllow := fs.String("webhook-allow", env("LOYALTY_WEBHOOK_ALLOW", ""), "comma-separated networks (CIDR) webhook endpoints may be on although private or loopback, e.g. 127.0.0.0/8 for a local receiver; empty: public addresses only (LOYALTY_WEBHOOK_ALLOW)")
	webhookRetryFor := fs.String("webhook-retry-for", env("LOYALTY_WEBHOOK_RETRY_FOR", "72h"), "how long a failing webhook delivery is retried before its endpoint is disabled (LOYALTY_WEBHOOK_RETRY_FOR)")
	webhookTimeout := fs.String("webhook-timeout", env("LOYALTY_WEBHOOK_TIMEOUT", "10s"), "time limit of one webhook delivery attempt (LOYALTY_WEBHOOK_TIMEOUT)")
	fs.IntVar(&c.BulkChunk, "bulk-chunk", envInt("LOYALTY_BULK_CHUNK", bulk.DefaultChunk), "members one transaction of a bulk credit credits: smaller holds each member's lock for less time, larger is faster at night (LOYALTY_BULK_CHUNK)")
	fs.IntVar(&c.BulkParallel, "bulk-parallel", envInt("LOYALTY_BULK_PARALLEL", bulk.DefaultParallel), "chunks of one bulk credit credited at once, on disjoint members; a campaign-funded one runs one at a time (LOYALTY_BULK_PARALLEL)")
	fs.IntVar(&c.NightParallel, "night-parallel", envInt("LOYALTY_NIGHT_PARALLEL", 2), "sweepers the expiry job and the expiry reminders run at once, each over its own share of the members (LOYALTY_NIGHT_PARALLEL)")
	bulkYield := fs.String("bulk-yield", env("LOYALTY_BULK_YIELD", "20ms"), "pause of a bulk credit between two chunks, so API calls get the database in between (LOYALTY_BULK_YIELD)")
	callTimeout := fs.String("call-timeout", env("LOYALTY_CALL_TIMEOUT", "10s"), "the server's deadline for every call, its SQL included; a client's shorter deadline wins (LOYALTY_CALL_TIMEOUT)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if err := c.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		return config{}, fmt.Errorf("log level %q: %w", *level, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return config{}, errors.New("log format must be text or json")
	}
	if c.GroupCommit < 1 || c.GroupCommit > 1000 || c.CommitFlushers < 1 || c.CommitFlushers > 64 {
		return config{}, errors.New("group commit must be 1-1000 and commit flushers 1-64")
	}
	switch *timeTravel {
	case "auto":
		c.TimeTravel = c.Demo
	case "on":
		c.TimeTravel = true
	case "off":
	default:
		return config{}, errors.New("time travel must be on, off or auto")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return config{}, errors.New("TLS needs both a certificate and a key: set --tls-cert and --tls-key (LOYALTY_TLS_CERT, LOYALTY_TLS_KEY) together, or neither for plain text")
	}
	callTimeoutValue, err := time.ParseDuration(*callTimeout)
	if err != nil || callTimeoutValue < 100*time.Millisecond || callTimeoutValue > 10*time.Minute {
		return config{}, fmt.Errorf("call timeout %q must be a duration from 100ms to 10m", *callTimeout)
	}
	c.CallTimeout = callTimeoutValue
	if c.ReplicaMaxLag, err = time.ParseDuration(*replicaMaxLag); err != nil || c.ReplicaMaxLag < 100*time.Millisecond || c.ReplicaMaxLag > time.Hour {
		return config{}, fmt.Errorf("replica max lag %q must be a duration from 100ms to 1h", *replicaMaxLag)
	}
	if c.ReplicaWait, err = time.ParseDuration(*replicaWait); err != nil || c.ReplicaWait < 0 || c.ReplicaWait > 10*time.Second {
		return config{}, fmt.Errorf("replica wait %q must be a duration from 0 to 10s", *replicaWait)
	}
	if c.WebhookAllow, err = webhookhttp.ParseAllowList(*webhookAllow); err != nil {
		return config{}, err
	}
	if c.WebhookRetryFor, err = time.ParseDuration(*webhookRetryFor); err != nil || c.WebhookRetryFor < time.Minute || c.WebhookRetryFor > 30*24*time.Hour {
		return config{}, fmt.Errorf("webhook retry period %q must be a duration from 1m to 720h", *webhookRetryFor)
	}
	if c.WebhookTimeout, err = time.ParseDuration(*webhookTimeout); err != nil || c.WebhookTimeout < 100*time.Millisecond || c.WebhookTimeout > time.Minute {
		return config{}, fmt.Errorf("webhook timeout %q must be a duration from 100ms to 1m", *webhookTimeout)
	}
	if c.BulkChunk < 1 || c.BulkChunk > 50_000 {
		return config{}, errors.New("bulk chunk must be 1-50000")
	}
	if c.BulkParallel < 1 || c.BulkParallel > 16 {
		return config{}, errors.New("bulk parallel must be 1-16")
	}
	if c.NightParallel < 1 || c.NightParallel > 16 {
		return config{}, errors.New("night parallel must be 1-16")
	}
	if c.BulkYield, err = time.ParseDuration(*bulkYield); err != nil || c.BulkYield < 0 || c.BulkYield > 10*time.Second {
		return config{}, fmt.Errorf("bulk yield %q must be a duration from 0 to 10s", *bulkYield)
	}
	if c.MaxBodyBytes < 1024 {
		return config{}, errors.New("max body bytes must be at least 1024")
	}
	if c.MaxImportBytes < 1024 {
		return config{}, errors.New("max import bytes must be at least 1024")
	}
	return c, nil
}

// logValue prints the config with secrets masked.
func (c config) logAttrs() []any {
	db := "(local cluster under " + c.DataDir + ")"
	if c.DatabaseURL != "" {
		db = redactURL(c.DatabaseURL)
	}
	readDB := ""
	if c.ReadDatabaseURL != "" {
		readDB = redactURL(c.ReadDatabaseURL)
	}
	adminKey := ""
	if c.AdminKey != "" {
		adminKey = "****"
	}
	return []any{
		"httpAddr", c.HTTPAddr, "grpcAddr", c.GRPCAddr, "database", db, "readDatabase", readDB,
		"replicaMaxLag", c.ReplicaMaxLag, "replicaWait", c.ReplicaWait, "adminKey", adminKey,
		"demo", c.Demo, "logLevel", c.LogLevel.String(), "maxBodyBytes", c.MaxBodyBytes, "maxImportBytes", c.MaxImportBytes,
		"maxDBConns", c.MaxDBConns, "shutdownTimeout", c.ShutdownTimeout, "callTimeout", c.CallTimeout, "pprofAddr", c.PprofAddr,
		"groupCommit", c.GroupCommit, "commitFlushers", c.CommitFlushers, "bulkChunk", c.BulkChunk, "bulkYield", c.BulkYield.String(), "bulkParallel", c.BulkParallel, "nightParallel", c.NightParallel, "timeTravel", c.TimeTravel,
		"tlsCert", c.TLSCert, "tlsKey", c.TLSKey, "metricsAddr", c.MetricsAddr,
		"webhookAllow", fmt.Sprint(c.WebhookAllow), "webhookRetryFor", c.WebhookRetryFor, "webhookTimeout", c.WebhookTimeout,
	}
}

// serverTLS loads the certificate and key, if configured; nil: plain text.
func (c config) serverTLS() (*tls.Config, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("TLS: load certificate %s and key %s: %w", c.TLSCert, c.TLSKey, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}

func newLogger(c config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
