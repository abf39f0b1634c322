#!/usr/bin/env bash
# Fails if any committed generated file is stale. Each generator is asked in its own way,
# so nothing here lists packages: a package added to sql/sqlc.yaml is checked as is.
#   - sqlc: `sqlc diff` compares what it would generate for every package in
#     sql/sqlc.yaml with the files on disk, without writing anything.
#   - buf (protobuf, gRPC, gateway, OpenAPI under api/): buf has no diff mode, so api/ is
#     regenerated in place and compared before and after. That works in a clean clone
#     (CI) and in a working tree with uncommitted but consistent changes alike.
#   - sql/schema.sql: dumped again from a throwaway cluster (a few seconds) into a
#     temporary file and compared.
# GO, BUF and SQLC are the commands (the Makefile passes them).
set -euo pipefail
: "${BUF:?BUF must name the buf command}" "${SQLC:?SQLC must name the sqlc command}"
GO=${GO:-go}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check_sqlc() {
  if ! $SQLC diff -f sql/sqlc.yaml; then
    echo "sqlc output is stale: 'make generate' would change the files above." >&2
    return 1
  fi
}

check_api() {
  snapshot_api >"$tmp/api.before"
  $BUF generate
  snapshot_api >"$tmp/api.after"
  if ! diff -u "$tmp/api.before" "$tmp/api.after"; then
    echo "buf output under api/ was stale: regenerating changed the files above. Review and commit them." >&2
    return 1
  fi
}

check_schema() {
  $GO run ./internal/schemadump -o "$tmp/schema.sql"
  if ! diff -u sql/schema.sql "$tmp/schema.sql"; then
    echo "sql/schema.sql is stale: the migrations changed the schema. Run 'make schema' and commit it." >&2
    return 1
  fi
}

snapshot_api() { find api -type f \( -name '*.go' -o -name '*.json' \) -print0 | sort -z | xargs -0 sha256sum; }

failed=0
check_sqlc || failed=1
check_api || failed=1
check_schema || failed=1
if [ "$failed" -ne 0 ]; then
  exit 1
fi
echo "generated code is up to date"
