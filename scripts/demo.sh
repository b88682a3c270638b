#!/usr/bin/env bash
# The service in front of a real local Prometheus loaded with a sample fleet. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh demo
exec npx tsx scripts/demo.ts
