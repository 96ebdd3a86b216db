#!/usr/bin/env bash
# Create .venv and install hoidap with everything it needs, offline-friendly.
# Usage: scripts/install.sh [--dev]     (--dev adds the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
"$PYTHON" - <<'PY' || { echo "hoidap needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
# torch first, pinned: an unpinned torch (asked for by sentence-transformers) pulls GBs of CUDA wheels.
if ! .venv/bin/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null; then
  echo "[hoidap] installing torch 2.13.0 (CPU)..." >&2
  "${PIP[@]}" torch==2.13.0
fi
extra=""
[ "${1:-}" = "--dev" ] && extra="[dev]"
echo "[hoidap] installing hoidap${extra} and its dependencies (pinned by constraints.txt)..." >&2
"${PIP[@]}" -c constraints.txt -e ".${extra}"
