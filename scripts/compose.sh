#!/usr/bin/env bash
# docker compose with the control plane (docker-compose.yml) and every agent's own compose file
# (services/*/compose.yaml), e.g. `bash scripts/compose.sh up --build --scale data-agent=2`.
# Uses `docker compose` (v2), or `docker-compose` (v1) when that is what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
# Authentication on: the deployment's keys, the nats-server config (listening on the container's
# interfaces; docker-compose.yml publishes the ports on the host's loopback only) and one
# credentials file per role, reused when they exist. Every service mounts .baton/compose/auth/creds.
source scripts/node-env.sh
node cli/src/main.ts auth init --dir .baton/compose/auth --listen 0.0.0.0:4222 --http 0.0.0.0:8222 --store-dir /data/jetstream >&2
files=(-f docker-compose.yml)
for f in services/*/compose.yaml; do files+=(-f "$f"); done
if docker compose version >/dev/null 2>&1; then exec docker compose "${files[@]}" "$@"; fi
exec docker-compose "${files[@]}" "$@"
