#!/usr/bin/env bash
# Builds helm from the Go module proxy into $CODEHUB_CACHE/bin/helm, once, under a lock, and
# prints its path. A plain `go install` of helm believes the cluster is Kubernetes v1.20 (so a
# chart's `kubeVersion: ">=1.30"` fails `helm lint`/`helm template`): the -X flags below set
# the default Kubernetes version it assumes (the same thing helm's own Makefile does) to the
# version of the control plane the tests run (versions.env). Cold: ~2.5 minutes on 2 cores.
# Installed means the binary runs and reports the pinned version with those defaults.
#   --check  only report whether the cached copy is complete (exit 1 and name what is not).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
. "$here/lib/cache.sh"
bin=$cache/bin
mkdir -p "$bin"
major=${K8S_VERSION%%.*}
minor=$(echo "$K8S_VERSION" | cut -d. -f2)
want="$HELM_VERSION k8s $major.$minor"
stamp=$bin/.helm.version
installed() {
  [ -z "$(binaries_missing "$bin" helm=version)" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] &&
    "$bin/helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"
}
if [ "${1:-}" = --check ]; then
  installed && exit 0
  echo "install-helm: $bin/helm is missing, broken or not $want" >&2; exit 1
fi
cache_lock helm
if installed; then echo "$bin/helm"; exit 0; fi

echo "install-helm: building helm $HELM_VERSION (default Kubernetes $major.$minor) into $bin" >&2
ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ld="$ld -X $p.k8sVersionMajor=$major -X $p.k8sVersionMinor=$minor"
done
rm -f "$stamp"
CGO_ENABLED=0 GOBIN="$bin" GOFLAGS=-mod=mod go install -trimpath -ldflags "$ld" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
echo "$want" > "$stamp"
installed || { echo "install-helm: $bin/helm does not run as $want after the build" >&2; exit 1; }
echo "$bin/helm"
