#!/usr/bin/env bash
# Runs every native Go fuzz target for FUZZTIME each (default 60s), one after
# another, and fails if any found a failing input (go test saves it under the
# package's testdata/fuzz/<Target>/, where plain `go test` replays it from then
# on). A target whose seed corpus already fails stops at once.
#
#   FUZZTIME=20s scripts/fuzz.sh              every target
#   scripts/fuzz.sh FuzzREST FuzzPageToken    only these
#
# FUZZPARALLEL sets go test's -parallel (fuzzing processes per target; default
# the number of CPUs). The targets that need PostgreSQL share one throwaway
# cluster, started here and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-60s}
# Minimizing a new input can otherwise take the whole FUZZTIME (default 60s).
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-5s}
GO=${GO:-go}
targets=(
  "./internal/pagetoken FuzzPageToken"
  "./campaigns FuzzCouponCode"
  "./campaigns FuzzRuleCompile"
  "./campaigns FuzzRuleEval"
  "./ledger FuzzProgramValidation"
  "./tiers FuzzTierPolicyValidation"
  "./internal/server FuzzREST"
)
if [ $# -gt 0 ]; then
  chosen=()
  for want in "$@"; do
    found=
    for t in "${targets[@]}"; do
      if [ "${t#* }" = "$want" ]; then chosen+=("$t"); found=1; fi
    done
    [ -n "$found" ] || { echo "fuzz: no target $want" >&2; exit 2; }
  done
  targets=("${chosen[@]}")
fi

parallel=()
[ -n "${FUZZPARALLEL:-}" ] && parallel=(-parallel "$FUZZPARALLEL")

if [ -z "${LOYALTY_TEST_DATABASE_URL:-}" ]; then
  scripts/ensure-postgres.sh
  $GO build -o "${TMPDIR:-/tmp}/loyalty-testpg.$$" ./scripts/testpg
  coproc TESTPG { exec "${TMPDIR:-/tmp}/loyalty-testpg.$$"; }
  testpg_pid=$TESTPG_PID
  # Closing its stdin stops the cluster; wait until it has.
  testpg_in=${TESTPG[1]}
  trap 'eval "exec $testpg_in>&-"; wait "$testpg_pid" || true; rm -f "${TMPDIR:-/tmp}/loyalty-testpg.$$"' EXIT
  read -r url <&"${TESTPG[0]}" || { echo "fuzz: the test cluster did not start" >&2; exit 1; }
  export LOYALTY_TEST_DATABASE_URL=$url
fi

# corpus lists a target's saved inputs, to see whether a run wrote a new one.
corpus() { ls "$1/testdata/fuzz/$2" 2>/dev/null || true; }

failed=() flaked=()
out=$(mktemp)
for t in "${targets[@]}"; do
  pkg=${t% *} name=${t#* }
  echo "=== $name ($pkg, $FUZZTIME)"
  before=$(corpus "$pkg" "$name")
  if $GO test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime="$FUZZMINIMIZETIME" "${parallel[@]}" "$pkg" 2>&1 | tee "$out"; then
    continue
  fi
  # Go's fuzz coordinator can fail a run with a bare "context deadline exceeded"
  # as FUZZTIME ends (golang/go#75804, fixed in Go 1.27): no input failed and
  # none was written, so it is not a finding.
  if [ "$(corpus "$pkg" "$name")" = "$before" ] && grep -q '^    context deadline exceeded$' "$out" && ! grep -q '_test.go:[0-9]*:' "$out"; then
    flaked+=("$name")
    continue
  fi
  failed+=("$name ($pkg/testdata/fuzz/$name/)")
done
rm -f "$out"
if [ ${#flaked[@]} -gt 0 ]; then
  echo "fuzz: ended by the Go coordinator race (golang/go#75804), no finding: ${flaked[*]}" >&2
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failing inputs found by:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzz: every target ran $FUZZTIME without a finding"
