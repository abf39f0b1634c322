// Command loyaltyd is the loyalty engine's server: gRPC and REST on one PostgreSQL.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // program time zones work on machines without a tz database

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/bulk"
	"github.com/loyalty-engine/loyalty/events"
	"github.com/loyalty-engine/loyalty/internal/app"
	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/jobs"
	"github.com/loyalty-engine/loyalty/internal/pgcluster"
	"github.com/loyalty-engine/loyalty/internal/replica"
	"github.com/loyalty-engine/loyalty/internal/server"
	"github.com/loyalty-engine/loyalty/internal/webhookhttp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "loyaltyd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	gcPercent := setDefaultGCPercent(getenv)
	log.Info("starting loyaltyd", append(cfg.logAttrs(), "gcPercent", gcPercent)...)
	// Before anything starts: a certificate that does not load stops us at once.
	serverTLS, err := cfg.serverTLS()
	if err != nil {
		return err
	}

	dbURL := cfg.DatabaseURL
	if dbURL == "" {
		cluster, err := startLocalCluster(ctx, cfg)
		if err != nil {
			return err
		}
		if cluster.Started() {
			// Stop what we started, after the server has drained (defers run last-in
			// first-out, and this one is registered before the server starts).
			defer func() {
				log.Info("stopping local PostgreSQL")
				stopCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				if err := cluster.Stop(stopCtx); err != nil {
					log.Error("stop local PostgreSQL", "error", err)
				}
			}()
		}
		dbURL = cluster.URL("loyalty")
		log.Info("local PostgreSQL", "dir", filepath.Join(cfg.DataDir, "pg"), "port", cluster.Port(), "reused", !cluster.Started())
	}

	if err := database.Migrate(ctx, dbURL, log); err != nil {
		return err
	}
	pool, err := database.Open(ctx, dbURL, int32(cfg.MaxDBConns))
	if err != nil {
		return err
	}
	defer pool.Close()
	var readPool *pgxpool.Pool
	if cfg.ReadDatabaseURL != "" {
		// Not checked at start: a replica that is down serves no reads until it
		// answers (they run on the primary), and it may come up after us.
		if readPool, err = database.OpenLazy(ctx, cfg.ReadDatabaseURL, int32(cfg.MaxDBConns)); err != nil {
			return fmt.Errorf("read replica: %w", err)
		}
		defer readPool.Close()
	}

	adminKey := cfg.AdminKey
	if adminKey == "" && cfg.Demo {
		if adminKey, err = demoAdminKey(cfg.DataDir); err != nil {
			return err
		}
	}
	application, err := app.New(ctx, pool, log, app.Options{
		AdminKey: adminKey, MaxBodyBytes: cfg.MaxBodyBytes, MaxImportBytes: int64(cfg.MaxImportBytes), ShutdownTimeout: cfg.ShutdownTimeout, CallTimeout: cfg.CallTimeout,
		GroupCommitBatch: cfg.GroupCommit, GroupCommitFlushers: cfg.CommitFlushers, Bulk: bulk.Options{Chunk: cfg.BulkChunk, Yield: cfg.BulkYield, Parallel: cfg.BulkParallel}, TimeTravel: cfg.TimeTravel,
		TLS: serverTLS, WebhookAllow: cfg.WebhookAllow, WebhookRetry: events.RetryPolicy{GiveUpAfter: cfg.WebhookRetryFor},
		ReadPool: readPool, Replica: replica.Options{MaxLag: cfg.ReplicaMaxLag, Wait: cfg.ReplicaWait},
	})
	if err != nil {
		return err
	}

	grpcLis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("listen gRPC on %s: %w", cfg.GRPCAddr, err)
	}
	httpLis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("listen REST on %s: %w", cfg.HTTPAddr, err)
	}
	listeners := server.Listeners{GRPC: grpcLis, HTTP: httpLis}
	if cfg.MetricsAddr != "" {
		if listeners.Metrics, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			grpcLis.Close()
			httpLis.Close()
			return fmt.Errorf("listen metrics on %s: %w", cfg.MetricsAddr, err)
		}
	}
	if cfg.Demo {
		if err := seedDemo(ctx, application.Ledger); err != nil {
			return err
		}
		printDemo(stdout, httpLis.Addr().String(), grpcLis.Addr().String(), adminKey)
	}
	if cfg.PprofAddr != "" {
		if err := servePprof(ctx, cfg.PprofAddr, log); err != nil {
			return err
		}
	}
	serving := []any{"rest", httpLis.Addr().String(), "grpc", grpcLis.Addr().String(), "tls", serverTLS != nil}
	if listeners.Metrics != nil {
		serving = append(serving, "metrics", listeners.Metrics.Addr().String())
	}
	log.Info("serving", serving...)
	runner, err := jobs.New(pool, application.Ledger, application.Tiers, log, jobs.Options{
		Campaigns: application.Campaigns, Bulk: application.Bulk, NightParallel: cfg.NightParallel,
		Webhooks: jobs.Webhooks{Store: application.Webhooks, Timeout: cfg.WebhookTimeout,
			Sender: webhookhttp.NewSender(application.WebhookGuard, cfg.WebhookTimeout)},
	})
	if err != nil {
		return err
	}
	// The job queue outlives the signal: it is stopped, gracefully, after the
	// servers have drained.
	if err := runner.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	serveErr := application.Server.ServeListeners(ctx, listeners)
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := runner.Stop(stopCtx); err != nil && serveErr == nil {
		serveErr = err
	}
	return serveErr
}

// startLocalCluster runs (or reuses) the durable cluster under DataDir/pg and makes
// sure the loyalty database exists.
func startLocalCluster(ctx context.Context, cfg config) (*pgcluster.Cluster, error) {
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{
		Dir: filepath.Join(cfg.DataDir, "pg"), Port: cfg.LocalPGPort, Durable: true,
	})
	if err != nil {
		return nil, fmt.Errorf("local PostgreSQL: %w", err)
	}
	pool, err := database.Open(ctx, cluster.URL("postgres"), 1)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'loyalty')").Scan(&exists); err != nil {
		return nil, fmt.Errorf("look up database: %w", err)
	}
	if !exists {
		if _, err := pool.Exec(ctx, "CREATE DATABASE loyalty"); err != nil {
			return nil, fmt.Errorf("create database: %w", err)
		}
	}
	return cluster, nil
}

// demoAdminKey reads the demo admin secret from DataDir, creating it the first time,
// so `make run` prints the same key every time.
func demoAdminKey(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "admin-key")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate admin key: %w", err)
	}
	secret := "lk_demo_" + hex.EncodeToString(b)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dataDir, err)
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return secret, nil
}

// servePprof serves Go profiles on their own listener (never on the API port) until
// ctx ends.
func servePprof(ctx context.Context, addr string, log *slog.Logger) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen pprof on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	go func() { _ = srv.Serve(lis) }()
	log.Info("serving Go profiles", "addr", lis.Addr().String())
	return nil
}
