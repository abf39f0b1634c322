// Package chaostest proves that faults lose nothing. Its tests build the real
// loyaltyd, run it on a durable PostgreSQL cluster under a mixed load of retrying
// REST clients, and meanwhile kill loyaltyd (SIGKILL), crash PostgreSQL (immediate
// shutdown) and stop loyaltyd gracefully (SIGTERM), restarting each. Afterwards every
// write a client saw acknowledged, replayed with its requestId and body, must answer
// the same entry, and the books must verify. Other tests take the database away
// from a running server: readiness, fast UNAVAILABLE answers, jobs resuming.
//
// `go test` runs a short round; `make chaos` (CHAOS_DURATION) a longer one.
package chaostest
