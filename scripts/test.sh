#!/usr/bin/env bash
# Sets up a fresh machine and runs the whole test suite: typecheck, unit, integration and
# end-to-end tests (real server processes, the real kubectl).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
echo "== typecheck"
tsc --noEmit -p .
tsc --noEmit -p dashboard
echo "== build dist/skiff"
bun run build
echo "== bun test"
bun test "$@"
