// Package ledger is the double-entry points ledger and its account holders, the
// members. It knows nothing of gRPC: commands are validated structs, answers are
// plain types, and errors are problem errors.
package ledger

import (
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/ledger/internal/ledgerdb"
)

// Service is the ledger.
type Service struct {
	pool *pgxpool.Pool
	q    *ledgerdb.Queries
}

// NewService returns the ledger on the pool.
func NewService(pool *pgxpool.Pool) *Service {
	return &Service{pool: pool, q: ledgerdb.New()}
}
