#!/usr/bin/env bash
# One command on a fresh machine: install, index the default corpus (offline), show the index,
# then serve the web app on http://127.0.0.1:7860 (web_host / web_port in the settings).
# Data goes to $HOIDAP_HOME (default ~/.hoidap). Extra arguments are passed to `hoidap ingest`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False GRADIO_ANALYTICS_ENABLED=False
.venv/bin/hoidap ingest corpus/articles "$@"
.venv/bin/hoidap stats
exec .venv/bin/python app.py
