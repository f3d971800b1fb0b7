#!/usr/bin/env bash
# The test command (README): installs dependencies with Node 24, then type-checks, lints,
# checks formatting and runs every vitest project (unit, then integration with real
# nats-server and service processes). Needs nats-server on PATH.
set -euo pipefail
export TURBO_TELEMETRY_DISABLED=1
source "$(dirname "$0")/node-env.sh"
cd "$BATON_ROOT"
bash scripts/install.sh
if ! command -v nats-server >/dev/null; then
  echo "nats-server is not on PATH: install it (Debian/Ubuntu: sudo apt-get install nats-server)" >&2
  exit 1
fi
echo "== node $(node --version), $(nats-server --version)"
echo "== typecheck"; npm run typecheck
echo "== lint"; npx oxlint --type-aware -c .oxlintrc.json --quiet
echo "== format"; npx biome format .
echo "== tests"; npx vitest run "$@"
