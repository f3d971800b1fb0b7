#!/usr/bin/env bash
# docker compose with the control plane (docker-compose.yml) and every agent's own compose file
# (services/*/compose.yaml), e.g. `bash scripts/compose.sh up --build --scale data-agent=2`.
# Uses `docker compose` (v2), or `docker-compose` (v1) when that is what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
files=(-f docker-compose.yml)
for f in services/*/compose.yaml; do files+=(-f "$f"); done
if docker compose version >/dev/null 2>&1; then exec docker compose "${files[@]}" "$@"; fi
exec docker-compose "${files[@]}" "$@"
