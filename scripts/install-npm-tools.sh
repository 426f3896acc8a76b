#!/usr/bin/env bash
# Installs the repo's pinned npm tools (tools/npm/package.json + package-lock.json: the
# Dockerfile linters) with `npm ci` into $CODEHUB_CACHE/npm-tools-<lock hash>, once, under a
# lock. One install of every pin: a second `npm install` into the same prefix would remove the
# first package (issue #10). Prints the tools' bin dir on stdout; progress goes to stderr.
# Exits non-zero, naming the tool, when any declared binary is missing afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/tools/npm
cache=${CODEHUB_CACHE:-$HOME/.cache/codehub}
hash=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-12)
dir=$cache/npm-tools-$hash
tools=(dockerfile-utils dockerfilelint)

missing() {
  local t
  for t in "${tools[@]}"; do [ -x "$dir/node_modules/.bin/$t" ] || echo "$t"; done
}

mkdir -p "$cache"
exec 9>"$cache/.npm-tools.lock"
flock 9
if [ -n "$(missing)" ]; then
  echo "install-npm-tools: npm ci of tools/npm into $dir" >&2
  tmp=$(mktemp -d "$cache/.npm-tools.XXXXXX")
  cp "$src/package.json" "$src/package-lock.json" "$tmp/"
  if ! (cd "$tmp" && npm ci --no-audit --no-fund >&2); then
    rm -rf "$tmp"
    echo "install-npm-tools: npm ci failed (see above)" >&2
    exit 1
  fi
  rm -rf "$dir"
  mv "$tmp" "$dir"
fi
gone=$(missing)
if [ -n "$gone" ]; then
  echo "install-npm-tools: missing after install: $(echo $gone) (expected in $dir/node_modules/.bin)" >&2
  exit 1
fi
echo "$dir/node_modules/.bin"
