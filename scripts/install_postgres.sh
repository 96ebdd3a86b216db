#!/usr/bin/env bash
# The shared-catalog tests (tests/test_shared_catalog.py) start a real PostgreSQL server on
# loopback from Debian's package (initdb + pg_ctl in a temporary folder; nothing system-wide
# is started or configured).
set -euo pipefail
if command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
echo "[hoidap] installing Debian postgresql for the shared-catalog tests..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
compgen -G "/usr/lib/postgresql/*/bin/initdb" >&2
