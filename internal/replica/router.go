package replica

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loyalty-engine/loyalty/internal/database"
)

// Defaults of Options.
const (
	DefaultMaxLag    = 5 * time.Second
	DefaultWait      = 250 * time.Millisecond
	DefaultPollEvery = 200 * time.Millisecond
)

// pollTimeout bounds one poll: a replica that does not answer within it is down.
const pollTimeout = time.Second

// minPollGap spaces the polls that waiting reads ask for, so that many of them
// cost one poll, not one each.
const minPollGap = 10 * time.Millisecond

// maxSamples bounds the primary positions kept to measure the lag: at the default
// poll interval, 200 s of history, far beyond any sensible MaxLag.
const maxSamples = 1000

// Options tune the Router.
type Options struct {
	// MaxLag is the replica's largest lag at which reads still go to it; beyond
	// it they go to the primary until it catches up (zero: DefaultMaxLag).
	MaxLag time.Duration
	// Wait is how long a read with a position waits for the replica to replay
	// it before it goes to the primary (zero: DefaultWait).
	Wait time.Duration
	// PollEvery is how often the replica's state is polled (zero:
	// DefaultPollEvery).
	PollEvery time.Duration
}

// Router routes reads between the primary and the replica. Its zero replica (New
// with a nil replica pool) routes everything to the primary.
type Router struct {
	primary, replica *pgxpool.Pool
	opts             Options
	log              *slog.Logger

	mu         sync.Mutex
	state      State
	samples    []sample // primary positions not yet replayed, oldest first
	polledOnce bool
	polled     chan struct{} // closed when the next poll ends
	kick       chan struct{}

	lagSeconds, lagBytes, up prometheus.Gauge
	reads                    *prometheus.CounterVec
}

// sample is the primary's position at an instant.
type sample struct {
	at  time.Time
	pos Position
}

// New is a router between the primary and the replica (nil: none; every read
// goes to the primary). Run polls the replica.
func New(primary, replica *pgxpool.Pool, log *slog.Logger, opts Options) *Router {
	if opts.MaxLag <= 0 {
		opts.MaxLag = DefaultMaxLag
	}
	if opts.Wait <= 0 {
		opts.Wait = DefaultWait
	}
	if opts.PollEvery <= 0 {
		opts.PollEvery = DefaultPollEvery
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Router{
		primary: primary, replica: replica, opts: opts, log: log,
		state:  State{Configured: replica != nil},
		polled: make(chan struct{}),
		kick:   make(chan struct{}, 1),
		lagSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loyalty_replica_lag_seconds",
			Help: "How far the read replica's replay is behind the primary, in time (polled).",
		}),
		lagBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loyalty_replica_lag_bytes",
			Help: "How far the read replica's replay is behind the primary, in bytes of WAL (polled).",
		}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loyalty_replica_up",
			Help: "1 when the read replica answered the last poll as a standby, 0 when reads fall back to the primary for it.",
		}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyalty_replica_routed_reads_total",
			Help: "Reads that may be served by the replica, by where they went and why.",
		}, []string{"target", "reason"}),
	}
}

// Configured tells whether there is a replica.
func (r *Router) Configured() bool { return r.replica != nil }

// Collectors are the router's metrics (none without a replica).
func (r *Router) Collectors() []prometheus.Collector {
	if r.replica == nil {
		return nil
	}
	return []prometheus.Collector{r.lagSeconds, r.lagBytes, r.up, r.reads, database.PoolCollector(r.replica, "replica")}
}

// State is the replica's state as of the last poll.
func (r *Router) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// MaxLag is the lag beyond which reads go to the primary.
func (r *Router) MaxLag() time.Duration { return r.opts.MaxLag }

// Pool is where the read runs: the replica's pool or the primary's, as Route
// decides on the last poll. A read whose position the replica has not replayed
// waits for the polls (at most Options.Wait), then goes to the primary.
func (r *Router) Pool(ctx context.Context, read Read) (*pgxpool.Pool, Decision, error) {
	var timer *time.Timer
	for {
		r.mu.Lock()
		polled, st := r.polled, r.state
		r.mu.Unlock()
		d := Route(read, st, r.opts.MaxLag)
		if d.Target != Wait {
			if r.replica != nil && read.Lagging {
				r.reads.WithLabelValues(d.Target.String(), d.Reason).Inc()
			}
			if d.Target == Replica {
				return r.replica, d, nil
			}
			return r.primary, d, nil
		}
		if timer == nil {
			timer = time.NewTimer(r.opts.Wait)
			defer timer.Stop()
		}
		r.pollSoon()
		select {
		case <-polled:
		case <-timer.C:
			read.Waited = true
		case <-ctx.Done():
			return nil, d, ctx.Err()
		}
	}
}

// Failed tells the router that a read on the replica failed for want of the
// replica (it is down, or cancelled the read for a conflict with its replay):
// reads go to the primary until a poll finds it well, and the poll comes soon.
func (r *Router) Failed(err error) {
	r.mu.Lock()
	r.state.Up = false
	r.mu.Unlock()
	r.up.Set(0)
	r.log.Warn("read replica failed a read: reads go to the primary until it answers a poll", "error", err)
	r.pollSoon()
}

// Position is where the primary's WAL is: a read that carries it sees every
// write committed before it was taken. The insert position, not the flushed one,
// so that a write committed asynchronously (synchronous_commit off), whose
// commit record is inserted but maybe not yet flushed, is before it too.
func (r *Router) Position(ctx context.Context) (Position, error) {
	var s string
	if err := r.primary.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&s); err != nil {
		return 0, err
	}
	return ParsePosition(s)
}

// Run polls the replica until ctx ends (at once without a replica).
func (r *Router) Run(ctx context.Context) {
	if r.replica == nil {
		return
	}
	tick := time.NewTicker(r.opts.PollEvery)
	defer tick.Stop()
	for {
		r.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-r.kick:
			// Asked for by a waiting read; spaced so a crowd of them is one poll.
			select {
			case <-ctx.Done():
				return
			case <-time.After(minPollGap):
			}
		}
	}
}

func (r *Router) pollSoon() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// poll reads the primary's position and then the replica's replay, in that
// order: a replica that has replayed the position read just before has no lag.
func (r *Router) poll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	now := time.Now()
	var primaryAt Position
	var s string
	primaryErr := r.primary.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&s)
	if primaryErr == nil {
		primaryAt, primaryErr = ParsePosition(s)
	}
	var inRecovery bool
	var replayed *string
	replicaErr := r.replica.QueryRow(ctx, "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text").Scan(&inRecovery, &replayed)
	var replayedAt Position
	switch {
	case replicaErr != nil:
	case !inRecovery || replayed == nil:
		// Promoted, or not a standby at all: its data may part from the
		// primary's, so it serves no reads.
		replicaErr = errNotStandby
	default:
		replayedAt, replicaErr = ParsePosition(*replayed)
	}

	r.mu.Lock()
	wasUp, first := r.state.Up, !r.polledOnce
	r.polledOnce = true
	if primaryErr == nil {
		if n := len(r.samples); n == 0 || r.samples[n-1].pos < primaryAt {
			r.samples = append(r.samples, sample{at: now, pos: primaryAt})
		}
		if len(r.samples) > maxSamples {
			// Keep the oldest: it is what the lag is measured from.
			r.samples = append(r.samples[:1], r.samples[2:]...)
		}
	}
	var lagBytes uint64
	if replicaErr == nil {
		r.state.Replayed = replayedAt
		drop := 0
		for drop < len(r.samples) && r.samples[drop].pos <= replayedAt {
			drop++
		}
		r.samples = r.samples[drop:]
		if primaryErr == nil && primaryAt > replayedAt {
			lagBytes = uint64(primaryAt - replayedAt)
		}
	}
	r.state.Up = replicaErr == nil
	r.state.Lag = 0
	if len(r.samples) > 0 {
		r.state.Lag = now.Sub(r.samples[0].at)
	}
	lag := r.state.Lag
	close(r.polled)
	r.polled = make(chan struct{})
	r.mu.Unlock()

	r.lagSeconds.Set(lag.Seconds())
	if replicaErr == nil {
		r.lagBytes.Set(float64(lagBytes))
		r.up.Set(1)
	} else {
		r.up.Set(0)
	}
	switch {
	case replicaErr != nil && (wasUp || first):
		r.log.Warn("read replica unreachable: its reads go to the primary", "error", replicaErr)
	case !wasUp && replicaErr == nil:
		r.log.Info("read replica answers: reads go to it again", "lag", lag.String())
	}
}

var errNotStandby = errors.New("the read replica is not a standby (not in recovery): it serves no reads")

// ReplicaFailure tells whether a read's error came from the replica itself (it
// is out of reach, or cancelled the statement for a conflict with its replay),
// so that the read may run again on the primary.
func ReplicaFailure(err error) bool {
	if err == nil {
		return false
	}
	if database.Unavailable(err) != nil {
		return true
	}
	var pgErr *pgconn.PgError
	// 40001 on a standby is "canceling statement due to conflict with recovery".
	return errors.As(err, &pgErr) && pgErr.Code == "40001"
}
