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

# Before/after in one run: BENCH_BASELINE=<git revision> builds codehub from that revision
# (a temporary worktree) and measures it as its own target in the same rounds.
baseline=()
if [ -n "${BENCH_BASELINE:-}" ]; then
  rev=$(git rev-parse --short "$BENCH_BASELINE")
  wt=$(mktemp -d)
  git worktree add --detach "$wt" "$rev" >&2
  (cd "$wt" && go build -trimpath -o "$OLDPWD/bin/codehub-baseline" ./cmd/codehub)
  git worktree remove --force "$wt"
  log "built bin/codehub-baseline from $rev"
  baseline=(--codehub-baseline bin/codehub-baseline --codehub-baseline-note "revision $rev ($(git log -1 --format=%s "$rev" | cut -c1-80))")
fi

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
log "running codehub-bench $*"
bin/codehub-bench --benchd bin/benchd --codehub bin/codehub --wrk "$(command -v wrk)" --nginx "$(command -v nginx)" \
  --node "$(command -v node)" --chp "$chp" --caddy "$bin/caddy" --oauth2-proxy "$bin/oauth2-proxy" \
  --code-server "$code_server" --chromium "$(scripts/install-chromium.sh)" "${baseline[@]}" --out docs "$@"
log "done (make bench total $(( $(date +%s) - start ))s)"
