#!/usr/bin/env bash
# Regenerates everything controller-gen derives from Go markers: the Workspace CRD
# (config/crd/bases), the operator's ClusterRole (config/rbac/role.yaml) and deepcopy
# (api/v1alpha1/zz_generated.deepcopy.go). Installs the pinned controller-gen once (install-controller-gen.sh).
# Usage: scripts/generate.sh [root]  (root defaults to the repository; check-generated.sh
# passes a scratch copy so the working tree is never touched by a check).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${1:-$(dirname "$here")}
cg=$("$here/install-controller-gen.sh")
cd "$root"
"$cg" object paths=./api/...
"$cg" crd paths=./api/... output:crd:artifacts:config=config/crd/bases
"$cg" rbac:roleName=codehub-operator paths=./internal/controller/... output:rbac:artifacts:config=config/rbac
