#!/usr/bin/env bash
# Builds KiteQ-TS from a fresh checkout: installs npm dependencies (better-sqlite3 compiles from
# source when no prebuilt binary can be fetched, which takes about a minute) and compiles to dist/.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ]; then
  npm install --no-fund --no-audit --loglevel=error
fi
npx tsc -p tsconfig.build.json
