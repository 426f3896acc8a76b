# Shared by the install scripts (source it): the cache location, a per-install lock, and
# manifests that record every file an install produced, so a half-populated or damaged
# cache entry is found and rebuilt instead of trusted because one marker file exists.
cache=${CODEHUB_CACHE:-$HOME/.cache/codehub}
mkdir -p "$cache"

# cache_lock NAME: hold $cache/.NAME.lock (fd 9) until the script exits.
cache_lock() {
  exec 9>"$cache/.$1.lock"
  flock 9
}

# manifest_write DIR: record each regular file's size and each symlink under DIR.
manifest_write() {
  (cd "$1" && find . \( -type f -o -type l \) ! -path ./.manifest ! -path ./.manifest.tmp -printf '%y %s %P\n' | LC_ALL=C sort) >"$1/.manifest.tmp"
  mv "$1/.manifest.tmp" "$1/.manifest"
}

# manifest_missing DIR: print the entries of DIR's manifest that are gone or changed size
# (nothing when DIR is complete); "no manifest" when DIR has none. Extra files are fine.
manifest_missing() {
  if [ ! -s "$1/.manifest" ]; then echo "$1: no manifest"; return; fi
  (cd "$1" && find . \( -type f -o -type l \) ! -path ./.manifest ! -path ./.manifest.tmp -printf '%y %s %P\n' | LC_ALL=C sort) |
    LC_ALL=C comm -23 "$1/.manifest" - | head -5
}

# binaries_missing DIR NAME...: print each NAME that is not an executable file in DIR, or
# that does not run (a truncated copy); a NAME=ARGS form runs `NAME ARGS` as the probe.
binaries_missing() {
  local dir=$1 spec name args
  shift
  for spec in "$@"; do
    name=${spec%%=*} args=version
    [ "$spec" != "$name" ] && args=${spec#*=}
    # shellcheck disable=SC2086
    if [ ! -x "$dir/$name" ] || ! "$dir/$name" $args >/dev/null 2>&1; then echo "$dir/$name"; fi
  done
}
