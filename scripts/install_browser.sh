#!/usr/bin/env bash
# Browser tests (web app, HTML eval report) drive Debian's headless Chromium through Playwright.
# Playwright's own browser download needs the internet, so we use the distribution's package.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
echo "[hoidap] installing Debian chromium for the browser tests..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
/usr/bin/chromium --version >&2
