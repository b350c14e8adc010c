#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard's browser tests (test/e2e/dashboard.test.ts drives
# it through playwright-core; no browser is downloaded from anywhere else). Idempotent and quiet
# when it is already installed. Needs root.
set -euo pipefail
if dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed" && [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-browser: Debian package chromium missing (run as root: apt-get install -y chromium)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() { if ! "$@" >"$log" 2>&1; then cat "$log" >&2; exit 1; fi; }
run apt-get update -qq
# --no-install-recommends: no fonts-liberation/upower/… extras; the dashboard uses system fonts.
run apt-get install -y -qq --no-install-recommends chromium
echo "setup-browser: installed chromium"
