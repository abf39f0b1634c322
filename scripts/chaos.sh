#!/usr/bin/env bash
# Crash test, longer (`make chaos`; see docs/OPERATIONS.md): builds loyaltyd, runs it
# on a durable PostgreSQL cluster under a mixed load of 16 retrying REST clients, and
# for CHAOS_DURATION keeps injecting faults in turn: loyaltyd SIGKILL + restart,
# PostgreSQL crash (immediate stop) + start, loyaltyd SIGTERM + restart. Then every
# acknowledged write is replayed and must answer the same entry, and the books must
# verify. Prints the figures; exits non-zero if anything was lost.
#
# Environment knobs (defaults):
#   CHAOS_DURATION=60s   how long faults go on (the load runs a little longer)
set -euo pipefail
cd "$(dirname "$0")/.."
export CHAOS_DURATION="${CHAOS_DURATION:-60s}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "chaos: faults for $CHAOS_DURATION under load (build, initdb and replay come on top)"
status=0
go test -count=1 -v -timeout 60m -run '^TestCrashesLoseNoAcknowledgedWrite$' ./internal/chaostest/ >"$out" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
	cat "$out"
	echo "chaos: FAILED (exit $status)"
	exit "$status"
fi
# The figures: the test's summary block, without go test's indentation.
sed -n '/chaos summary/,/lost:/p' "$out" | sed -E 's/^.*(chaos summary)/\1/; s/^ +/  /'
echo "chaos: ok"
