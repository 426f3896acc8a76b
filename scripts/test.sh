#!/usr/bin/env bash
# The one test command (`make test`): installs and caches every real component the tests
# use (code-server, Chromium, etcd + kube-apiserver + kubectl + the node's kubelet, kube-proxy,
# kube-controller-manager and kube-scheduler, helm, the three images), lints, then runs every
# test. Each install script checks every file it produces, so a damaged cache is rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
CODEHUB_CODE_SERVER=${CODEHUB_CODE_SERVER:-$(scripts/install-code-server.sh)}
CODEHUB_CHROMIUM=${CODEHUB_CHROMIUM:-$(scripts/install-chromium.sh)}
KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS:-$(scripts/install-control-plane.sh)}
CODEHUB_HELM=${CODEHUB_HELM:-$(scripts/install-helm.sh)}
# buildah, podman, containerd, runc, CNI plugins, iptables (Debian packages), then the three
# images built for real (each rebuilt only when its inputs changed).
scripts/install-container-tools.sh >/dev/null
CODEHUB_IMAGES=${CODEHUB_IMAGES:-$(scripts/build-images.sh)}
# Assigned, then exported: `export X=$(cmd)` would hide cmd's failure from set -e, and the
# tests would run without the part it failed to build.
export CODEHUB_CODE_SERVER CODEHUB_CHROMIUM KUBEBUILDER_ASSETS CODEHUB_HELM CODEHUB_IMAGES
# Screenshots of the browser tests stay after the run (out/ is not tracked).
export CODEHUB_ARTIFACTS=${CODEHUB_ARTIFACTS:-$PWD/out/test-artifacts}
for check in scripts/check-*.sh; do [ -x "$check" ] && "$check"; done
scripts/lint.sh
# The suites that start code-server, Chromium, pods or images (cmd/codehub-init, test/...) run
# one package at a time (-p 1 on 2 cores: they must not starve each other); beside them, the
# unit and envtest packages run in their own go test, done within the first minutes.
# -parallel 4: the tests marked parallel mostly wait for real timeouts (the idle tests of
# test/e2e, the start failures of test/onnode); GOMAXPROCS (2) would run them two by two.
heavy=$(go list ./... | grep -e '/test/' -e '/cmd/codehub-init$')
light=$(go list ./... | grep -v -e '/test/' -e '/cmd/codehub-init$')
light_log=$(mktemp)
trap 'rm -f "$light_log"' EXIT
go test -count=1 -p 1 -timeout 20m "$@" $light >"$light_log" 2>&1 &
light_pid=$!
heavy_rc=0
go test -count=1 -p 1 -parallel 4 -timeout 40m "$@" $heavy || heavy_rc=$?
light_rc=0
wait "$light_pid" || light_rc=$?
cat "$light_log"
[ "$heavy_rc" = 0 ] && [ "$light_rc" = 0 ]
