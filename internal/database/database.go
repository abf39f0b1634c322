// Package database opens the PostgreSQL pool, migrates the schema and classifies
// PostgreSQL errors. It is the only place that knows about goose.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for goose
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/loyalty-engine/loyalty/sql/migrations"
)

// How the pool behaves when PostgreSQL is slow or gone.
const (
	// connectTimeout bounds a new connection when the URL sets no connect_timeout:
	// while the server is down, calls fail within it instead of at their deadline.
	connectTimeout = 2 * time.Second
	// pingTimeout bounds the liveness check of a connection taken from the pool.
	pingTimeout = time.Second
	// cancelGrace is how long a cancelled statement has to stop after the cancel
	// request before its connection is cut.
	cancelGrace = time.Second
)

// Open connects a pool and checks that the server answers.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	pool, err := OpenLazy(ctx, url, maxConns)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}

// OpenLazy is Open without the check: the pool connects when it is first used.
// For the read replica, which may be down when loyaltyd starts (its reads go to
// the primary until it answers).
func OpenLazy(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	cfg.PingTimeout = pingTimeout
	// A cancelled context (a call past its deadline, a client gone) sends
	// PostgreSQL a cancel request, so the statement stops on the server too. pgx's
	// default only cuts the socket, and a backend waiting for a lock does not
	// notice that: it would wait on, holding its place in the lock queue.
	cfg.ConnConfig.BuildContextWatcherHandler = func(conn *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: conn, DeadlineDelay: cancelGrace}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return pool, nil
}

// migrationLockID serializes whole migrations (ours, then River's) across replicas.
const migrationLockID = 74210002

// Migrate applies every pending migration: the schema (goose, embedded) and the job
// queue's tables (River's own migrations). It holds a PostgreSQL session advisory
// lock while it works, so replicas starting at once migrate one after the other and
// all come up.
func Migrate(ctx context.Context, url string, log *slog.Logger) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect for migration: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLockID)); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", int64(migrationLockID)) //nolint:errcheck
	if err := migrateSchema(ctx, url, log); err != nil {
		return err
	}
	return migrateJobQueue(ctx, url, log)
}

// migrateJobQueue applies River's migrations, each version in a transaction of its
// own (some add enum values, which PostgreSQL only lets later transactions use).
func migrateJobQueue(ctx context.Context, url string, log *slog.Logger) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return fmt.Errorf("connect for job queue migration: %w", err)
	}
	defer pool.Close()
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("job queue migrator: %w", err)
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("migrate job queue: %w", err)
	}
	for _, v := range res.Versions {
		if log != nil {
			log.Info("applied job queue migration", "version", v.Version, "name", v.Name)
		}
	}
	return nil
}

// migrateSchema applies the embedded goose migrations.
func migrateSchema(ctx context.Context, url string, log *slog.Logger) error {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return fmt.Errorf("open database for migration: %w", err)
	}
	defer db.Close()
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 600))
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migration provider: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		if log != nil {
			log.Info("applied migration", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
		}
	}
	return nil
}

// SQLSTATE codes the code base reacts to.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// IsUniqueViolation reports a unique constraint violation, optionally of a named
// constraint.
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != codeUniqueViolation {
		return false
	}
	return constraint == "" || pgErr.ConstraintName == constraint
}

// IsForeignKeyViolation reports a reference to a row that does not exist.
func IsForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == codeForeignKeyViolation
}

// IsRetryable reports errors after which the whole transaction may simply be run
// again: serialization failures and deadlocks.
func IsRetryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == codeSerializationFailure || pgErr.Code == codeDeadlockDetected)
}
