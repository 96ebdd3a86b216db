"""SQLite helpers shared by the embedding cache (``embeddings.cache``) and the catalog
(``rag.index.catalog``): one busy timeout and a WAL switch that survives a race on a new file."""

from __future__ import annotations

import sqlite3
import time

BUSY_TIMEOUT_S = 30.0


def enable_wal(con: sqlite3.Connection) -> None:
    """Put the database in WAL mode. On a new file the switch needs the database to
    itself and SQLite fails at once ("database is locked") instead of waiting, so two
    connections opened together on a new file (two uploads at once, or an upload and an
    evaluation) retry until the busy timeout. WAL is stored in the file: afterwards this
    is a no-op that never waits. Used by this cache and by ``rag.index.catalog``."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            con.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                con.close()
                raise
            time.sleep(0.02)
