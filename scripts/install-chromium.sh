#!/usr/bin/env bash
# Ensures a headless-capable Chromium for the browser tests (Debian package).
# Prints the binary path on stdout.
set -euo pipefail
if [ -n "${CODEHUB_CHROMIUM:-}" ] && [ -x "$CODEHUB_CHROMIUM" ]; then echo "$CODEHUB_CHROMIUM"; exit 0; fi
if ! command -v chromium >/dev/null 2>&1; then
  echo "install-chromium: installing Debian's chromium (~2 minutes)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 install -y chromium fonts-liberation >&2 ||
    { apt-get -o DPkg::Lock::Timeout=600 update >&2 && apt-get -o DPkg::Lock::Timeout=600 install -y chromium fonts-liberation >&2; }
fi
command -v chromium
