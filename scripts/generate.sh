#!/usr/bin/env bash
# Regenerates everything controller-gen derives from Go markers: the Workspace CRD
# (config/crd/bases), the operator's ClusterRole (config/rbac/role.yaml) and deepcopy
# (api/v1alpha1/zz_generated.deepcopy.go). Installs the pinned controller-gen once.
# Usage: scripts/generate.sh [root]  (root defaults to the repository; check-generated.sh
# passes a scratch copy so the working tree is never touched by a check).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
root=${1:-$(dirname "$here")}
bin=${CODEHUB_CACHE:-$HOME/.cache/codehub}/bin
cg=$bin/controller-gen
mkdir -p "$bin"
exec 9>"$bin/.controller-gen.lock"
flock 9
if ! { [ -x "$cg" ] && "$cg" --version 2>/dev/null | grep -qx "Version: $CONTROLLER_GEN_VERSION"; }; then
  echo "generate: installing controller-gen $CONTROLLER_GEN_VERSION into $bin" >&2
  GOBIN=$bin go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_GEN_VERSION"
fi
flock -u 9
cd "$root"
"$cg" object paths=./api/...
"$cg" crd paths=./api/... output:crd:artifacts:config=config/crd/bases
"$cg" rbac:roleName=codehub-operator paths=./internal/controller/... output:rbac:artifacts:config=config/rbac
