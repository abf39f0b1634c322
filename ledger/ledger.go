// Package ledger is the double-entry points ledger and its account holders, the
// members. It knows nothing of gRPC: commands are validated structs, answers are
// plain types, and errors are problem errors.
//
// Every change is an immutable entry whose postings sum to zero. Member balances are
// cached in one row per member and moved in the same statement that appends the
// entry; system accounts are append-only (see the migration) so that they never
// become a hot row.
package ledger

import (
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/pagetoken"
	"github.com/loyalty-engine/loyalty/internal/settingscache"
	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
	"github.com/loyalty-engine/loyalty/tiers"
)

// Clock gives business time. Tests move it; production uses the wall clock.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// WallClock is the real time.
var WallClock Clock = wallClock{}

// Service is the ledger.
type Service struct {
	pool      *pgxpool.Pool
	q         *ledgerdb.Queries
	clock     Clock
	tx        database.Runner
	committer *committer
	batchSize prometheus.Histogram
	// lanesWidened counts batches run again with every budget slice.
	lanesWidened prometheus.Counter
	// lockSplits counts batches that gave up waiting for a lock (committer.flush).
	lockSplits prometheus.Counter
	programs   settingscache.Cache[Program]
	tiers      *tiers.Service
	// promotions are the campaigns earnings apply (nil: none).
	promotions Promotions
	pageTokens *pagetoken.Codec
}

// Option configures the Service.
type Option func(*Service)

// WithClock sets the business clock.
func WithClock(c Clock) Option { return func(s *Service) { s.clock = c } }

// NewService returns the ledger on the pool, applying t to earnings (the tier
// multiplier, the qualifying metric, the order's tier snapshot). The ledger builds
// no service of its own: the caller (internal/app in production) wires them, and
// the ledger has no campaigns until SetPromotions.
func NewService(pool *pgxpool.Pool, t *tiers.Service, opts ...Option) *Service {
	if t == nil {
		panic("ledger.NewService: the tiers service is required (build it with tiers.NewService and pass it)")
	}
	s := &Service{
		pool:  pool,
		q:     ledgerdb.New(),
		tiers: t,
		clock: WallClock,
		// Until WithPageTokens: tokens good for this process only.
		pageTokens: pagetoken.Ephemeral(),
		tx:         database.NewRunner("ledger"),
	}
	s.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "loyalty_ledger_commit_batch_entries",
		Help:    "Entries committed together by group commit.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
	})
	s.lanesWidened = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "loyalty_ledger_budget_lane_widened_total",
		Help: "Batches whose lane of campaign budget slices could not answer a grant, run again with every slice.",
	})
	s.lockSplits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "loyalty_ledger_batch_lock_splits_total",
		Help: "Group-commit batches that gave up waiting for a lock another transaction held (a bulk credit's chunk, say) and were split, or handed a command to a waiter.",
	})
	s.committer = newCommitter(s, DefaultMaxBatch, DefaultMaxFlushers, DefaultBatchLockWait)
	for _, o := range opts {
		o(s)
	}
	return s
}

// WithPageTokens sets the key of the statement's and the approvals' page tokens. It
// must be the same on every replica and outlive restarts (a token from one replica
// is sent to whichever serves the next page); without it tokens are good only
// within this process.
func WithPageTokens(c *pagetoken.Codec) Option { return func(s *Service) { s.pageTokens = c } }

// Group commit defaults: at most this many entries per batch, and batches in flight.
const (
	DefaultMaxBatch    = 64
	DefaultMaxFlushers = 2
	// DefaultBatchLockWait is well above what a batch waits for another batch
	// (milliseconds) and well below a bulk chunk's commit (seconds).
	DefaultBatchLockWait = 100 * time.Millisecond
)

// WithGroupCommit sets how many entries a batch may hold and how many batches may
// be in flight at once. WithGroupCommit(1, n) commits every entry on its own.
func WithGroupCommit(maxBatch, maxFlushers int) Option {
	return func(s *Service) {
		s.committer = newCommitter(s, max(1, maxBatch), max(1, maxFlushers), s.committer.lockWait)
	}
}

// WithBatchLockWait sets how long a group-commit batch waits for a lock before it
// is split (DefaultBatchLockWait; 0: as long as it takes, every command of the
// batch waiting with the one whose member is held).
func WithBatchLockWait(d time.Duration) Option {
	return func(s *Service) { s.committer.lockWait = max(0, d) }
}

// Collectors are the ledger's metrics, for the server's registry.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.batchSize, s.lanesWidened, s.lockSplits}
}
