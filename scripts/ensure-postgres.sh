#!/usr/bin/env bash
# Installs what `make run` and `make test` need from Debian packages when it is missing:
# the PostgreSQL server binaries (the package's default cluster is not created: the
# project runs its own clusters), and curl and jq, which the README's examples (and the
# test that runs them) use.
set -euo pipefail
sudo=""
need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else
      echo "Run as root, or install them yourself: apt-get install -y $*" >&2; exit 1
    fi
  fi
}
missing=()
for tool in curl jq; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (Debian packages)..."
  need_root "${missing[@]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ -n "${LOYALTY_PG_BIN:-}" ] && [ -x "$LOYALTY_PG_BIN/initdb" ]; then exit 0; fi
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null; then exit 0; fi
echo "PostgreSQL server binaries not found: installing the Debian package 'postgresql'..."
need_root postgresql
if [ ! -f /etc/postgresql-common/createcluster.conf ]; then
  $sudo mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || { echo "installing PostgreSQL failed" >&2; exit 1; }
echo "PostgreSQL installed: $(ls -d /usr/lib/postgresql/*/bin)"
