# Shared by the scripts that build a pinned Go tool from the Go module proxy (source it after
# versions.env): go_tool NAME PACKAGE VERSION [--check] builds PACKAGE@VERSION into
# $CODEHUB_CACHE/bin once, under a lock, and prints the binary's path; with --check it only
# reports whether the cached binary is there and is VERSION (exit 1 naming it otherwise). The
# caller defines reports_version BINARY: true when the binary says it is the pinned version.
here_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here_lib/cache.sh"

go_tool() {
  local name=$1 pkg=$2 version=$3 mode=${4:-}
  local bin=$cache/bin
  local exe=$bin/$name
  installed() { [ -x "$exe" ] && reports_version "$exe"; }
  if [ "$mode" = --check ]; then
    installed && return 0
    echo "install-$name: $exe is missing, broken or not $version" >&2
    return 1
  fi
  cache_lock "$name"
  if ! installed; then
    echo "install-$name: building $name $version into $bin" >&2
    mkdir -p "$bin"
    GOBIN=$bin go install "$pkg@$version" >&2
    installed || { echo "install-$name: $exe does not report $version after the build" >&2; return 1; }
  fi
  echo "$exe"
}
