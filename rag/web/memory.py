"""Keep a long-running web app's resident memory from creeping up (glibc; elsewhere no-op).

The app answers from many Gradio worker threads. glibc gives threads their own malloc
arenas (up to 8 per core) and keeps each arena's freed memory mapped, so the resident
size of a server that has been up for an hour is its high-water mark in every arena,
not what it uses. Measured in the soak benchmark (docs/BENCHMARKS.md, "Soak"): with the
Python objects stable, RSS still rose about 20 MB a minute under 3 chat users, and
``malloc_trim(0)`` gave 85 MB back at once.

* :func:`limit_malloc_arenas` caps the arenas (``mallopt(M_ARENA_MAX, n)``; the same as
  ``MALLOC_ARENA_MAX=n`` in the environment, which still wins when it is set). Call it
  before the worker threads start.
* :func:`start_trimmer` returns freed memory to the system every ``every_s`` seconds
  (``malloc_trim(0)``, a few milliseconds) from a daemon thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import threading

log = logging.getLogger("hoidap.web")

M_ARENA_MAX = -8  # <malloc.h>


@functools.cache  # find_library may run ldconfig: look it up once
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    # musl and the BSDs have no mallopt/malloc_trim
    if not hasattr(libc, "mallopt") or not hasattr(libc, "malloc_trim"):
        return None
    return libc


def limit_malloc_arenas(n: int = 2) -> bool:
    """Cap glibc's malloc arenas at ``n`` unless ``MALLOC_ARENA_MAX`` is set; True if set."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    libc = _libc()
    return bool(libc is not None and libc.mallopt(M_ARENA_MAX, n) == 1)


def release_free_memory() -> bool:
    """Give freed heap memory back to the system now; True if some was released."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))


def start_trimmer(every_s: float = 60.0) -> threading.Thread | None:
    """A daemon thread that calls :func:`release_free_memory` every ``every_s`` seconds;
    None where the C library has no ``malloc_trim``."""
    libc = _libc()
    if libc is None or every_s <= 0:
        return None
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                libc.malloc_trim(0)
            except Exception:  # never take the app down for this
                log.exception("malloc_trim failed")
                return

    thread = threading.Thread(target=loop, name="hoidap-malloc-trim", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    return thread
