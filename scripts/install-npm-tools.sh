#!/usr/bin/env bash
# Installs the repo's pinned npm tools (tools/npm/package.json + package-lock.json: the
# Dockerfile linters, configurable-http-proxy for make bench) with one `npm ci` into
# $CODEHUB_CACHE/npm-tools-<lock hash>, once, under a lock. One install of every pin: a
# second `npm install` into the same prefix would remove the first package (issue #10).
# Prints the tools' bin dir on stdout; progress goes to stderr. Installed means every file
# of the install's manifest is there and every tool's binary exists; otherwise it is
# reinstalled, and a tool still missing afterwards is named in the error.
#   --check  only report whether the cached copy is complete (exit 1 and name what is not).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/cache.sh"
src=$(dirname "$here")/tools/npm
hash=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-12)
dir=$cache/npm-tools-$hash
tools=(dockerfile-utils dockerfilelint configurable-http-proxy)

missing() {
  local t
  for t in "${tools[@]}"; do [ -x "$dir/node_modules/.bin/$t" ] || echo "$t"; done
  [ ! -d "$dir" ] || manifest_missing "$dir"
}

if [ "${1:-}" = --check ]; then
  gone=$(missing); [ -z "$gone" ] && exit 0
  echo "install-npm-tools: missing in $dir: $(echo $gone)" >&2; exit 1
fi
cache_lock npm-tools
if [ -n "$(missing)" ]; then
  echo "install-npm-tools: npm ci of tools/npm into $dir" >&2
  tmp=$(mktemp -d "$cache/.npm-tools.XXXXXX")
  cp "$src/package.json" "$src/package-lock.json" "$tmp/"
  if ! (cd "$tmp" && npm ci --no-audit --no-fund >&2); then
    rm -rf "$tmp"
    echo "install-npm-tools: npm ci failed (see above)" >&2
    exit 1
  fi
  manifest_write "$tmp"
  rm -rf "$dir"
  mv "$tmp" "$dir"
fi
gone=$(missing)
if [ -n "$gone" ]; then
  echo "install-npm-tools: missing after install: $(echo $gone) (expected in $dir/node_modules/.bin)" >&2
  exit 1
fi
echo "$dir/node_modules/.bin"
