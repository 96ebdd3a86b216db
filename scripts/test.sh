#!/usr/bin/env bash
# Install (with test tools) and run the whole test suite, slow tests included.
# Pass pytest arguments to narrow it, e.g. scripts/test.sh tests/test_text.py -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --dev
# the LLM path is tested against a real llama.cpp server (built once, ~5 min; then cached)
scripts/install_llm_test_server.sh
# the web app and the HTML eval report are tested in Debian's headless chromium
scripts/install_browser.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False OPENBLAS_NUM_THREADS=1
exec .venv/bin/python -m pytest -m "slow or not slow" "$@"
