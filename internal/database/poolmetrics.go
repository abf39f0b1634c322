package database

import (
	"github.com/IBM/pgxpoolprometheus"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector exports a pool's statistics on /metrics, read at each scrape, as
// pgxpool_* series labelled pool=name ("primary", "replica"). The pool is small by
// design (a few connections a core), so a call that waits for a connection is the
// thing to watch: pgxpool_empty_acquire counts acquisitions that found no idle
// connection, and pgxpool_empty_acquire_wait_time_ns the time they waited.
func PoolCollector(pool *pgxpool.Pool, name string) prometheus.Collector {
	return pgxpoolprometheus.NewCollector(pool, map[string]string{"pool": name})
}
