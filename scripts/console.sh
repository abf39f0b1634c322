#!/usr/bin/env bash
# The web console's build, check and browser tests (make console, console-check,
# console-e2e). Node, npm and Chromium come from Debian packages, installed when
# missing; the npm packages are exactly those of console/package-lock.json.
#   scripts/console.sh tools   install node, npm and chromium when missing
#   scripts/console.sh build   npm ci (when the lock changed), the API client, the assets
#   scripts/console.sh check   build twice: fail if the two differ or differ from git
set -euo pipefail
cd "$(dirname "$0")/../console"

tools() {
  local missing=()
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  if [ "${1:-}" = browser ]; then
    command -v chromium >/dev/null || missing+=(chromium)
    # A Chinese font, so that the screenshots of the zh-CN pages are legible (1.6 MB).
    [ -n "$(fc-list :lang=zh 2>/dev/null)" ] || missing+=(fonts-wqy-microhei)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing ${missing[*]} (Debian packages)..."
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "Run as root, or: apt-get install -y ${missing[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# deps runs npm ci unless node_modules was installed from this very lock file.
deps() {
  local sum
  sum=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ -f node_modules/.lock-sha256 ] && [ "$(cat node_modules/.lock-sha256)" = "$sum" ]; then return 0; fi
  npm ci --no-audit --no-fund --loglevel=error
  echo "$sum" > node_modules/.lock-sha256
}

build() {
  tools
  deps
  npm run --silent gen:api >/dev/null
  npm run --silent build >/dev/null
}

check() {
  build
  local first
  first=$(mktemp -d)
  trap 'rm -rf "$first"' RETURN
  cp -r dist "$first/"
  npm run --silent build >/dev/null
  if ! diff -r "$first/dist" dist >/dev/null; then
    echo "console: two builds of the same sources differ (the build is not reproducible):" >&2
    diff -r "$first/dist" dist >&2 || true
    exit 1
  fi
  npm run --silent test:unit
  cd ..
  if [ -n "$(git status --porcelain -- console/dist console/src/api)" ]; then
    echo "console: the built assets or the API client are stale; run 'make console' and commit:" >&2
    git status --short -- console/dist console/src/api >&2
    exit 1
  fi
}

case "${1:-}" in
  tools) tools "${2:-}" ;;
  build) build ;;
  check) check ;;
  *) echo "usage: $0 tools [browser] | build | check" >&2; exit 2 ;;
esac
