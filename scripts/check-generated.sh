#!/usr/bin/env bash
# Regenerates the generated code and fails if that changed anything. It compares the
# generated directories before and after, so it works in a clean clone (CI) and in a
# working tree with uncommitted but consistent changes alike.
set -euo pipefail
dirs=("$@")
snapshot() { find "${dirs[@]}" -type f \( -name '*.go' -o -name '*.json' \) -print0 | sort -z | xargs -0 sha256sum; }
before=$(mktemp); after=$(mktemp)
trap 'rm -f "$before" "$after"' EXIT
snapshot >"$before"
make --no-print-directory generate >/dev/null
snapshot >"$after"
if ! diff -u "$before" "$after"; then
  echo >&2
  echo "Generated code was stale: 'make generate' changed the files above. Review and commit them." >&2
  exit 1
fi
echo "generated code is up to date"
