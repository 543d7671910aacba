#!/usr/bin/env bash
# Builds KiteQ-TS from a fresh checkout: installs npm dependencies (better-sqlite3 compiles from
# source when no prebuilt binary can be fetched, which takes about a minute) and compiles to dist/.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ]; then
  npm install --no-fund --no-audit --loglevel=error
fi
npx tsc -p tsconfig.build.json
# the web console is served as static files next to the compiled stat/ (uPlot included: no CDN)
mkdir -p dist/stat/console/vendor
cp stat/console/index.html stat/console/app.js stat/console/style.css dist/stat/console/
cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css node_modules/uplot/LICENSE dist/stat/console/vendor/
