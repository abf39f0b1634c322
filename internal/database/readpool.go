package database

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

type readPoolKey struct{}

// WithReadPool is ctx whose reads that may lag (those that call ReadPool) run on
// pool: the read replica, when the server routed the call there
// (internal/replica).
func WithReadPool(ctx context.Context, pool *pgxpool.Pool) context.Context {
	return context.WithValue(ctx, readPoolKey{}, pool)
}

// ReadPool is the pool a read that may lag behind the writes runs on: the one
// WithReadPool put in ctx, else primary. Only reads call it that are right on a
// replica's slightly older snapshot (statements, past balances, lots, reports,
// exports); current balances and everything that writes use the primary
// directly, so a context that strays into them changes nothing.
func ReadPool(ctx context.Context, primary *pgxpool.Pool) *pgxpool.Pool {
	if p, ok := ctx.Value(readPoolKey{}).(*pgxpool.Pool); ok && p != nil {
		return p
	}
	return primary
}
