#!/usr/bin/env bash
# Builds the pinned staticcheck (versions.env) from the Go module proxy into
# $CODEHUB_CACHE/bin, once, under a lock, and prints its path. ~1 minute cold.
#   --check  only report whether the cached copy is complete (exit 1 and name what is not).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
. "$here/lib/cache.sh"
bin=$cache/bin
sc=$bin/staticcheck
installed() { [ -x "$sc" ] && "$sc" -version 2>/dev/null | grep -q "(${STATICCHECK_VERSION#v})"; }
if [ "${1:-}" = --check ]; then
  installed && exit 0
  echo "install-staticcheck: $sc is missing, broken or not $STATICCHECK_VERSION" >&2; exit 1
fi
cache_lock staticcheck
if ! installed; then
  echo "install-staticcheck: building staticcheck $STATICCHECK_VERSION into $bin" >&2
  mkdir -p "$bin"
  GOBIN=$bin go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" >&2
  installed || { echo "install-staticcheck: $sc does not report $STATICCHECK_VERSION after the build" >&2; exit 1; }
fi
echo "$sc"
