package database

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
)

// MaxAttempts bounds how often a Runner runs one piece of work: a deadlock or a
// serialization failure that repeats this often is a hot spot to fix, not to wait out.
const MaxAttempts = 5

// txRetries counts the work run again, by the component that ran it and the
// SQLSTATE that aborted it.
//
// It is one package-level vector rather than a counter per service because the
// metric must be registered exactly once per registry whatever the number of
// services: several services each holding a collector of the same name could not
// all be registered, and a service built twice in one test binary (every server
// test builds its own) would have to know whether its twin already was. Services
// hold a Runner (a component label bound to this vector) and need no registry;
// the server registers Collectors once; a test reads the counter of its own
// component.
var txRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "loyalty_tx_retries_total",
	Help: "Database work run again after a deadlock or serialization failure, by component and SQLSTATE.",
}, []string{"component", "reason"})

// unnamed is the component of the zero Runner.
const unnamed = "unnamed"

// Collectors are the runner's metrics, for the server's registry.
func Collectors() []prometheus.Collector { return []prometheus.Collector{txRetries} }

// TxRetries is the counter of retries of component after SQLSTATE reason, for tests
// and dashboards that check a component's retries.
func TxRetries(component, reason string) prometheus.Counter {
	return txRetries.WithLabelValues(component, reason)
}

// Runner runs database work, again after a deadlock or serialization failure, and
// counts each retry under its component (NewRunner). The zero Runner works too and
// counts under component="unnamed": a forgotten NewRunner must not turn the first
// deadlock into a panic.
type Runner struct {
	retries *prometheus.CounterVec // curried with the component
}

// NewRunner returns the runner of a component ("tiers", "campaigns", ...), the
// label its retries are counted under.
func NewRunner(component string) Runner {
	return Runner{retries: txRetries.MustCurryWith(prometheus.Labels{"component": component})}
}

// Beginner starts transactions: a pool, a connection or a transaction (whose
// Begin is a savepoint).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// InTx runs fn in a transaction on db (begin, fn, commit; rollback when fn fails),
// the whole transaction again when PostgreSQL aborted it for a deadlock or a
// serialization failure (see Retry). fn may therefore run more than once: it
// must keep what it finds only in variables it sets anew on each run.
func (r Runner) InTx(ctx context.Context, db Beginner, fn func(pgx.Tx) error) error {
	return r.Retry(ctx, func() error { return pgx.BeginFunc(ctx, db, fn) })
}

// Retry runs fn, again when it failed with a deadlock or a serialization failure
// (IsRetryable): at most MaxAttempts times, waiting attempt² ms with jitter between
// runs so that the transactions that collided do not collide again in step. It
// stops when ctx is done, with ctx's error. Use it for work that is a transaction
// of its own (one statement on a pool, a transaction begun elsewhere); InTx for a
// transaction fn runs in.
func (r Runner) Retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !IsRetryable(err) || attempt == MaxAttempts {
			return err
		}
		r.count(err)
		if err := wait(ctx, backoff(attempt)); err != nil {
			return err
		}
	}
}

// count counts a retry under the SQLSTATE that caused it.
func (r Runner) count(err error) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return
	}
	if r.retries == nil {
		txRetries.WithLabelValues(unnamed, pgErr.Code).Inc()
		return
	}
	r.retries.WithLabelValues(pgErr.Code).Inc()
}

// backoff is the wait after the attempt-th run: attempt² ms, plus up to as much
// again at random.
func backoff(attempt int) time.Duration {
	d := time.Duration(attempt*attempt) * time.Millisecond
	return d + rand.N(d)
}

// wait sleeps d, or until ctx is done (then its error).
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
