#!/usr/bin/env bash
# End-to-end tests of the web console in headless Chromium against a real `logport up`.
# Installs what it needs: Debian's chromium (when /usr/bin/chromium is missing) and the pinned
# playwright-core (npm ci into tests/console/node_modules). Screenshots go to
# tests/console/artifacts (git-ignored).
#
#   LOGPORT_BIN   the logport binary (default: builds it, ${CARGO_TARGET_DIR:-target}/debug/logport)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium (Debian)"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi

pinned="$(cd "$here" && node -p "require('./package.json').dependencies['playwright-core']")"
installed="$(cd "$here" && node -p "require('./node_modules/playwright-core/package.json').version" 2>/dev/null || true)"
if [ "$pinned" != "$installed" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --silent)
fi

if [ -z "${LOGPORT_BIN:-}" ]; then
  cargo build -q -p logport
  LOGPORT_BIN="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/debug/logport"
fi

# The signer against the official SDK's signatures, and the search helpers (no browser).
node --test "$here/unit.test.mjs"

rm -rf "$here/artifacts"
LOGPORT_BIN="$LOGPORT_BIN" ARTIFACTS="$here/artifacts" node "$here/console.test.mjs"
