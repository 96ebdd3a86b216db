"""rag.index.catalog: per-thread SQLite connections are closed, not left to the GC."""

import gc
import os
import threading
from pathlib import Path

from rag.index.catalog import Catalog
from tests.running import at_once


def _open_files(path: Path) -> int:
    fd_dir = Path("/proc/self/fd")
    n = 0
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(fd_dir / fd).startswith(str(path)):
                n += 1
        except OSError:
            continue
    return n


def _read_in_thread(cat: Catalog) -> None:
    t = threading.Thread(target=lambda: cat.get_meta("schema"))
    t.start()
    t.join()


def test_connections_of_ended_threads_are_closed(tmp_path: Path) -> None:
    gc.disable()  # the garbage collector must not be what closes them
    try:
        cat = Catalog(tmp_path / "catalog.sqlite")
        for _ in range(20):
            _read_in_thread(cat)
        # the 20 ended threads' connections were closed as the next ones connected
        assert cat.open_connections() <= 2
        if Path("/proc/self/fd").is_dir():
            assert _open_files(tmp_path) <= 2 * 3  # db, -wal and -shm per connection
        assert cat.get_meta("schema") is not None
    finally:
        gc.enable()


def test_close_closes_every_thread_and_reconnects(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "catalog.sqlite")
    ready, done = threading.Event(), threading.Event()

    def reader() -> None:
        cat.get_meta("schema")
        ready.set()
        done.wait(10)

    t = threading.Thread(target=reader)
    t.start()
    ready.wait(10)
    assert cat.open_connections() == 2  # this thread's and the reader's
    cat.close()
    assert cat.open_connections() == 0
    if Path("/proc/self/fd").is_dir():
        assert _open_files(tmp_path) == 0
    done.set()
    t.join()
    cat.set_meta("k", "v")  # a call after close() reconnects
    assert cat.get_meta("k") == "v" and cat.open_connections() == 1
    cat.close()


def test_catalogs_opened_at_once_on_a_new_file(tmp_path: Path) -> None:
    """Two uploads at once on a new index open two catalogs together: switching the new
    file to WAL must wait for the other connection, not fail with 'database is locked'."""

    def open_catalog(path: Path) -> None:
        cat = Catalog(path)
        cat.set_meta("opened", "1")
        cat.close()

    errors: list[BaseException] = []
    for round_ in range(20):
        errors += at_once(6, open_catalog, tmp_path / f"r{round_}" / "catalog.sqlite")
    assert errors == []
