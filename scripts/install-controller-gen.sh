#!/usr/bin/env bash
# Builds the pinned controller-gen (versions.env) from the Go module proxy into
# $CODEHUB_CACHE/bin, once, under a lock, and prints its path. ~45 s cold.
#   --check  only report whether the cached copy is complete (exit 1 and name what is not).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
. "$here/lib/cache.sh"
bin=$cache/bin
cg=$bin/controller-gen
installed() { [ -x "$cg" ] && "$cg" --version 2>/dev/null | grep -qx "Version: $CONTROLLER_GEN_VERSION"; }
if [ "${1:-}" = --check ]; then
  installed && exit 0
  echo "install-controller-gen: $cg is missing, broken or not $CONTROLLER_GEN_VERSION" >&2; exit 1
fi
cache_lock controller-gen
if ! installed; then
  echo "install-controller-gen: installing controller-gen $CONTROLLER_GEN_VERSION into $bin" >&2
  mkdir -p "$bin"
  GOBIN=$bin go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_GEN_VERSION" >&2
  installed || { echo "install-controller-gen: $cg does not report $CONTROLLER_GEN_VERSION after the build" >&2; exit 1; }
fi
echo "$cg"
