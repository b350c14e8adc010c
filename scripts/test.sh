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
if [ $# -eq 0 ]; then
  # Issue 16: the API, watch, kubectl and controller suites again over each external datastore
  # (the harnesses start an etcd / a PostgreSQL of their own for SKIFF_TEST_DATASTORE).
  STORE_SUITES=(test/unit/controllers-*.test.ts test/unit/scheduler-filters.test.ts test/e2e/kubectl.test.ts
    test/e2e/controllers.test.ts test/e2e/client-node.test.ts test/e2e/rbac.test.ts
    test/e2e/security-requests.test.ts test/e2e/durability.test.ts)
  for ds in etcd postgres; do
    echo "== bun test (store suites on $ds)"
    SKIFF_TEST_DATASTORE=$ds bun test "${STORE_SUITES[@]}"
  done
fi
