#!/usr/bin/env bash
# Lints the workspace image's Dockerfile (images cannot be built on these machines: no base
# image can be pulled). Two linters from the npm registry, pinned, cached in
# $CODEHUB_CACHE/npm (installed once, under a lock):
#   dockerfile-utils - a current Dockerfile parser (syntax, instructions, flags);
#   dockerfilelint   - best-practice rules (apt-get -y, --no-install-recommends, ports, ...).
# Exits non-zero on any finding of either.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${CODEHUB_CACHE:-$HOME/.cache/codehub}
npm_dir=$cache/npm
pins=(dockerfile-utils@0.16.3 dockerfilelint@1.8.0)
dockerfiles=(images/workspace/Dockerfile images/gateway/Dockerfile images/operator/Dockerfile)

mkdir -p "$npm_dir"
exec 9>"$npm_dir/.lock"
flock 9
for pin in "${pins[@]}"; do
  pkg=${pin%@*} want=${pin##*@}
  have=$(node -p "require('$npm_dir/node_modules/$pkg/package.json').version" 2>/dev/null || true)
  if [ "$have" != "$want" ]; then
    echo "check-dockerfile: installing $pin into $npm_dir" >&2
    npm install --prefix "$npm_dir" --no-audit --no-fund --no-save "$pin" >&2
  fi
done
flock -u 9

status=0
for f in "${dockerfiles[@]}"; do
  # It exits non-zero on errors; the JSON is what counts.
  findings=$("$npm_dir/node_modules/.bin/dockerfile-utils" lint --json "$f" 2>&1) || true
  if [ "$findings" != "[]" ]; then
    echo "check-dockerfile: dockerfile-utils findings in $f:" >&2
    node -e 'for (const d of JSON.parse(process.argv[1])) console.error(`${process.argv[2]}:${d.range.start.line + 1}: ${d.severity}: ${d.message}`)' "$findings" "$f"
    status=1
  fi
  if ! out=$("$npm_dir/node_modules/.bin/dockerfilelint" "$f"); then
    echo "check-dockerfile: dockerfilelint findings in $f:" >&2
    echo "$out" >&2
    status=1
  fi
done
[ "$status" = 0 ] && echo "check-dockerfile: ${dockerfiles[*]} clean" >&2
exit "$status"
