package events

import "github.com/jackc/pgx/v5/pgxpool"

// Store reads the feed and keeps the webhook endpoints, on the pool.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore is the store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }
