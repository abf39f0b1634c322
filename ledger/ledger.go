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

	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// Clock gives business time. Tests move it; production uses the wall clock.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// WallClock is the real time.
var WallClock Clock = wallClock{}

// Service is the ledger.
type Service struct {
	pool    *pgxpool.Pool
	q       *ledgerdb.Queries
	clock   Clock
	retries *prometheus.CounterVec
}

// Option configures the Service.
type Option func(*Service)

// WithClock sets the business clock.
func WithClock(c Clock) Option { return func(s *Service) { s.clock = c } }

// NewService returns the ledger on the pool.
func NewService(pool *pgxpool.Pool, opts ...Option) *Service {
	s := &Service{
		pool:  pool,
		q:     ledgerdb.New(),
		clock: WallClock,
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyalty_ledger_tx_retries_total",
			Help: "Ledger transactions run again after a deadlock or serialization failure.",
		}, []string{"reason"}),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Collectors are the ledger's metrics, for the server's registry.
func (s *Service) Collectors() []prometheus.Collector { return []prometheus.Collector{s.retries} }
