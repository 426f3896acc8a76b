#!/usr/bin/env bash
# Fails when the CRD, RBAC or deepcopy files are stale: regenerates them in a scratch copy
# of the tree and diffs against the committed-to-be versions. Fix with `make generate`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
tar -C "$root" --exclude=./.git --exclude=./bin -cf - . | tar -C "$scratch" -xf -
"$root/scripts/generate.sh" "$scratch"
status=0
for p in config/crd/bases config/rbac/role.yaml api/v1alpha1/zz_generated.deepcopy.go; do
  if ! diff -ruN "$root/$p" "$scratch/$p" >&2; then status=1; fi
done
if [ $status -ne 0 ]; then echo "check-generated: generated files are stale; run \`make generate\`" >&2; fi
exit $status
