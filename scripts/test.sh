#!/usr/bin/env bash
# The whole test suite: installs the real components it runs, checks the contract and the code,
# then runs unit, integration and interop tests. Any missing component fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }

step "test components (Prometheus, node exporter, Keystone, Aetos, Python gRPC)"
bash scripts/install-test-deps.sh

step "contract: buf lint, no breaking change against the frozen v1 image, generated code up to date"
npx buf lint
# contract/metricsaccess-v1.binpb is v1 as first published: from here on the contract can only grow.
npx buf breaking --against contract/metricsaccess-v1.binpb
fresh=$(mktemp -d); trap 'rm -rf "$fresh"' EXIT
npx buf generate --output "$fresh"
if ! diff -r "$fresh/src/gen" src/gen >/dev/null; then
  echo "src/gen is stale: run 'npm run generate' and commit the result" >&2
  diff -r "$fresh/src/gen" src/gen | head -20 >&2
  exit 1
fi

step "format, lint, types"
npx biome check .
npx tsc --noEmit

step "tests"
npx vitest run "$@"
