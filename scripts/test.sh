#!/usr/bin/env bash
# Install (with test tools), then lint (ruff), check formatting (ruff format), check types
# (mypy) and run the whole test suite, slow tests included; the first failure stops it.
# Pass pytest arguments to narrow it, e.g. scripts/test.sh tests/test_text.py -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --dev
# the LLM path is tested against a real llama.cpp server (built once, ~5 min; then cached)
scripts/install_llm_test_server.sh
# the web app and the HTML eval report are tested in Debian's headless chromium
scripts/install_browser.sh
# the shared catalog (catalog_url) is tested against a real PostgreSQL server on loopback
scripts/install_postgres.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False OPENBLAS_NUM_THREADS=1
# lint, format and types first: any finding fails the run (each can be run alone, see README)
echo "[hoidap] ruff check" >&2
.venv/bin/ruff check .
echo "[hoidap] ruff format --check" >&2
.venv/bin/ruff format --check .
echo "[hoidap] mypy" >&2
.venv/bin/mypy
exec .venv/bin/python -m pytest -m "slow or not slow" "$@"
