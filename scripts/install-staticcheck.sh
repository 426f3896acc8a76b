#!/usr/bin/env bash
# Builds the pinned staticcheck (versions.env) from the Go module proxy into
# $CODEHUB_CACHE/bin, once, under a lock, and prints its path. ~1 minute cold.
#   --check  only report whether the cached copy is complete (exit 1 and name what is not).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
. "$here/lib/go-tool.sh"
reports_version() { "$1" -version 2>/dev/null | grep -q "(${STATICCHECK_VERSION#v})"; }
go_tool staticcheck honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION" "$@"
