#!/usr/bin/env bash
# Builds a real Kubernetes control plane (etcd, kube-apiserver, kubectl) and the node's
# components (kubelet, kube-proxy, kube-controller-manager, kube-scheduler) from the Go module
# proxy into $CODEHUB_CACHE/k8s-<version>/bin, once, under a lock. Prints that dir on stdout:
# it is what envtest's KUBEBUILDER_ASSETS wants (envtest uses etcd, kube-apiserver, kubectl;
# the test node, internal/testnode, all of them). Cold: ~13 minutes on 2 cores (etcd +
# kube-apiserver ~8, the other four ~5); warm: instant.
# Installed means every binary is there and runs; only a missing or broken one is rebuilt.
#   --check  only report whether the cached copy is complete (exit 1 and name what is not).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
. "$here/lib/cache.sh"
out=$cache/k8s-$K8S_VERSION/bin
binaries=(etcd=--version kube-apiserver=--version "kubectl=version --client"
  kube-controller-manager=--version kube-scheduler=--version kubelet=--version kube-proxy=--version)
if [ "${1:-}" = --check ]; then
  gone=$(binaries_missing "$out" "${binaries[@]}"); [ -z "$gone" ] && exit 0
  echo "install-control-plane: incomplete: $(echo $gone)" >&2; exit 1
fi
cache_lock control-plane
if [ -z "$(binaries_missing "$out" "${binaries[@]}")" ]; then echo "$out"; exit 0; fi

log() { echo "install-control-plane: $*" >&2; }
mod=$cache/k8s-$K8S_VERSION/module
mkdir -p "$mod" "$out"
cd "$mod"
log "preparing build module in $mod"
gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
{
  echo "module codehub.local/controlplane"
  echo
  echo "go $(go env GOVERSION | sed 's/^go//')"
  echo
  echo "require ("
  echo "	k8s.io/kubernetes v$K8S_VERSION"
  echo "	go.etcd.io/etcd/server/v3 v$ETCD_VERSION"
  echo ")"
  echo
  echo "replace ("
  grep '=> ./staging/src/' "$gomod" | awk -v v="v$K8S_STAGING_VERSION" '{print "\t" $1 " => " $1 " " v}'
  echo ")"
} > go.mod
cat > tools.go <<'TOOLS'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
TOOLS
GOFLAGS=-mod=mod go mod tidy >&2
ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=${K8S_VERSION%%.*} -X $p.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2) -X $p.gitTreeState=clean -X $p.buildDate=2026-01-01T00:00:00Z"
done
export CGO_ENABLED=0
# Only what is missing or broken is built: adding a binary to the list does not rebuild the rest.
for spec in "${binaries[@]}"; do
  name=${spec%%=*}
  [ -z "$(binaries_missing "$out" "$spec")" ] && continue
  case $name in
    etcd) pkg=go.etcd.io/etcd/server/v3 flags="-s -w"; log "building etcd $ETCD_VERSION" ;;
    *) pkg=k8s.io/kubernetes/cmd/$name flags=$ld; log "building $name $K8S_VERSION" ;;
  esac
  [ "$name" = kube-apiserver ] && log "(kube-apiserver: ~6 minutes cold)"
  go build -trimpath -ldflags "$flags" -o "$out/$name.tmp" "$pkg" && mv "$out/$name.tmp" "$out/$name"
done
gone=$(binaries_missing "$out" "${binaries[@]}")
[ -z "$gone" ] || { log "still incomplete after the build: $gone"; exit 1; }
echo "$out"
