#!/usr/bin/env bash
# Installs everything Skiff needs to build and test on a fresh Debian 12 machine:
# npm packages (Bun itself comes from npm) and the Debian tools the tests use.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
# The `bun` npm package ships the binary via a postinstall script; run it if npm skipped it.
if ! node_modules/.bin/bun --version >/dev/null 2>&1; then
  (cd node_modules/bun && node install.js)
fi
node_modules/.bin/bun --version >/dev/null
# Debian packages for the agent (containerd, runc, CNI plugins, iptables, busybox-static for test
# images), and for the tests: qemu-user-static with the arm64 libc runs dist/skiff-arm64 under
# user emulation, ipset and systemd's systemd-analyze check what `skiff install|uninstall` do.
# etcd-server and postgresql: the external datastores (tests start their own, on loopback).
TEST_PKGS=(qemu-user-static libc6-arm64-cross ipset systemd etcd-server postgresql)
if [ "$(id -u)" -eq 0 ]; then
  bash scripts/setup-node.sh "${TEST_PKGS[@]}"
elif ! bash scripts/setup-node.sh "${TEST_PKGS[@]}"; then
  # Without root the control plane still builds and runs; tests that need containerd say so and skip.
  echo "setup: continuing without the agent's Debian packages (not root)" >&2
fi
# Debian's Chromium for the dashboard's browser test (driven by playwright-core; no browser download).
if [ "$(id -u)" -eq 0 ]; then
  bash scripts/setup-browser.sh
elif ! bash scripts/setup-browser.sh; then
  echo "setup: continuing without chromium (not root); test/e2e/dashboard.test.ts will skip" >&2
fi
# Helm 3 and 4, promtool, the client-go test program and the Python client for the ecosystem
# tests (issue 14), built once into a cache outside the work tree; without Go or Python those
# tests skip and say why.
if ! bash scripts/setup-clients.sh >/dev/null; then
  echo "setup: continuing without the third-party clients; test/e2e/{helm,clients}.test.ts will skip them" >&2
fi
