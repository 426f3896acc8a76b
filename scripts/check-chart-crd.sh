#!/usr/bin/env bash
# The chart renders the Workspace CRD and the operator's RBAC rules from plain copies in
# charts/codehub/files/ (Helm's .Files cannot reach outside the chart, and symlinks do not
# survive `helm package`). This check fails when a copy differs from what controller-gen
# generates into config/; `scripts/check-chart-crd.sh --fix` refreshes the copies.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=(
  config/crd/bases/codehub.io_workspaces.yaml:charts/codehub/files/codehub.io_workspaces.yaml
  config/rbac/role.yaml:charts/codehub/files/operator-role.yaml
  config/rbac/leader_election_role.yaml:charts/codehub/files/leader-election-role.yaml
)
status=0
for p in "${pairs[@]}"; do
  src=${p%%:*} dst=${p##*:}
  if [ "${1:-}" = --fix ]; then cp "$src" "$dst"; continue; fi
  if ! diff -u "$src" "$dst" >&2; then
    echo "check-chart-crd: $dst differs from $src; run scripts/check-chart-crd.sh --fix" >&2
    status=1
  fi
done
[ "$status" = 0 ] && echo "check-chart-crd: chart copies of the CRD and operator RBAC match config/" >&2
exit "$status"
