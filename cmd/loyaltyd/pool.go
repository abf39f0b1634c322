package main

// Pool sizes when --max-db-conns (LOYALTY_MAX_DB_CONNS) is not given.
const (
	dbConnsPerCore = 4
	minDBConns     = 8
	maxDBConns     = 32
)

// defaultMaxDBConns is the database pool size for a loyaltyd that may run on procs
// cores (GOMAXPROCS): four connections a core, between 8 and 32.
//
// Why not simply many: each connection is a PostgreSQL backend, and past a few per
// core the backends only take turns on the CPU, preempting one another inside the
// database's locks. On 2 cores, 32 connections under 32 readers served 10-50 % fewer
// reads than 8, with a p99 up to three times as long, and PostgreSQL spent more CPU
// a read (docs/BENCHMARKS.md, "The pool size"). Calls beyond the pool wait for a
// connection in loyaltyd, in order, instead of in the operating system's run queue.
// The floor leaves room for the work that shares the pool: the group-commit
// flushers, the job queue, bulk-credit chunks and the expiry sweepers. The ceiling is
// the default of earlier releases, which docs/OPERATIONS.md sizes max_connections by.
func defaultMaxDBConns(procs int) int {
	return min(maxDBConns, max(minDBConns, dbConnsPerCore*procs))
}
