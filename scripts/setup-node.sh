#!/usr/bin/env bash
# Installs the Debian packages the Skiff agent needs to run pods on this machine:
# containerd (with its CRI plugin and `ctr`), runc, the CNI plugins (/usr/lib/cni),
# iptables, ipset (NetworkPolicy), iproute2 and busybox-static (test images are built from /bin/busybox).
# Extra package names given as arguments are installed too (scripts/setup.sh adds the tools
# the tests use). Idempotent and quiet when everything is already installed. Needs root.
set -euo pipefail
PKGS=(containerd runc containernetworking-plugins iptables ipset iproute2 busybox-static "$@")
missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-node: missing Debian packages: ${missing[*]} (run as root: apt-get install -y ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
run() { if ! "$@" >"$log" 2>&1; then cat "$log" >&2; rm -f "$log"; exit 1; fi; }
# --no-install-recommends keeps it small; policy-rc.d stops the package from starting the
# system containerd service (the agent runs its own containerd).
had_policy=0
[ -e /usr/sbin/policy-rc.d ] && had_policy=1
if [ $had_policy -eq 0 ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi
trap '[ $had_policy -eq 0 ] && rm -f /usr/sbin/policy-rc.d; rm -f "$log"' EXIT
run apt-get update -qq
run apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup-node: installed ${missing[*]}"
