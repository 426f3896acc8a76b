#!/usr/bin/env bash
# Installs the pinned code-server (versions.env) from the npm registry into
# $CODEHUB_CACHE/code-server-<version>, idempotently and under a lock: a self-contained,
# relocatable tree with the Node it was built for (node/) and a launcher (code-server).
# Prints the launcher's path on stdout; progress goes to stderr.
# The cache entry counts as installed only when every file its manifest lists is there,
# so an interrupted or damaged install is rebuilt. About 10 minutes on 2 cores.
#   --check  only report whether the cached copy is complete (exit 1 and name what is not).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
. "$here/lib/cache.sh"
cs_dir=$cache/code-server-$CODE_SERVER_VERSION

log() { echo "install-code-server: $*" >&2; }
incomplete() {
  manifest_missing "$cs_dir"
  [ -z "$(manifest_missing "$cs_dir")" ] && binaries_missing "$cs_dir" code-server=--version
  return 0
}
if [ "${1:-}" = --check ]; then
  gone=$(incomplete); [ -z "$gone" ] && exit 0
  log "$cs_dir is incomplete: $gone"; exit 1
fi

node_dir=$("$here/install-node.sh")
cache_lock code-server
gone=$(incomplete)
if [ -n "$gone" ]; then
  [ -e "$cs_dir" ] && log "repairing $cs_dir ($(echo "$gone" | head -1))"
  if ! dpkg -s libkrb5-dev >/dev/null 2>&1; then
    log "installing libkrb5-dev (needed to build the kerberos addon)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 install -y libkrb5-dev >&2 ||
      { apt-get -o DPkg::Lock::Timeout=600 update >&2 && apt-get -o DPkg::Lock::Timeout=600 install -y libkrb5-dev >&2; }
  fi
  log "installing code-server $CODE_SERVER_VERSION (compiles native addons: ~10 minutes on 2 cores)"
  tmp=$(mktemp -d "$cache/.code-server.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  chmod 755 "$tmp" # mktemp makes it 0700; the tree is meant to be run by others too
  # node-gyp must build against this Node's headers, never download them (no internet).
  PATH="$node_dir/bin:$PATH" npm_config_nodedir="$node_dir" npm_config_unsafe_perm=true \
    npm install -g --prefix "$tmp" --no-audit --no-fund --foreground-scripts \
    "code-server@$CODE_SERVER_VERSION" >"$cache/code-server-install.log" 2>&1 || {
      log "npm install failed; last lines of $cache/code-server-install.log:"; tail -20 "$cache/code-server-install.log" >&2; exit 1; }
  cp -a "$node_dir" "$tmp/node"
  rm -f "$tmp/node/.manifest"
  # The package's launcher is '#!/usr/bin/env node': this one runs the Node it was built
  # for, found relative to itself, so the tree can be moved (or copied into an image).
  cat >"$tmp/code-server" <<'WRAP'
#!/bin/sh
here=$(dirname "$(readlink -f "$0")")
PATH="$here/node/bin:$PATH" exec "$here/node/bin/node" "$here/lib/node_modules/code-server/out/node/entry.js" "$@"
WRAP
  chmod +x "$tmp/code-server"
  "$tmp/code-server" --version >&2
  manifest_write "$tmp"
  rm -rf "$cs_dir"
  mv "$tmp" "$cs_dir"
  gone=$(incomplete)
  [ -z "$gone" ] || { log "still incomplete after install: $gone"; exit 1; }
fi
echo "$cs_dir/code-server"
