#!/usr/bin/env bash
# Sets up a fresh machine, builds dist/skiff and starts a single-node cluster.
# Extra arguments go to `skiff server` (e.g. --data-dir /tmp/skiff --https-listen-port 7443).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node_modules/.bin/bun run build
exec dist/skiff server "$@"
