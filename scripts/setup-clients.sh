#!/usr/bin/env bash
# Builds and installs the third-party clients the ecosystem tests drive against Skiff
# (issue 14): Helm 3 and Helm 4 and promtool (go install from the Go module proxy), a small
# client-go test program, and a Python venv with the official `kubernetes` client from PyPI.
# Everything lands in one cache dir outside the work tree ($SKIFF_CLIENTS_CACHE, default
# ~/.cache/skiff-clients) keyed by version, so a fresh clone reuses earlier builds; Go's own
# module and build caches make a rebuild after a version bump cheap too.
# Idempotent; prints the cache dir on its last line. Tests that need a missing tool skip.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${SKIFF_CLIENTS_CACHE:-$HOME/.cache/skiff-clients}"
HELM3=v3.21.4
HELM4=v4.3.2
PROMETHEUS=v0.316.0
PY_KUBERNETES=37.0.2
mkdir -p "$CACHE"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() { if ! "$@" >"$log" 2>&1; then tail -40 "$log" >&2; exit 1; fi; }

gobuild() { # <dir> <binary> <package@version>
  if [ ! -x "$CACHE/$1/$2" ]; then
    echo "setup-clients: go install $3" >&2
    GOBIN="$CACHE/$1.tmp" GOFLAGS=-mod=mod CGO_ENABLED=0 run go install "$3"
    mkdir -p "$CACHE/$1" && mv "$CACHE/$1.tmp/$2" "$CACHE/$1/$2" && rmdir "$CACHE/$1.tmp"
  fi
}
if command -v go >/dev/null; then
  gobuild "helm3-$HELM3" helm "helm.sh/helm/v3/cmd/helm@$HELM3"
  gobuild "helm4-$HELM4" helm "helm.sh/helm/v4/cmd/helm@$HELM4"
  gobuild "promtool-$PROMETHEUS" promtool "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS"
  # The client-go program: rebuilt when its source or go.sum changes.
  src=test/clients/go
  sum=$(cat "$src"/go.mod "$src"/go.sum "$src"/*.go | sha256sum | cut -c1-16)
  if [ ! -x "$CACHE/clientgo-$sum/clientgo" ]; then
    echo "setup-clients: building the client-go test program" >&2
    mkdir -p "$CACHE/clientgo-$sum"
    (cd "$src" && CGO_ENABLED=0 run go build -o "$CACHE/clientgo-$sum/clientgo" .)
  fi
  ln -sfn "clientgo-$sum" "$CACHE/clientgo"
else
  echo "setup-clients: no Go toolchain; the Helm, promtool and client-go tests will skip" >&2
fi
if [ ! -x "$CACHE/py-$PY_KUBERNETES/bin/python" ] || ! "$CACHE/py-$PY_KUBERNETES/bin/python" -c "import kubernetes" 2>/dev/null; then
  echo "setup-clients: python venv with kubernetes==$PY_KUBERNETES" >&2
  # Debian's python3 needs python3-venv for `-m venv`.
  if ! python3 -c "import ensurepip, venv" 2>/dev/null && [ "$(id -u)" -eq 0 ]; then
    run apt-get update -qq
    DEBIAN_FRONTEND=noninteractive run apt-get install -y -qq --no-install-recommends python3-venv
  fi
  rm -rf "$CACHE/py-$PY_KUBERNETES"
  run python3 -m venv "$CACHE/py-$PY_KUBERNETES"
  run "$CACHE/py-$PY_KUBERNETES/bin/pip" install -q "kubernetes==$PY_KUBERNETES"
fi
ln -sfn "helm3-$HELM3" "$CACHE/helm3"
ln -sfn "helm4-$HELM4" "$CACHE/helm4"
ln -sfn "promtool-$PROMETHEUS" "$CACHE/promtool"
ln -sfn "py-$PY_KUBERNETES" "$CACHE/py"
echo "$CACHE"
