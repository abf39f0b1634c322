#!/usr/bin/env bash
# Installs the PostgreSQL server binaries from Debian packages when they are missing.
# The package's default cluster is not created: the project runs its own clusters.
set -euo pipefail
if [ -n "${LOYALTY_PG_BIN:-}" ] && [ -x "$LOYALTY_PG_BIN/initdb" ]; then exit 0; fi
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null; then exit 0; fi
echo "PostgreSQL server binaries not found: installing the Debian package 'postgresql'..."
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "Run as root, or install PostgreSQL yourself (apt-get install -y postgresql)." >&2; exit 1
  fi
fi
if [ ! -f /etc/postgresql-common/createcluster.conf ]; then
  $sudo mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || { echo "installing PostgreSQL failed" >&2; exit 1; }
echo "PostgreSQL installed: $(ls -d /usr/lib/postgresql/*/bin)"
