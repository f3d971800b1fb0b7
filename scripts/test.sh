#!/usr/bin/env bash
# The test command (README): installs dependencies with Node 24, then type-checks, lints,
# checks formatting and runs every vitest project (unit, then integration with real
# nats-server and service processes, then chaos: the same processes SIGKILLed under load).
# Needs nats-server on PATH.
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
# The chaos suite at CI size: CHAOS_TASKS tasks in its main scenario (about 3 minutes on 2 cores);
# raise it for a longer soak (e.g. CHAOS_TASKS=200 npm run test:chaos).
export CHAOS_TASKS="${CHAOS_TASKS:-40}"
echo "== tests"; npx vitest run "$@"
