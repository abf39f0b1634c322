#!/usr/bin/env bash
# The floor under a bulk credit (bench/sql/bulk_floor.sql): PostgreSQL alone writing
# each member's entry, lot, balance and event, on a throwaway cluster of its own
# holding the engine's schema. Prints members/s; compare with the engine's chunks in
# the same session (docs/BENCHMARKS.md, "The floor under a bulk credit").
#
#   BULKFLOOR_MEMBERS=100000 BULKFLOOR_CHUNK=5000 BULKFLOOR_FSYNC=on BULKFLOOR_PARALLEL=1 bench/bulkfloor.sh
#
# BULKFLOOR_PARALLEL=n runs n backends at once, each on its own share of the members
# (as n chunks of one bulk credit in parallel would).
#
# BULKFLOOR_DROP=name,name drops those indexes or constraints first: what each of
# them costs a member (an experiment: the engine's reads need them).
set -euo pipefail
cd "$(dirname "$0")/.."
MEMBERS=${BULKFLOOR_MEMBERS:-100000}
CHUNK=${BULKFLOOR_CHUNK:-5000}
PARALLEL=${BULKFLOOR_PARALLEL:-1}
FSYNC=${BULKFLOOR_FSYNC:-on}
PORT=${BULKFLOOR_PORT:-54431}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DIR=$(mktemp -d /tmp/bulkfloor.XXXXXX)
run() { if [ "$(id -u)" = 0 ]; then su postgres -c "$*"; else bash -c "$*"; fi; }
stop() { run "'$PGBIN/pg_ctl' -D '$DIR' -m immediate -w stop" >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap stop EXIT
[ "$(id -u)" = 0 ] && chown postgres "$DIR"
run "'$PGBIN/initdb' -D '$DIR' -U postgres -A trust >/dev/null"
run "'$PGBIN/pg_ctl' -D '$DIR' -l '$DIR/log' -o '-p $PORT -k /tmp -c fsync=$FSYNC -c synchronous_commit=$FSYNC -c shared_buffers=512MB -c max_wal_size=16GB -c checkpoint_timeout=1h' -w start >/dev/null"
PSQL=(psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres)
"${PSQL[@]}" -f sql/schema.sql >/dev/null
IFS=, read -ra drop <<<"${BULKFLOOR_DROP:-}"
for d in "${drop[@]}"; do
  # A constraint (a unique key, a CHECK) is dropped from its table; anything else is an index.
  table=$("${PSQL[@]}" -At -c "SELECT conrelid::regclass FROM pg_constraint WHERE conname = '$d'")
  if [ -n "$table" ]; then "${PSQL[@]}" -c "ALTER TABLE $table DROP CONSTRAINT $d"
  else "${PSQL[@]}" -c "DROP INDEX $d"; fi
done
"${PSQL[@]}" -v seed=1 -v members="$MEMBERS" -f bench/sql/bulk_floor.sql
echo "floor: $MEMBERS members, chunks of $CHUNK, $PARALLEL at once, fsync=$FSYNC${BULKFLOOR_DROP:+, without $BULKFLOOR_DROP}, load $(cut -d' ' -f1-3 /proc/loadavg)"
share=$(( (MEMBERS + PARALLEL - 1) / PARALLEL ))
began=$(date +%s.%N)
for ((w = 0; w < PARALLEL; w++)); do
  from=$((w * share)); to=$(( (w + 1) * share < MEMBERS ? (w + 1) * share : MEMBERS ))
  "${PSQL[@]}" -v seed=0 -v from="$from" -v to="$to" -v chunk="$CHUNK" -f bench/sql/bulk_floor.sql >"$DIR/worker-$w.out" 2>&1 &
done
wait
ended=$(date +%s.%N)
for ((w = 0; w < PARALLEL; w++)); do grep -v '^$' "$DIR/worker-$w.out" | sed 's/^psql:[^ ]* NOTICE:  //'; done
awk -v n="$MEMBERS" -v a="$began" -v b="$ended" 'BEGIN { printf "floor: %d members in %.2f s: %.0f members/s\n", n, b - a, n / (b - a) }'
