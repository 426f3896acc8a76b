#!/usr/bin/env bash
# Builds the project's three images for real with buildah, from their Dockerfiles, with no
# registry and no Docker daemon (make test, make image*). Cached under $CODEHUB_CACHE/images,
# under a lock; an image is rebuilt only when a hash of its inputs (Dockerfile, the source it
# copies, the local inputs, its base images, this script) changed. Prints that directory on
# stdout; it holds one docker-archive per image, for `ctr images import` / `podman load`:
#   workspace.tar  docker.io/library/codehub-workspace:latest
#   gateway.tar    docker.io/library/codehub-gateway:<appVersion>
#   operator.tar   docker.io/library/codehub-operator:<appVersion>
# and the images stay in the private store $CODEHUB_CACHE/containers (its variables: the file
# $CODEHUB_CACHE/containers/env), where podman runs them.
#
# No base image can be pulled here, so the FROM images are local stand-ins, built first:
#   docker.io/library/debian:bookworm        a Debian bookworm rootfs made with mmdebstrap from
#                                            Debian's archive, with more packages than the real
#                                            one (python3, pip, venv, pylint, ipykernel, jupyter,
#                                            git, tini, ...): the workspace image's base
#   docker.io/library/golang:<go>-bookworm   that rootfs + this machine's Go toolchain (GOTOOLCHAIN=local)
#   gcr.io/distroless/static-debian12:nonroot scratch + passwd/group (65532), Debian's CA bundle
#                                            and zoneinfo, /tmp 1777, /home/nonroot owned by 65532
# The workspace image gets its downloads from an `offline` build context instead of the
# internet: the cached code-server tree (scripts/install-code-server.sh), kubectl from the
# control-plane cache, two minimal test VSIX files (the pinned Open VSX extensions cannot be
# fetched here), and the labelled conda substitute (a venv over the distro Python at
# /opt/conda with an empty conda-meta/; conda itself is in no reachable archive).
#
# No RUN step gets a network: Go modules are downloaded on the host first and the host's Go
# module and build caches are mounted into the builds; the base already holds the packages.
# CODEHUB_IMAGE_NETWORK=host gives RUN steps the host network (then the host CA bundle is
# bind-mounted read-only, never copied into an image) for a build that must download.
#
#   scripts/build-images.sh [--check] [workspace|gateway|operator|all]...   (default: all)
#   --check  only report whether each image's archive is there and current (exit 1 and name
#            what is missing or out of date).
# Cold: ~10 minutes on 2 cores (mmdebstrap ~5-7, workspace ~1-2, gateway/operator ~1 each);
# warm: a few seconds (the input hashes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/versions.env"
. "$here/lib/cache.sh"
. "$here/lib/containers.sh"
out=$cache/images
log() { echo "build-images: [${SECONDS}s] $*" >&2; }

check=
targets=()
for a in "$@"; do
  case $a in
    --check) check=1 ;;
    all) targets+=(workspace gateway operator) ;;
    workspace | gateway | operator) targets+=("$a") ;;
    *) echo "usage: $0 [--check] [workspace|gateway|operator|all]..." >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(workspace gateway operator)

app_version=$(sed -n 's/^appVersion: "\(.*\)"/\1/p' "$repo/charts/codehub/Chart.yaml")
go_version=$(go env GOVERSION | sed 's/^go//')
debian_mirror=${CODEHUB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
debian_security=${CODEHUB_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
base_packages=ca-certificates,curl,git,less,locales,openssh-client,procps,tini,tzdata,unzip,python3,python3-pip,python3-venv,pylint,python3-ipykernel,jupyter-notebook
base_ref=docker.io/library/debian:bookworm
golang_ref=docker.io/library/golang:$go_version-bookworm
distroless_ref=gcr.io/distroless/static-debian12:nonroot
declare -A ref=(
  [workspace]=docker.io/library/codehub-workspace:latest
  [gateway]=docker.io/library/codehub-gateway:$app_version
  [operator]=docker.io/library/codehub-operator:$app_version
)

# hash_files PATH...: one hash of the names and contents of every file under the paths.
hash_files() {
  (cd "$repo" && find "$@" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-32
}
hash_text() { printf '%s\n' "$@" | sha256sum | cut -c1-32; }
# The part of this script that decides how a layer is made: a change to it rebuilds.
script_hash=$(cat "$here/build-images.sh" "$here/lib/containers.sh" | sha256sum | cut -c1-32)

cs_launcher=$cache/code-server-$CODE_SERVER_VERSION/code-server
kubectl_bin=$cache/k8s-$K8S_VERSION/bin/kubectl
# The stand-ins' recipes: bump a number when its build_* function changes (the images built
# from them also hash this whole script).
base_key=$(hash_text base-2 "$debian_mirror" "$debian_security" "$base_packages")
golang_key=$(hash_text golang-1 "$base_key" "$(go version)" "$(go env GOROOT)")
distroless_key=$(hash_text distroless-1 "$base_key")
# Source inputs of each image (what its Dockerfile COPYs); local inputs are added in key_of.
src_workspace=(images/workspace go.mod go.sum cmd/codehub-init internal/wsinit)
src_control_plane=(images/control-plane/Dockerfile go.mod go.sum api cmd internal)
key_of() {
  case $1 in
    workspace)
      local cs kc
      cs=none kc=none
      [ -f "$(dirname "$cs_launcher")/.manifest" ] && cs=$(sha256sum <"$(dirname "$cs_launcher")/.manifest" | cut -c1-32)
      [ -f "$kubectl_bin" ] && kc=$(sha256sum <"$kubectl_bin" | cut -c1-32)
      hash_text "$script_hash" "$(hash_files "${src_workspace[@]}")" "$golang_key" "$base_key" "cs=$cs" "kubectl=$kc" ;;
    gateway | operator) hash_text "$1" "$script_hash" "$(hash_files "${src_control_plane[@]}")" "$golang_key" "$distroless_key" ;;
  esac
}

# stale NAME KEY: print why $out/NAME.tar is not the current build of KEY (nothing if it is).
# NAME.inputs records the key and the archive's size, so a truncated archive is caught too.
stale() {
  local name=$1 key=$2 tar=$out/$1.tar
  if [ ! -s "$tar" ]; then echo "$tar missing"; return; fi
  if [ ! -s "$out/$name.inputs" ]; then echo "$out/$name.inputs missing"; return; fi
  if [ "$(cat "$out/$name.inputs")" != "$key $(stat -c %s "$tar")" ]; then
    echo "$name.tar out of date or damaged (inputs changed)"
  fi
}

if [ -n "$check" ]; then
  gone=
  for t in "${targets[@]}"; do s=$(stale "$t" "$(key_of "$t")"); [ -z "$s" ] || gone+="${gone:+; }$s"; done
  [ -z "$gone" ] && exit 0
  log "incomplete: $gone"; exit 1
fi

need=()
for t in "${targets[@]}"; do [ -n "$(stale "$t" "$(key_of "$t")")" ] && need+=("$t"); done
if [ ${#need[@]} -eq 0 ]; then echo "$out"; exit 0; fi

# What the builds need, before the lock (each has its own).
"$here/install-container-tools.sh" >/dev/null
if [[ " ${need[*]} " = *" workspace "* ]]; then
  cs_launcher=$("$here/install-code-server.sh")
  kubectl_bin=$("$here/install-control-plane.sh")/kubectl
fi
cache_lock images
containers_env
mkdir -p "$out"

# image_key REF: the inputs key a stand-in was committed with ("" when absent).
image_key() { buildah inspect --type image --format '{{index .OCIv1.Config.Labels "io.codehub.inputs"}}' "$1" 2>/dev/null || true; }

build_base() {
  local tar=$out/base/rootfs.tar current=
  [ "$(cat "$out/base/rootfs.inputs" 2>/dev/null)" = "$base_key $(stat -c %s "$tar" 2>/dev/null)" ] && current=1
  [ -n "$current" ] && [ "$(image_key "$base_ref")" = "$base_key" ] && return
  mkdir -p "$out/base"
  if [ -z "$current" ]; then
    log "making the Debian bookworm base rootfs with mmdebstrap from $debian_mirror (~5-7 minutes)"
    rm -rf "$tar" "$out/base/rootfs.tmp.tar"
    # The archive here is a dated snapshot: its Release files are past their Valid-Until.
    mmdebstrap --variant=apt --format=tar --components=main --include="$base_packages" \
      --aptopt='Acquire::Check-Valid-Until "false"' \
      --aptopt='APT::Install-Recommends "false"' \
      --customize-hook='printf "%s\n" "Dir::Cache::pkgcache \"\";" "Dir::Cache::srcpkgcache \"\";" >"$1/etc/apt/apt.conf.d/docker-clean"' \
      --customize-hook='rm -f "$1/etc/hostname" "$1/etc/resolv.conf" "$1"/var/cache/apt/*.bin; : >"$1/etc/resolv.conf"' \
      bookworm "$out/base/rootfs.tmp.tar" \
      "deb $debian_mirror bookworm main" "deb $debian_mirror bookworm-updates main" \
      "deb $debian_security bookworm-security main" >&2
    mv "$out/base/rootfs.tmp.tar" "$tar"
    echo "$base_key $(stat -c %s "$tar")" >"$out/base/rootfs.inputs"
  fi
  log "importing the base rootfs as $base_ref"
  local c
  c=$(buildah from --pull=never scratch)
  buildah add --quiet "$c" "$tar" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash --label io.codehub.inputs="$base_key" \
    --label io.codehub.stand-in="Debian bookworm from mmdebstrap (Debian archive) with python3, pip, venv, pylint, ipykernel, jupyter, git, tini preinstalled; stands in for $base_ref" "$c"
  buildah commit --quiet --format docker --rm "$c" "$base_ref" >/dev/null
}

build_golang() {
  [ "$(image_key "$golang_ref")" = "$golang_key" ] && return
  log "making the Go builder stand-in $golang_ref (the base + $(go env GOROOT))"
  local c
  c=$(buildah from --pull=never "$base_ref")
  buildah copy --quiet "$c" "$(go env GOROOT)" /usr/local/go >/dev/null
  buildah config --env GOLANG_VERSION="$go_version" --env GOTOOLCHAIN=local --env GOPATH=/go \
    --env PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --workingdir /go --label io.codehub.inputs="$golang_key" \
    --label io.codehub.stand-in="the Debian base + this machine's Go $go_version; stands in for $golang_ref" "$c"
  buildah commit --quiet --format docker --rm "$c" "$golang_ref" >/dev/null
}

build_distroless() {
  [ "$(image_key "$distroless_ref")" = "$distroless_key" ] && return
  log "making the distroless stand-in $distroless_ref"
  local stage=$out/distroless.stage
  rm -rf "$stage" && mkdir -p "$stage/etc" "$stage/tmp" "$stage/home/nonroot"
  # Debian's CA bundle and zoneinfo, from the base rootfs (never the host's CA bundle).
  tar -xf "$out/base/rootfs.tar" -C "$stage" ./etc/ssl/certs/ca-certificates.crt ./usr/share/zoneinfo
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$stage/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'tty:x:5:' 'staff:x:50:' 'nonroot:x:65532:' >"$stage/etc/group"
  chmod 1777 "$stage/tmp"
  chown 65532:65532 "$stage/home/nonroot" && chmod 0700 "$stage/home/nonroot"
  # A tar keeps the owner of /home/nonroot (buildah copy would make it root's).
  tar --numeric-owner -C "$stage" -cf "$out/distroless.tar" .
  rm -rf "$stage"
  local c
  c=$(buildah from --pull=never scratch)
  buildah add --quiet "$c" "$out/distroless.tar" / >/dev/null
  buildah config --env PATH=/usr/local/bin:/usr/bin:/bin --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --user 65532:65532 --workingdir /home/nonroot --label io.codehub.inputs="$distroless_key" \
    --label io.codehub.stand-in="scratch + passwd/group 65532, Debian CA bundle, zoneinfo; stands in for $distroless_ref" "$c"
  buildah commit --quiet --format docker --rm "$c" "$distroless_ref" >/dev/null
  rm -f "$out/distroless.tar"
}

# offline_context DIR: the workspace Dockerfile's local inputs (hard links into the cache).
offline_context() {
  local dir=$1
  rm -rf "$dir" && mkdir -p "$dir/extensions"
  cp -al "$(dirname "$cs_launcher")" "$dir/code-server"
  cp -l "$kubectl_bin" "$dir/kubectl"
  cat >"$dir/conda-substitute" <<'EOF'
NOT CONDA. conda, mamba and micromamba are in no archive or registry reachable where this image
was built, so /opt/conda is a substitute for tests: a Python venv over the distribution's
python3 (--system-site-packages: pip, pylint, ipykernel, jupyter from Debian packages) with an
empty conda-meta/, which is what VS Code's Python tooling looks for to see a conda env.
There is no bin/conda. A production build (no offline context) installs Miniforge instead.
EOF
  # Two minimal extensions standing in for the pinned Open VSX ones (not reachable here).
  python3 - "$dir/extensions" <<'EOF'
import json, sys, zipfile
out = sys.argv[1]
for i, (name, version) in enumerate([("hello", "1.0.0"), ("world", "0.2.0")]):
    pkg = {"name": name, "publisher": "codehub-test", "version": version,
           "displayName": f"codehub test extension {name} (stand-in for the pinned extensions)",
           "engines": {"vscode": "^1.80.0"}, "main": "./extension.js",
           "activationEvents": ["onStartupFinished"]}
    js = "exports.activate = function () {};\nexports.deactivate = function () {};\n"
    with zipfile.ZipFile(f"{out}/{10 + i}-codehub-test.{name}.vsix", "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in (("extension/package.json", json.dumps(pkg, indent=2)), ("extension/extension.js", js)):
            info = zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
EOF
}

build_image() {
  local name=$1 key common=() gocaches=() dockerfile=images/$1/Dockerfile
  key=$(key_of "$name")
  [ "$name" = workspace ] || dockerfile=images/control-plane/Dockerfile
  common=(--format docker --pull=never --layers --network "${CODEHUB_IMAGE_NETWORK:-none}"
    --build-arg "TARGETARCH=$(go env GOARCH)" -f "$dockerfile")
  gocaches=(-v "$(go env GOMODCACHE):/go/pkg/mod" -v "$(go env GOCACHE):/root/.cache/go-build")
  if [ "${CODEHUB_IMAGE_NETWORK:-none}" = host ]; then
    common+=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
  fi
  log "building ${ref[$name]} from $dockerfile"
  local t0=$SECONDS
  if [ "$name" = workspace ]; then
    offline_context "$out/offline"
    # buildah mounts -v volumes into every RUN (and leaves their mount points in the image):
    # the Go stage is built alone with the Go caches, the whole image then without them, from
    # the layer cache that first build filled.
    (cd "$repo" && buildah bud --quiet "${common[@]}" "${gocaches[@]}" --target init . >&2)
    (cd "$repo" && buildah bud --quiet "${common[@]}" --build-context "offline=$out/offline" \
      --label io.codehub.inputs="$key" -t "${ref[$name]}" . >&2)
  else
    # Only the Go stage has RUN steps; the final (distroless) stage gets no mount points.
    # The second of gateway and operator finds that stage in the layer cache.
    (cd "$repo" && buildah bud --quiet "${common[@]}" "${gocaches[@]}" --build-arg "VERSION=$app_version" \
      --target "$name" --label io.codehub.inputs="$key" -t "${ref[$name]}" . >&2)
  fi
  rm -f "$out/$name.tar" "$out/$name.inputs"
  buildah push --quiet "${ref[$name]}" "docker-archive:$out/$name.tar.tmp:${ref[$name]}" >&2
  mv "$out/$name.tar.tmp" "$out/$name.tar"
  echo "$key $(stat -c %s "$out/$name.tar")" >"$out/$name.inputs"
  [ "$name" = workspace ] && rm -rf "$out/offline"
  log "${ref[$name]}: $((SECONDS - t0)) s, $(stat -c %s "$out/$name.tar") bytes"
}

# The host fetches the Go modules the images compile (the builds have no network).
(cd "$repo" && go mod download) >&2
build_base
build_golang
[[ " ${need[*]} " = *" gateway "* || " ${need[*]} " = *" operator "* ]] && build_distroless
for t in "${need[@]}"; do build_image "$t"; done
# Images and layers no name refers to any more (earlier builds): the store would grow by the
# size of an image per rebuild. This also drops the layer cache of the last build.
buildah rmi --prune >/dev/null 2>&1 || true
gone=
for t in "${targets[@]}"; do s=$(stale "$t" "$(key_of "$t")"); [ -z "$s" ] || gone+="${gone:+; }$s"; done
[ -z "$gone" ] || { log "still incomplete after the build: $gone"; exit 1; }
echo "$out"
