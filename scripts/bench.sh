#!/usr/bin/env bash
# make bench: installs the peer proxies (idempotently), builds codehub and the benchmark
# tools, runs codehub-bench and regenerates docs/benchmarks.md (+ docs/benchmarks/).
# Arguments are passed to codehub-bench (e.g. --quick). Everything listens on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
log() { echo "bench.sh [$(( $(date +%s) - start ))s]: $*" >&2; }

cache=${CODEHUB_CACHE:-$HOME/.cache/codehub}
bin=$cache/bin
CADDY_VERSION=v2.11.9
OAUTH2_PROXY_VERSION=v7.15.6
mkdir -p "$bin"

# Peers, each installed once and then reused.
exec 8>"$cache/.bench-peers.lock"
flock 8
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  log "installing nginx and wrk (Debian)"
  apt-get install -y -o DPkg::Lock::Timeout=600 nginx wrk >&2 ||
    { apt-get update -o DPkg::Lock::Timeout=600 >&2 && apt-get install -y -o DPkg::Lock::Timeout=600 nginx wrk >&2; }
fi
chp=$(scripts/install-npm-tools.sh)/configurable-http-proxy
# The installed module version, from the binary's build information.
built() { go version -m "$1" 2>/dev/null | awk -v m="$2" '$1 == "mod" && $2 == m {print $3}'; }
if [ "$(built "$bin/caddy" github.com/caddyserver/caddy/v2)" != "$CADDY_VERSION" ]; then
  log "installing Caddy $CADDY_VERSION (Go module proxy; a few minutes the first time)"
  GOBIN=$bin go install "github.com/caddyserver/caddy/v2/cmd/caddy@$CADDY_VERSION"
fi
if [ "$(built "$bin/oauth2-proxy" github.com/oauth2-proxy/oauth2-proxy/v7)" != "$OAUTH2_PROXY_VERSION" ]; then
  log "installing oauth2-proxy $OAUTH2_PROXY_VERSION (Go module proxy; a few minutes the first time)"
  GOBIN=$bin go install "github.com/oauth2-proxy/oauth2-proxy/v7@$OAUTH2_PROXY_VERSION"
fi
flock -u 8

# A real code-server for the wake latency (cached after the first install).
code_server=${CODEHUB_CODE_SERVER:-}
if [ -z "$code_server" ]; then
  log "locating code-server (scripts/install-code-server.sh; ~10 minutes only the first time)"
  code_server=$(scripts/install-code-server.sh) || { log "no code-server: the wake latency is skipped"; code_server=""; }
fi

log "building codehub, benchd and codehub-bench"
mkdir -p bin
go build -trimpath -o bin/ ./cmd/codehub ./bench/cmd/benchd ./bench/cmd/codehub-bench

# Preview of the recommended gateway changes, measured as their own target without
# touching the tree: the same codehub built with `go build -overlay` from an edited copy of
# internal/gateway/proxy.go. Each change applies only while the file still needs it and its
# anchor is found; with nothing to apply there is no preview. BENCH_NO_PREVIEW=1 skips it.
preview=()
pf=internal/gateway/proxy.go
if [ -z "${BENCH_NO_PREVIEW:-}" ]; then
  ov=$(mktemp -d)
  cp "$pf" "$ov/proxy.go"
  notes=()
  files=("\"$PWD/$pf\":\"$ov/proxy.go\"")
  if grep -q '^[[:space:]]*FlushInterval: -1,' "$ov/proxy.go"; then
    sed -i 's/^\([[:space:]]*\)FlushInterval: -1,/\1FlushInterval: 0,/' "$ov/proxy.go"
    notes+=("FlushInterval 0 instead of -1 (ReverseProxy still flushes responses without Content-Length and text/event-stream at once; -1 arms a timer and a flush goroutine for every response)")
  fi
  if grep -q '^[[:space:]]*h\.Del(k)$' "$ov/proxy.go"; then
    sed -i 's/^\([[:space:]]*\)h\.Del(k)$/\1delete(h, k) \/\/ the identity header names are constants in canonical form/' "$ov/proxy.go"
    notes+=("identity headers removed with delete(h, k) instead of h.Del(k) (no canonicalisation of 22 constant, canonical names per request)")
  fi
  if ! grep -q 'BufferPool' "$ov/proxy.go" && grep -q '^[[:space:]]*FlushInterval:' "$ov/proxy.go"; then
    sed -i 's/^\([[:space:]]*\)FlushInterval:/\1BufferPool: benchBufferPool{},\n&/' "$ov/proxy.go"
    cat >"$ov/bufpool.go" <<'EOF2'
package gateway

import "sync"

// benchBufferPool lends ReverseProxy 32 KiB copy buffers instead of a new one per response.
type benchBufferPool struct{}

var benchBufs = sync.Pool{New: func() any { return new([32 << 10]byte) }}

func (benchBufferPool) Get() []byte  { return benchBufs.Get().(*[32 << 10]byte)[:] }
func (benchBufferPool) Put(b []byte) { benchBufs.Put((*[32 << 10]byte)(b[:32<<10])) }
EOF2
    files+=("\"$PWD/internal/gateway/zz_bench_bufferpool.go\":\"$ov/bufpool.go\"")
    notes+=("a BufferPool of 32 KiB buffers for the route's ReverseProxy")
  fi
  if [ ${#notes[@]} -gt 0 ]; then
    (IFS=,; printf '{"Replace":{%s}}\n' "${files[*]}") >"$ov/overlay.json"
    note=$(IFS=';'; echo "${notes[*]}")
    if go build -trimpath -overlay "$ov/overlay.json" -o bin/codehub-preview ./cmd/codehub; then
      log "built bin/codehub-preview: $note"
      preview=(--codehub-preview bin/codehub-preview --codehub-preview-note "$note")
    else
      log "preview build failed; measuring codehub as committed only"
    fi
  fi
  rm -rf "$ov"
fi

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
log "running codehub-bench $*"
bin/codehub-bench --benchd bin/benchd --codehub bin/codehub --wrk "$(command -v wrk)" --nginx "$(command -v nginx)" \
  --node "$(command -v node)" --chp "$chp" --caddy "$bin/caddy" --oauth2-proxy "$bin/oauth2-proxy" \
  --code-server "$code_server" "${preview[@]}" --out docs "$@"
log "done (make bench total $(( $(date +%s) - start ))s)"
