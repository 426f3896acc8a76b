#!/usr/bin/env bash
# Builds helm from the Go module proxy into $CODEHUB_CACHE/bin/helm, once, under a lock, and
# prints its path. A plain `go install` of helm believes the cluster is Kubernetes v1.20 (so a
# chart's `kubeVersion: ">=1.30"` fails `helm lint`/`helm template`): the -X flags below set
# the default Kubernetes version it assumes (the same thing helm's own Makefile does) to the
# version of the control plane the tests run (versions.env). Cold: ~2.5 minutes on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
cache=${CODEHUB_CACHE:-$HOME/.cache/codehub}
bin=$cache/bin
mkdir -p "$bin"
exec 9>"$cache/.helm.lock"
flock 9
major=${K8S_VERSION%%.*}
minor=$(echo "$K8S_VERSION" | cut -d. -f2)
want="$HELM_VERSION k8s $major.$minor"
stamp=$bin/.helm.version
if [ -x "$bin/helm" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then echo "$bin/helm"; exit 0; fi

echo "install-helm: building helm $HELM_VERSION (default Kubernetes $major.$minor) into $bin" >&2
ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ld="$ld -X $p.k8sVersionMajor=$major -X $p.k8sVersionMinor=$minor"
done
rm -f "$stamp"
CGO_ENABLED=0 GOBIN="$bin" GOFLAGS=-mod=mod go install -trimpath -ldflags "$ld" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
echo "$want" > "$stamp"
echo "$bin/helm"
