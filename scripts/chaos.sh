#!/usr/bin/env bash
# Crash test, longer (`make chaos`; see docs/OPERATIONS.md): builds loyaltyd, runs it
# on a durable PostgreSQL cluster under a mixed load of 16 retrying REST clients, and
# for CHAOS_DURATION keeps injecting faults in turn: loyaltyd SIGKILL + restart,
# PostgreSQL crash (immediate stop) + start, loyaltyd SIGTERM + restart. Then every
# acknowledged write is replayed and must answer the same entry, and the books must
# verify. Beside it, a bulk credit of CHAOS_BULK_MEMBERS members (and a
# campaign-funded one whose budget runs out half-way) through SIGKILLs of loyaltyd:
# exactly one credit per member, the budget spent exactly, the books verify. Prints
# the figures; exits non-zero if anything was lost.
#
# Environment knobs (defaults):
#   CHAOS_DURATION=60s        how long faults go on (the load runs a little longer)
#   CHAOS_BULK_MEMBERS=100000 members of the bulk credit crash test (go test: 5,000)
set -euo pipefail
cd "$(dirname "$0")/.."
export CHAOS_DURATION="${CHAOS_DURATION:-60s}"
export CHAOS_BULK_MEMBERS="${CHAOS_BULK_MEMBERS:-100000}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "chaos: faults for $CHAOS_DURATION under load (build, initdb and replay come on top); a bulk credit of $CHAOS_BULK_MEMBERS members through SIGKILLs"
status=0
go test -count=1 -v -timeout 60m -run '^(TestCrashesLoseNoAcknowledgedWrite|TestBulkCreditSurvivesSIGKILL)$' ./internal/chaostest/ >"$out" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
	cat "$out"
	echo "chaos: FAILED (exit $status)"
	exit "$status"
fi
# The figures: the test's summary block, without go test's indentation.
sed -n '/chaos summary/,/lost:/p' "$out" | sed -E 's/^.*(chaos summary)/\1/; s/^ +/  /'
grep -o 'bulk credit crash summary: .*' "$out" || true
echo "chaos: ok"
