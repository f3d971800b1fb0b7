#!/usr/bin/env bash
# Installs the project's dependencies with Node 24 when node_modules is missing or older than the
# lockfile, with the standard clean install (`npm ci`: exactly the locked versions).
set -euo pipefail
source "$(dirname "$0")/node-env.sh"
cd "$BATON_ROOT"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
