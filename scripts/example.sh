#!/usr/bin/env bash
# The example command (README): installs dependencies with Node 24, starts a private
# nats-server and the five services, runs examples/seattle-weather-brief.json end to end with
# live progress, prints the report, and stops everything. Needs nats-server on PATH.
set -euo pipefail
source "$(dirname "$0")/node-env.sh"
cd "$BATON_ROOT"
bash scripts/install.sh
exec node cli/src/main.ts run --up --plan "${1:-examples/seattle-weather-brief.json}"
