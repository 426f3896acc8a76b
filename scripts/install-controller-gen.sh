#!/usr/bin/env bash
# Builds the pinned controller-gen (versions.env) from the Go module proxy into
# $CODEHUB_CACHE/bin, once, under a lock, and prints its path. ~45 s cold.
#   --check  only report whether the cached copy is complete (exit 1 and name what is not).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
. "$here/lib/go-tool.sh"
reports_version() { "$1" --version 2>/dev/null | grep -qx "Version: $CONTROLLER_GEN_VERSION"; }
go_tool controller-gen sigs.k8s.io/controller-tools/cmd/controller-gen "$CONTROLLER_GEN_VERSION" "$@"
