#!/usr/bin/env bash
# Fetches the workspace image's pinned extensions (images/workspace/extensions.txt) from
# Open VSX into the cache once, for `make run`, and prints the directory (the gateway's
# --builtin-extensions-dir; codehub-init installs them into every workspace). Each VSIX must
# match its SHA-256 in images/workspace/extensions.sha256; one that does not, or has no
# pinned checksum, is not used. Without network access to the gallery it says so in one line
# and still prints the directory (with whatever an earlier run cached): `make run` works,
# the workspaces start without those extensions, and the gateway names the missing ones.
#   scripts/fetch-extensions.sh          # normal use (make run)
#   scripts/fetch-extensions.sh --pin    # maintainers, online: record the checksums of what it downloads
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
pins=${CODEHUB_EXTENSION_PINS:-$root/images/workspace/extensions.txt}
sums=${CODEHUB_EXTENSION_SUMS:-$root/images/workspace/extensions.sha256}
cache=${CODEHUB_CACHE:-$HOME/.cache/codehub}
dir=$cache/extensions
gallery=${CODEHUB_EXTENSION_GALLERY:-https://open-vsx.org}
pin=false
[ "${1:-}" = "--pin" ] && pin=true
mkdir -p "$dir"
exec 9>"$cache/.extensions.lock"
flock 9
# The pins travel with the files: the gateway compares them with what is here.
grep -vE '^[[:space:]]*(#|$)' "$pins" >"$dir/PINS"

want_sum() { awk -v s="$1" '$1 !~ /^#/ && $2 == s {print $1}' "$sums"; }
missing=0
while read -r spec kind; do
  id=${spec%@*} version=${spec##*@}
  file=$(ls "$dir"/*-"$id"-"$version".vsix 2>/dev/null | head -n1 || true)
  [ -n "$file" ] && [ -s "$file" ] && continue
  missing=$((missing + 1))
done <"$dir/PINS"
if [ "$missing" -eq 0 ]; then
  echo "$dir"
  exit 0
fi
if ! curl -fsS -m 5 -o /dev/null "$gallery/api/-/search?size=1" 2>/dev/null; then
  echo "fetch-extensions: $gallery is not reachable: $missing pinned extensions are not cached; workspaces start without them" >&2
  echo "$dir"
  exit 0
fi
n=10
while read -r spec kind; do
  id=${spec%@*} version=${spec##*@} publisher=${id%%.*} name=${id#*.}
  file=$dir/$n-$id-$version.vsix
  n=$((n + 1))
  [ -s "$file" ] && continue
  if [ "$kind" = platform ]; then
    url=$gallery/api/$publisher/$name/linux-x64/$version/file/$id-$version@linux-x64.vsix
  else
    url=$gallery/api/$publisher/$name/$version/file/$id-$version.vsix
  fi
  want=$(want_sum "$spec")
  if [ -z "$want" ] && ! $pin; then
    echo "fetch-extensions: $spec has no pinned checksum in images/workspace/extensions.sha256; not used" >&2
    continue
  fi
  if ! curl -fsSL -m 600 -o "$file.part" "$url"; then
    echo "fetch-extensions: $spec: download failed ($url)" >&2
    rm -f "$file.part"
    continue
  fi
  got=$(sha256sum "$file.part" | cut -d' ' -f1)
  if [ -z "$want" ]; then
    echo "$got  $spec" >>"$sums"
    echo "fetch-extensions: pinned $spec $got (review and commit images/workspace/extensions.sha256)" >&2
  elif [ "$got" != "$want" ]; then
    echo "fetch-extensions: $spec: checksum $got is not the pinned $want; not used" >&2
    rm -f "$file.part"
    continue
  fi
  mv "$file.part" "$file"
done <"$dir/PINS"
echo "$dir"
