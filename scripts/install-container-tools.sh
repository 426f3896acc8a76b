#!/usr/bin/env bash
# Ensures the Debian packages that build and run the project's images and the test node:
#   images: buildah podman runc skopeo umoci mmdebstrap uidmap
#   node:   containerd runc containernetworking-plugins iptables conntrack socat
# System packages (apt), not the cache. Prints nothing on stdout but the word "ok".
# About 30-60 s the first time.
#   --check  only report whether every package is installed (exit 1 and name what is not).
set -euo pipefail
packages=(buildah podman runc skopeo umoci mmdebstrap uidmap containerd containernetworking-plugins iptables conntrack socat)
missing() {
  local p
  for p in "${packages[@]}"; do
    dpkg-query -W -f '${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed || echo "$p"
  done
}
gone=$(missing)
if [ "${1:-}" = --check ]; then
  [ -z "$gone" ] && exit 0
  echo "install-container-tools: not installed: $(echo $gone)" >&2; exit 1
fi
if [ -n "$gone" ]; then
  echo "install-container-tools: installing $(echo $gone) (Debian packages)" >&2
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends $gone >&2 ||
    { apt-get -o DPkg::Lock::Timeout=600 update >&2 &&
      apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends $gone >&2; }
  # The Debian containerd package enables and starts a system containerd (systemd); the node
  # fixture runs its own with its own sockets and dirs, so a system one is not wanted.
  gone=$(missing)
  [ -z "$gone" ] || { echo "install-container-tools: still missing: $gone" >&2; exit 1; }
fi
echo ok
