"""rag.web.memory: the glibc arena cap and the trimmer of a long-running app."""

import ctypes
import platform
import subprocess
import sys
import time

import pytest

from rag.web import memory

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@glibc
def test_trim_gives_freed_memory_back() -> None:
    """Many small blocks freed in the middle of the heap stay resident until trimmed."""
    blocks = [ctypes.create_string_buffer(b"x" * 4000, 4096) for _ in range(40_000)]
    keep = blocks[-1:]  # the heap's top stays in use, so free() alone cannot shrink it
    del blocks
    before = _rss_mb()
    assert memory.release_free_memory()
    assert _rss_mb() < before - 50  # about 160 MB was freed
    assert keep


@glibc
def test_trimmer_thread_runs_and_stops() -> None:
    thread = memory.start_trimmer(every_s=0.05)
    assert thread is not None and thread.daemon and thread.name == "hoidap-malloc-trim"
    time.sleep(0.2)
    assert thread.is_alive()
    thread.stop.set()  # type: ignore[attr-defined]
    thread.join(timeout=2)
    assert not thread.is_alive()
    assert memory.start_trimmer(every_s=0) is None


@glibc
def test_arena_cap_respects_the_environment() -> None:
    code = "from rag.web.memory import limit_malloc_arenas as f; print(f())"
    run = [sys.executable, "-c", code]
    plain = subprocess.run(run, capture_output=True, text=True, check=True, env={})
    assert plain.stdout.strip() == "True"
    env = {"MALLOC_ARENA_MAX": "4"}
    preset = subprocess.run(run, capture_output=True, text=True, check=True, env=env)
    assert preset.stdout.strip() == "False"  # the operator's setting wins


def test_no_op_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_libc", lambda: None)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert not memory.limit_malloc_arenas()
    assert not memory.release_free_memory()
    assert memory.start_trimmer() is None
