#!/usr/bin/env bash
# Benchmarks loyaltyd and pgbench (tpcb-like for writes, select-only for reads) on the
# same PostgreSQL server in one run
# (`make bench`; see docs/BENCHMARKS.md). Starts bin/loyaltyd with its own durable
# cluster under .data/bench, runs pgbench, the load generator (bench/loadgen), pgbench
# again, stops loyaltyd, runs the in-process Go benchmarks of an earn (allocations per
# call: internal/server's BenchmarkRESTEarn and BenchmarkGRPCEarn), prints a summary
# with the ratios and a markdown table for docs/BENCHMARKS.md, stops everything it
# started and writes the transcript to bench/results/<timestamp>.txt. The bulk-credit
# scenario (bench/bulkload) restarts loyaltyd once per BENCH_BULK_YIELDS setting and
# runs a bulk credit of BENCH_BULK_MEMBERS members while REST earns run beside it open
# loop at BENCH_BULK_EARN_RATE calls/s: members/s and the earns' p99, alone and beside
# it, with the ratios to the first setting.
#
# Environment knobs (defaults):
#   BENCH_DURATION=20s        measured time of each loadgen scenario and each pgbench run
#   BENCH_WARMUP=3s           unmeasured loadgen time before each scenario
#   BENCH_WORKERS=32          loadgen workers
#   BENCH_MEMBERS=10000       members bench-0..N-1
#   BENCH_SCENARIOS=rest-earn,grpc-earn,rest-order-earn,rest-campaign-earn,rest-activity,rest-earn-webhook,rest-redeem,rest-balance,grpc-balance,rest-perks,bulk-credit
#                             (bulk-credit: bench/bulkload, after the others and pgbench's second
#                             run; BENCH_SCENARIOS=bulk-credit runs it alone, without pgbench)
#                             (rest-earn-webhook: rest-earn with a webhook endpoint for every event
#                             at a receiver in the load generator; adds the delivery lag)
#   BENCH_WEBHOOK_DRAIN=60s   loadgen -webhook-drain: the longest wait after rest-earn-webhook's
#                             load for its last deliveries
#   BENCH_BULK_MEMBERS=100000 members of the bulk-credit scenario's bulk credit
#   BENCH_BULK_YIELDS=20ms,0s,200ms  loyaltyd --bulk-yield of each bulk-credit run (the first: the reference)
#   BENCH_BULK_EARN_RATE=100  REST earns per second beside the bulk credit (open loop)
#   BENCH_BULK_BASELINE=10s   REST earns alone first, at the same rate
#   BENCH_BULK_EARN_MEMBERS=inside  whom the earns are for: inside (random members of the bulk
#                             credit: some wait for the chunk that holds them) or outside (10,000
#                             members the bulk credit leaves out)
#   BENCH_RATE=               loadgen -rate: open loop at this many calls/s per scenario, latency
#                             from each call's intended start (empty: closed loop)
#   BENCH_RATE_SCENARIOS=     with BENCH_RATE: BENCH_SCENARIOS run closed loop as usual, then
#                             these scenarios run once more open loop at BENCH_RATE (a second
#                             table: latency at that load next to the saturated figures)
#   BENCH_DB_CONNS=           loyaltyd --max-db-conns (empty: loyaltyd's default, 4 a core, 8-32)
#   BENCH_PGBENCH_SCALE=32    pgbench -s (initialized once, reused while it matches)
#   BENCH_PGBENCH_CLIENTS=$BENCH_WORKERS  pgbench -c
#   BENCH_PGBENCH_THREADS=2   pgbench -j
#   BENCH_PGBENCH_SELECT=auto pgbench select-only (a prepared primary-key read) before and
#                             after too, the counterpart of the read scenarios: auto (when a
#                             read scenario runs), on, off
#   BENCH_HTTP_PORT=18080 BENCH_GRPC_PORT=19090 BENCH_PG_PORT=54339
#   BENCH_DATA_DIR=.data/bench
#   BENCH_ADMIN_KEY=lk_bench_admin_key_0123456789
#   BENCH_READY_TIMEOUT=180   seconds to wait for /readyz (the first run runs initdb)
#   BENCH_MAX_WAL_SIZE=16GB   the bench cluster's max_wal_size (checkpoint_timeout 1h): no
#                             checkpoint requested by WAL volume inside a measured window
#   BENCH_LOYALTYD_ARGS=      extra loyaltyd flags, split on spaces (e.g. --group-commit=1)
#   BENCH_GO_BENCHTIME=2000x  go test -benchtime of the earn benchmarks (2000x, 3s; off: skip them)
# Exit status: 0; 1 if something failed; 2 if the load generator saw failing calls
# (the summary is printed all the same, marked as not valid).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
GO=${GO:-go}

BENCH_DURATION=${BENCH_DURATION:-20s}
BENCH_WARMUP=${BENCH_WARMUP:-3s}
BENCH_WORKERS=${BENCH_WORKERS:-32}
BENCH_MEMBERS=${BENCH_MEMBERS:-10000}
BENCH_SCENARIOS=${BENCH_SCENARIOS:-rest-earn,grpc-earn,rest-order-earn,rest-campaign-earn,rest-activity,rest-earn-webhook,rest-redeem,rest-balance,grpc-balance,rest-perks,bulk-credit}
BENCH_BULK_MEMBERS=${BENCH_BULK_MEMBERS:-100000}
BENCH_BULK_YIELDS=${BENCH_BULK_YIELDS:-20ms,0s,200ms}
BENCH_BULK_EARN_RATE=${BENCH_BULK_EARN_RATE:-100}
BENCH_BULK_BASELINE=${BENCH_BULK_BASELINE:-10s}
BENCH_BULK_EARN_MEMBERS=${BENCH_BULK_EARN_MEMBERS:-inside}
# bulk-credit is this script's own scenario (bench/bulkload); the rest go to loadgen.
BULK_SCENARIO=""
LG_SCENARIOS=$(echo "$BENCH_SCENARIOS" | tr ',' '\n' | grep -vx 'bulk-credit' | paste -sd, -) || true
[ "$LG_SCENARIOS" = "$BENCH_SCENARIOS" ] || BULK_SCENARIO=yes
BENCH_WEBHOOK_DRAIN=${BENCH_WEBHOOK_DRAIN:-60s}
BENCH_RATE=${BENCH_RATE:-}
BENCH_RATE_SCENARIOS=${BENCH_RATE_SCENARIOS:-}
BENCH_DB_CONNS=${BENCH_DB_CONNS:-}
BENCH_PGBENCH_SCALE=${BENCH_PGBENCH_SCALE:-32}
BENCH_PGBENCH_CLIENTS=${BENCH_PGBENCH_CLIENTS:-$BENCH_WORKERS}
BENCH_PGBENCH_THREADS=${BENCH_PGBENCH_THREADS:-2}
BENCH_PGBENCH_SELECT=${BENCH_PGBENCH_SELECT:-auto}
BENCH_HTTP_PORT=${BENCH_HTTP_PORT:-18080}
BENCH_GRPC_PORT=${BENCH_GRPC_PORT:-19090}
BENCH_PG_PORT=${BENCH_PG_PORT:-54339}
BENCH_DATA_DIR=${BENCH_DATA_DIR:-.data/bench}
BENCH_ADMIN_KEY=${BENCH_ADMIN_KEY:-lk_bench_admin_key_0123456789}
BENCH_READY_TIMEOUT=${BENCH_READY_TIMEOUT:-180}
BENCH_MAX_WAL_SIZE=${BENCH_MAX_WAL_SIZE:-16GB}
BENCH_LOYALTYD_ARGS=${BENCH_LOYALTYD_ARGS:-}
BENCH_GO_BENCHTIME=${BENCH_GO_BENCHTIME:-2000x}

# Settings from the environment must not change what is measured (PGOPTIONS could
# turn synchronous_commit off for pgbench, for one).
unset PGOPTIONS PGSERVICE PGSERVICEFILE PGDATABASE PGHOST PGHOSTADDR PGPORT PGUSER
# Likewise loyaltyd's LOYALTY_* settings (but where the PostgreSQL binaries are): the
# bench runs with defaults plus the flags below and BENCH_LOYALTYD_ARGS.
for v in $(compgen -e | grep '^LOYALTY_' | grep -vx 'LOYALTY_PG_BIN'); do unset "$v"; done

die() { echo "bench: $*" >&2; exit 1; }

# to_seconds turns 20, 20s or 2m into whole seconds (pgbench -T wants seconds).
to_seconds() {
  if [[ $1 =~ ^([0-9]+)s?$ ]]; then echo "${BASH_REMATCH[1]}"
  elif [[ $1 =~ ^([0-9]+)m$ ]]; then echo $((BASH_REMATCH[1] * 60))
  else return 1; fi
}
DURATION_S=$(to_seconds "$BENCH_DURATION") || die "BENCH_DURATION=$BENCH_DURATION: give seconds (20, 20s) or minutes (1m)"
[ "$DURATION_S" -ge 1 ] || die "BENCH_DURATION must be at least 1s"
for v in BENCH_WORKERS BENCH_MEMBERS BENCH_BULK_MEMBERS BENCH_BULK_EARN_RATE BENCH_PGBENCH_SCALE BENCH_PGBENCH_CLIENTS \
  BENCH_PGBENCH_THREADS BENCH_HTTP_PORT BENCH_GRPC_PORT BENCH_PG_PORT BENCH_READY_TIMEOUT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v=${!v}: want a positive integer"
done
[[ -z $BENCH_DB_CONNS || $BENCH_DB_CONNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_DB_CONNS=$BENCH_DB_CONNS: want a positive integer, or nothing for loyaltyd's default"
[[ $BENCH_BULK_YIELDS =~ ^[0-9]+(ms|s)(,[0-9]+(ms|s))*$ ]] || die "BENCH_BULK_YIELDS=$BENCH_BULK_YIELDS: want durations such as 20ms,0s"
[[ $BENCH_BULK_BASELINE =~ ^[1-9][0-9]*s$ ]] || die "BENCH_BULK_BASELINE=$BENCH_BULK_BASELINE: want seconds such as 10s"
[ ${#BENCH_ADMIN_KEY} -ge 16 ] || die "BENCH_ADMIN_KEY must be at least 16 characters"
[ -z "$BENCH_RATE" ] || [[ $BENCH_RATE =~ ^[1-9][0-9]*$ ]] || die "BENCH_RATE=$BENCH_RATE: want calls per second, a positive integer (or empty: closed loop)"
[[ $BENCH_GO_BENCHTIME =~ ^(off|[1-9][0-9]*x|[0-9]+(\.[0-9]+)?(ms|s|m))$ ]] ||
  die "BENCH_GO_BENCHTIME=$BENCH_GO_BENCHTIME: want a count (2000x), a duration (3s) or off"
[ -z "$BENCH_RATE_SCENARIOS" ] || [ -n "$BENCH_RATE" ] || die "BENCH_RATE_SCENARIOS needs BENCH_RATE (the calls per second to run them at)"
# BENCH_RATE alone paces the main run; with BENCH_RATE_SCENARIOS it paces only the
# extra run, so that the main run's ratios stay the saturated, closed-loop ones.
MAIN_RATE=$BENCH_RATE
[ -z "$BENCH_RATE_SCENARIOS" ] || MAIN_RATE=

# The PostgreSQL binaries, found like internal/pgcluster does: $LOYALTY_PG_BIN, the
# newest /usr/lib/postgresql/*/bin, or $PATH.
find_pg_bin() {
  if [ -n "${LOYALTY_PG_BIN:-}" ]; then echo "$LOYALTY_PG_BIN"; return; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4n | tail -n 1)
  if [ -n "$d" ]; then echo "$d"; return; fi
  command -v pgbench >/dev/null && dirname "$(command -v pgbench)"
}
PG_BIN=$(find_pg_bin) || true
[ -n "$PG_BIN" ] && [ -x "$PG_BIN/pgbench" ] && [ -x "$PG_BIN/psql" ] ||
  die "pgbench and psql not found (run \`make postgres\`, or set LOYALTY_PG_BIN)"
command -v curl >/dev/null || die "curl is needed (apt-get install -y curl)"

mkdir -p "$BENCH_DATA_DIR"
DATA_DIR=$(cd "$BENCH_DATA_DIR" && pwd)
PG_DATA="$DATA_DIR/pg/data"
LOG="$DATA_DIR/loyaltyd.log"
RESULTS_DIR="$ROOT/bench/results"
mkdir -p "$RESULTS_DIR"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULT="$RESULTS_DIR/$STAMP.txt"
LG_JSON="$RESULTS_DIR/$STAMP.json"
LG_RATE_JSON="$RESULTS_DIR/$STAMP-rate.json"
BULK_JSONS=""

# The cluster belongs to the postgres user when we are root (see internal/pgcluster).
as_pg_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
psql_pg() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$BENCH_PG_PORT" -U postgres "$@"; }
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
cluster_running() { [ -f "$PG_DATA/postmaster.pid" ] && as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }
stop_cluster() {
  if cluster_running; then
    echo "==> stopping the PostgreSQL cluster in $PG_DATA"
    as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 120 stop >/dev/null
  fi
}

LOYALTYD_PID=""
# stop_loyaltyd sends SIGTERM (loyaltyd drains and stops its cluster) and waits, 120 s
# at most, then kills it. A bad exit status is reported, not fatal: the figures are
# taken by then.
stop_loyaltyd() {
  if [ -z "$LOYALTYD_PID" ] || ! kill -0 "$LOYALTYD_PID" 2>/dev/null; then
    LOYALTYD_PID=""
    return 0
  fi
  echo "==> stopping loyaltyd (pid $LOYALTYD_PID) and its PostgreSQL"
  kill -TERM "$LOYALTYD_PID"
  local i lrc=0
  for ((i = 0; i < 1200; i++)); do kill -0 "$LOYALTYD_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$LOYALTYD_PID" 2>/dev/null; then
    echo "bench: loyaltyd did not stop within 120 s: killing it" >&2
    kill -KILL "$LOYALTYD_PID"
  fi
  wait "$LOYALTYD_PID" || lrc=$?
  LOYALTYD_PID=""
  if [ "$lrc" -ne 0 ]; then
    echo "bench: loyaltyd exited with status $lrc; the end of $LOG:" >&2
    tail -n 20 "$LOG" >&2
  fi
  return 0
}

cleanup() {
  local rc=$?
  set +e
  # Bounded (120 s at most), and not to be cut short: it is what leaves nothing running.
  trap '' INT TERM
  stop_loyaltyd
  # loyaltyd stops the cluster it started; this catches a kill, or a cluster it reused.
  stop_cluster
  exit "$rc"
}

run_pgbench() { # label [builtin]; sets PGB_TPS, PGB_LAT and PGB_P99
  local out builtin=${2:-tpcb-like} mode=() logdir
  # select-only is prepared, as the API's own queries are (pgx caches statements).
  [ "$builtin" = tpcb-like ] || mode=(-b "$builtin" -M prepared)
  # A fifth of the transactions are logged (-l --sampling-rate 0.2, so that the log
  # costs pgbench little) for the p99, which pgbench does not print: the load
  # generator's scenarios report theirs.
  logdir=$(mktemp -d)
  psql_pg -d pgbench -c CHECKPOINT
  echo "==> pgbench ($1): $builtin, -c $BENCH_PGBENCH_CLIENTS -j $BENCH_PGBENCH_THREADS -T $DURATION_S -n${mode[*]:+ ${mode[*]}}"
  if ! out=$("$PG_BIN/pgbench" -h 127.0.0.1 -p "$BENCH_PG_PORT" -U postgres -n "${mode[@]}" -l --sampling-rate 0.2 --log-prefix "$logdir/tx" \
    -c "$BENCH_PGBENCH_CLIENTS" -j "$BENCH_PGBENCH_THREADS" -T "$DURATION_S" pgbench 2>&1); then
    echo "$out" >&2
    rm -rf "$logdir"
    die "pgbench ($1, $builtin) failed"
  fi
  echo "$out" | { grep -E '^(number of (transactions actually processed|failed transactions)|latency average|tps)' || true; } | sed 's/^/    /'
  PGB_TPS=$(echo "$out" | sed -nE 's/^tps = ([0-9.]+) \((without initial connection time|excluding connections establishing)\)$/\1/p' | head -n 1)
  PGB_LAT=$(echo "$out" | sed -nE 's/^latency average = ([0-9.]+) ms$/\1/p' | head -n 1)
  # The log's third field is the transaction's latency in microseconds; p99 by
  # nearest rank, as the load generator computes its own.
  PGB_P99=$(cat "$logdir"/tx.* 2>/dev/null | awk '{print $3}' | sort -n |
    awk '{v[NR] = $1} END {if (NR) {i = int(NR * 0.99); if (i < NR * 0.99) i++; if (i < 1) i = 1; printf "%.3f", v[i] / 1000}}')
  rm -rf "$logdir"
  [ -z "$PGB_P99" ] || echo "    latency p99 = $PGB_P99 ms (from the transaction log)"
  [ -n "$PGB_TPS" ] || { echo "$out" >&2; die "could not read tps from pgbench's output"; }
}

# has_read_scenario tells whether a comma-separated scenario list holds a read (the
# load generator's isWrite, negated: writes end in -earn or -redeem, or are
# rest-earn-webhook or rest-activity).
has_read_scenario() {
  local s
  for s in ${1//,/ }; do
    case $s in
      *-earn | *-redeem | rest-earn-webhook | rest-activity) ;;
      *) return 0 ;;
    esac
  done
  return 1
}

# run_loadgen scenarios rate json; sets LG_RC (0, or 2 if calls failed). An empty rate
# is closed loop.
run_loadgen() {
  LG_RC=0
  psql_pg -d loyalty -c CHECKPOINT
  local checkpoints_before
  checkpoints_before=$(checkpoint_count)
  echo "==> load generator: $1${2:+ (open loop, $2 calls/s)}"
  bin/loadgen -rest "http://127.0.0.1:$BENCH_HTTP_PORT" -grpc "127.0.0.1:$BENCH_GRPC_PORT" -key "$BENCH_ADMIN_KEY" \
    -members "$BENCH_MEMBERS" -workers "$BENCH_WORKERS" -duration "${DURATION_S}s" -warmup "$BENCH_WARMUP" \
    -scenarios "$1" -rate "${2:-0}" -webhook-drain "$BENCH_WEBHOOK_DRAIN" -json "$3" || LG_RC=$?
  case $LG_RC in
    0 | 2) ;;
    130) exit 130 ;;
    *) die "the load generator failed (status $LG_RC)" ;;
  esac
  LG_CHECKPOINTS=$(($(checkpoint_count) - checkpoints_before))
}

# checkpoint_count: checkpoints the cluster started since its statistics were reset,
# timed or requested (a CHECKPOINT statement counts as requested).
checkpoint_count() { psql_pg -d postgres -Atc 'SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter'; }

# GO_BENCH_PKG and GO_BENCH_PATTERN are the in-process earn benchmarks: allocations
# per call through the real server stack (internal/server/bench_test.go).
GO_BENCH_PKG=./internal/server/
GO_BENCH_PATTERN='^Benchmark(REST|GRPC)Earn$'

# run_go_bench runs them once loyaltyd and its cluster are stopped, so that they have
# the machine to themselves; sets GO_BENCH_LINES (their result lines, empty when
# BENCH_GO_BENCHTIME=off). They start a throwaway test cluster of their own (fsync
# off), so ns/op is not durable latency: what they are for is B/op and allocs/op.
run_go_bench() {
  GO_BENCH_LINES=""
  [ "$BENCH_GO_BENCHTIME" != off ] || return 0
  echo "==> go test -run '^\$' -bench '$GO_BENCH_PATTERN' -benchtime $BENCH_GO_BENCHTIME $GO_BENCH_PKG"
  local out
  if ! out=$("$GO" test -count=1 -run '^$' -bench "$GO_BENCH_PATTERN" -benchtime "$BENCH_GO_BENCHTIME" "$GO_BENCH_PKG" 2>&1); then
    echo "$out" >&2
    die "the Go benchmarks failed"
  fi
  GO_BENCH_LINES=$(echo "$out" | grep -E '^Benchmark' || true)
  [ -n "$GO_BENCH_LINES" ] || { echo "$out" >&2; die "the Go benchmarks printed no results"; }
  echo "$GO_BENCH_LINES" | sed 's/^/    /'
}

# go_bench_markdown turns go test's result lines into a markdown table (digits grouped
# as in docs/BENCHMARKS.md; the -2 GOMAXPROCS suffix dropped).
go_bench_markdown() {
  echo "| in process, fsync off | ns/op | B/op | allocs/op |"
  echo "|---|---:|---:|---:|"
  awk 'function group(n,   s) { s = ""; while (length(n) > 3) { s = "," substr(n, length(n) - 2) s; n = substr(n, 1, length(n) - 3) } return n s }
    { name = $1; sub(/-[0-9]+$/, "", name); v["ns/op"] = v["B/op"] = v["allocs/op"] = "–"
      for (i = 3; i < NF; i++) if ($(i + 1) in v) v[$(i + 1)] = group(sprintf("%.0f", $i))
      printf "| %s | %s | %s | %s |\n", name, v["ns/op"], v["B/op"], v["allocs/op"] }'
}

# pool_default: loyaltyd's own default for --max-db-conns on this machine, as its
# -h prints it.
pool_default() {
  bin/loyaltyd -h 2>&1 | awk '/-max-db-conns/ { found = 1 } found && /\(default [0-9]+\)/ { sub(/.*\(default /, ""); sub(/\).*/, ""); print; exit }'
}

machine() {
  local cpu mem
  cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
  mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
  echo "$(nproc) CPUs (nproc), ${cpu:-unknown CPU}, ${mem:-? GiB} RAM, $(uname -sr) $(uname -m)"
}

# start_loyaltyd [extra flags]: starts bin/loyaltyd on the bench cluster (which it
# starts itself) and waits until it is ready.
start_loyaltyd() {
  echo "==> starting loyaltyd${1:+ $*}: REST 127.0.0.1:$BENCH_HTTP_PORT, gRPC 127.0.0.1:$BENCH_GRPC_PORT, PostgreSQL 127.0.0.1:$BENCH_PG_PORT under $DATA_DIR (log: $LOG)"
  # --database-url= : always the local cluster, whatever LOYALTY_DATABASE_URL says.
  # --webhook-allow: rest-earn-webhook's receiver is in the load generator, on loopback.
  # The extra flags come last: they win over BENCH_LOYALTYD_ARGS.
  bin/loyaltyd --database-url= --demo=false --data-dir "$DATA_DIR" --local-pg-port "$BENCH_PG_PORT" \
    --http-addr "127.0.0.1:$BENCH_HTTP_PORT" --grpc-addr "127.0.0.1:$BENCH_GRPC_PORT" --webhook-allow 127.0.0.0/8 \
    --admin-key "$BENCH_ADMIN_KEY" ${BENCH_DB_CONNS:+--max-db-conns "$BENCH_DB_CONNS"} --log-level warn \
    $BENCH_LOYALTYD_ARGS "$@" >>"$LOG" 2>&1 &
  LOYALTYD_PID=$!
  local started=$SECONDS deadline=$((SECONDS + BENCH_READY_TIMEOUT))
  until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$BENCH_HTTP_PORT/readyz" 2>/dev/null; do
    if ! kill -0 "$LOYALTYD_PID" 2>/dev/null; then
      wait "$LOYALTYD_PID" || true
      LOYALTYD_PID=""
      echo "bench: loyaltyd exited before it was ready; the end of $LOG:" >&2
      tail -n 30 "$LOG" >&2
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      echo "bench: loyaltyd not ready after ${BENCH_READY_TIMEOUT}s; the end of $LOG:" >&2
      tail -n 30 "$LOG" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "    ready after $((SECONDS - started))s"
}

# run_bulk: the bulk-credit scenario, once per BENCH_BULK_YIELDS setting, each on a
# loyaltyd restarted with that --bulk-yield; sets BULK_JSONS (the results, comma-
# separated, the first the reference) and LG_RC (2 if earns failed).
run_bulk() {
  LG_RC=0
  local y i=0 rc
  for y in ${BENCH_BULK_YIELDS//,/ }; do
    stop_loyaltyd
    start_loyaltyd "--bulk-yield=$y"
    psql_pg -d loyalty -c CHECKPOINT
    local out="$RESULTS_DIR/$STAMP-bulk-$i.json"
    echo "==> bulk-credit: $BENCH_BULK_MEMBERS members, --bulk-yield=$y, REST earn at $BENCH_BULK_EARN_RATE/s beside it"
    rc=0
    bin/bulkload -rest "http://127.0.0.1:$BENCH_HTTP_PORT" -key "$BENCH_ADMIN_KEY" -members "$BENCH_BULK_MEMBERS" \
      -rate "$BENCH_BULK_EARN_RATE" -baseline "$BENCH_BULK_BASELINE" -earn-members "$BENCH_BULK_EARN_MEMBERS" -label "--bulk-yield=$y" -json "$out" | sed 's/^/    /' || rc=${PIPESTATUS[0]}
    case $rc in
      0) ;;
      2) LG_RC=2 ;;
      *) die "the bulk-credit scenario failed (status $rc)" ;;
    esac
    BULK_JSONS="$BULK_JSONS${BULK_JSONS:+,}$out"
    i=$((i + 1))
  done
}

main() {
  set -euo pipefail
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  echo "==> loyaltyd benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "    machine: $(machine)"
  echo "    load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"

  echo "==> building bin/loyaltyd, bin/loyaltyctl, bin/loadgen"
  "$GO" build -o bin/ ./cmd/... ./bench/loadgen ./bench/bulkload

  # A cluster left running by an interrupted run would be reused on its old port.
  stop_cluster
  local p
  for p in "$BENCH_HTTP_PORT" "$BENCH_GRPC_PORT" "$BENCH_PG_PORT"; do
    ! port_in_use "$p" || die "port $p on 127.0.0.1 is in use (another loyaltyd or bench?); set BENCH_*_PORT"
  done

  : >"$LOG"
  start_loyaltyd

  # Checkpoints requested by WAL volume land in whichever scenario happens to be running
  # (with the default 1 GB, the later write scenarios of a long run took them) and move
  # the ratios between scenarios more than the code does. The bench cluster keeps them
  # out of the measured windows: room for a whole run's WAL, and a CHECKPOINT before
  # each pgbench and load-generator run. The summary counts those that fell anyway.
  psql_pg -d postgres -c "ALTER SYSTEM SET max_wal_size = '$BENCH_MAX_WAL_SIZE'" \
    -c "ALTER SYSTEM SET checkpoint_timeout = '1h'" -c 'SELECT pg_reload_conf()' >/dev/null

  local pg_version pg_settings
  pg_version=$(psql_pg -d postgres -Atc 'SHOW server_version')
  pg_settings=$(psql_pg -d postgres -Atc "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name)
    FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method',
      'shared_buffers', 'max_connections', 'max_wal_size', 'checkpoint_timeout')")
  echo "    PostgreSQL $pg_version: $pg_settings"
  [ "$(psql_pg -d postgres -Atc "SELECT current_setting('fsync') = 'on' AND current_setting('synchronous_commit') = 'on'")" = t ] ||
    die "the cluster does not commit durably (fsync and synchronous_commit must be on): figures would not be comparable"

  local tps_before="" lat_before="" p99_before="" tps_after="" lat_after="" p99_after="" lg_rc=0 checkpoints_in_run=0
  local with_select= sel_before= sel_lat_before= sel_p99_before= sel_after= sel_lat_after= sel_p99_after=
  local select_flags=() select_lat_flags=()
  if [ -n "$LG_SCENARIOS" ]; then
  # pgbench's tables, in a database of their own on the same server; initialized once.
  if [ -z "$(psql_pg -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'pgbench'")" ]; then
    psql_pg -d postgres -c 'CREATE DATABASE pgbench'
  fi
  local scale=0
  if [ "$(psql_pg -d pgbench -Atc "SELECT to_regclass('pgbench_accounts_pkey') IS NOT NULL AND to_regclass('pgbench_branches') IS NOT NULL")" = t ]; then
    scale=$(psql_pg -d pgbench -Atc 'SELECT count(*) FROM pgbench_branches')
  fi
  if [ "$scale" != "$BENCH_PGBENCH_SCALE" ]; then
    echo "==> initializing pgbench at scale $BENCH_PGBENCH_SCALE (once; later runs reuse it)"
    "$PG_BIN/pgbench" -h 127.0.0.1 -p "$BENCH_PG_PORT" -U postgres -i -s "$BENCH_PGBENCH_SCALE" -q pgbench 2>&1 |
      { grep -vE '^([0-9]+ of [0-9]+ tuples|NOTICE: )' || true; } | sed 's/^/    /'
  else
    echo "==> pgbench tables at scale $scale already there"
  fi

  # pgbench before and after the load generator: the difference shows the drift of
  # a noisy machine; the ratios use their mean.
  case $BENCH_PGBENCH_SELECT in
    on) with_select=1 ;;
    off) ;;
    auto) ! has_read_scenario "$LG_SCENARIOS" || with_select=1 ;;
    *) die "BENCH_PGBENCH_SELECT must be auto, on or off (is $BENCH_PGBENCH_SELECT)" ;;
  esac
  run_pgbench before
  tps_before=$PGB_TPS lat_before=$PGB_LAT p99_before=$PGB_P99
  if [ -n "$with_select" ]; then
    run_pgbench before select-only
    sel_before=$PGB_TPS sel_lat_before=$PGB_LAT sel_p99_before=$PGB_P99
  fi

  run_loadgen "$LG_SCENARIOS" "$MAIN_RATE" "$LG_JSON"
  lg_rc=$LG_RC checkpoints_in_run=$LG_CHECKPOINTS

  if [ -n "$with_select" ]; then
    run_pgbench after select-only
    sel_after=$PGB_TPS sel_lat_after=$PGB_LAT sel_p99_after=$PGB_P99
  fi
  run_pgbench after
  tps_after=$PGB_TPS lat_after=$PGB_LAT p99_after=$PGB_P99
  if [ -n "$with_select" ]; then
    select_flags=(-pgbench-select-tps "$sel_before,$sel_after")
    [ -z "$sel_lat_before" ] || [ -z "$sel_lat_after" ] || select_lat_flags=(-pgbench-select-latency "$sel_lat_before,$sel_lat_after")
    [ -z "$sel_p99_before" ] || [ -z "$sel_p99_after" ] || select_lat_flags+=(-pgbench-select-p99 "$sel_p99_before,$sel_p99_after")
  fi

  # The open-loop run comes after pgbench's: the before/after pair keeps bracketing
  # only the run the ratios come from. The members are enrolled already (enrolling
  # again finds them).
  if [ -n "$BENCH_RATE_SCENARIOS" ]; then
    run_loadgen "$BENCH_RATE_SCENARIOS" "$BENCH_RATE" "$LG_RATE_JSON"
    [ "$lg_rc" -ne 0 ] || lg_rc=$LG_RC
  fi
  fi

  # The bulk credit last: it restarts loyaltyd with each --bulk-yield setting.
  if [ -n "$BULK_SCENARIO" ]; then
    run_bulk
    [ "$lg_rc" -ne 0 ] || lg_rc=$LG_RC
  fi

  stop_loyaltyd
  stop_cluster
  run_go_bench

  echo
  echo "==================================== summary ===================================="
  echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "commit:   $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(test -z "$(git status --porcelain 2>/dev/null)" || echo ' (with uncommitted changes)')"
  echo "machine:  $(machine)"
  echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min, at the end)"
  echo "postgres: $pg_version on 127.0.0.1:$BENCH_PG_PORT, $pg_settings"
  [ -z "$LG_SCENARIOS" ] || echo "checkpoints during the load generator's run: $checkpoints_in_run (besides the CHECKPOINT before it)"
  echo "loyaltyd: --max-db-conns ${BENCH_DB_CONNS:-default ($(pool_default))} --webhook-allow 127.0.0.0/8${BENCH_LOYALTYD_ARGS:+ $BENCH_LOYALTYD_ARGS}; loadgen and pgbench on the same machine"
  if [ -n "$LG_SCENARIOS" ]; then
  echo "pgbench:  tpcb-like, scale $BENCH_PGBENCH_SCALE, -c $BENCH_PGBENCH_CLIENTS -j $BENCH_PGBENCH_THREADS -T $DURATION_S -n;" \
    "latency average ${lat_before} ms before, ${lat_after} ms after"
  [ -z "$with_select" ] || echo "          select-only, -M prepared, same clients and time; latency average ${sel_lat_before} ms before, ${sel_lat_after} ms after"
  bin/loadgen -report "$LG_JSON" -pgbench-tps "$tps_before,$tps_after" "${select_flags[@]}"
  fi
  if [ -n "$BENCH_RATE_SCENARIOS" ]; then
    # No pgbench ratios here: at a fixed rate, ops/s is the rate asked for, not what
    # the server can do.
    echo
    bin/loadgen -report "$LG_RATE_JSON"
  fi
  if [ -n "$BULK_JSONS" ]; then
    echo
    echo "bulk-credit (wall time on this machine: compare the ratios within this run, with the load):"
    bin/bulkload -report "$BULK_JSONS"
  fi
  if [ -n "$GO_BENCH_LINES" ]; then
    echo
    echo "Allocations per earn, in process (go test -bench, -benchtime $BENCH_GO_BENCHTIME, test cluster with fsync off;"
    echo "serial: one call at a time; parallel: 16 callers per CPU):"
    echo "$GO_BENCH_LINES"
  fi
  echo
  echo "For docs/BENCHMARKS.md:"
  echo
  local lat_flag=()
  [ -z "$lat_before" ] || [ -z "$lat_after" ] || lat_flag=(-pgbench-latency "$lat_before,$lat_after")
  [ -z "$p99_before" ] || [ -z "$p99_after" ] || lat_flag+=(-pgbench-p99 "$p99_before,$p99_after")
  [ -z "$LG_SCENARIOS" ] || bin/loadgen -report "$LG_JSON" -pgbench-tps "$tps_before,$tps_after" "${lat_flag[@]}" "${select_flags[@]}" "${select_lat_flags[@]}" -markdown
  if [ -n "$GO_BENCH_LINES" ]; then
    echo
    echo "$GO_BENCH_LINES" | go_bench_markdown
  fi
  if [ -n "$BENCH_RATE_SCENARIOS" ]; then
    echo
    bin/loadgen -report "$LG_RATE_JSON" -markdown
  fi
  if [ -n "$BULK_JSONS" ]; then
    echo
    bin/bulkload -report "$BULK_JSONS" -markdown
  fi
  echo "================================================================================="
  echo "results: $RESULT (and $LG_JSON${BENCH_RATE_SCENARIOS:+, $LG_RATE_JSON}${BULK_JSONS:+, $BULK_JSONS})"
  if [ "$lg_rc" -ne 0 ]; then
    echo "bench: THE LOAD GENERATOR SAW FAILING CALLS: see the errors above; the figures are not valid." >&2
    exit 2
  fi
}

# The whole transcript goes to the results file too. tee ignores Ctrl-C, so that it
# still records (and the terminal still shows) the cleanup after an interrupt.
set +e
main 2>&1 | (trap '' INT TERM && exec tee "$RESULT")
rc=${PIPESTATUS[0]}
exit "$rc"
