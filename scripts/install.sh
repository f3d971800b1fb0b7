#!/usr/bin/env bash
# Installs the project's dependencies with Node 24 when node_modules is missing or older than
# the lockfile. `npm install` (not `npm ci`) because npm 11 leaves other platforms' optional
# binaries (biome, oxlint) out of the lockfile and `npm ci` then refuses it; install keeps the
# locked versions all the same (every direct dependency is pinned exactly).
set -euo pipefail
source "$(dirname "$0")/node-env.sh"
cd "$BATON_ROOT"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund
fi
