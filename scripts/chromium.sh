#!/usr/bin/env bash
# scripts/chromium.sh: makes sure /usr/bin/chromium exists, for the console's browser test
# (test/stat/console-browser.test.ts calls it when the binary is missing). Debian's chromium package,
# installed with apt-get only (playwright-core never downloads a browser of its own; this machine
# cannot fetch one). Prints the browser's path on success.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

CHROMIUM=/usr/bin/chromium
if [ ! -x "$CHROMIUM" ]; then
  apt_install chromium || die chromium "apt-get install chromium failed" "$KITEQ_SERVICES_DIR/apt.log"
fi
[ -x "$CHROMIUM" ] || die chromium "the chromium package is installed but $CHROMIUM is missing"
echo "$CHROMIUM"
