"""PostgreSQL for the catalog of replicas on several machines (``catalog_url``).

With ``catalog_url = "postgresql://USER@HOST:PORT/DB"`` (and ``chroma_url``), the catalog of
each index lives in one PostgreSQL schema of that database instead of ``catalog.sqlite``,
so app replicas on different machines share the articles, chunks, change log and
generation; each replica keeps its BM25 segments in its own home as a local cache that
catches up from the shared change log (``Index.bm25``).

This module is the PostgreSQL side only: a connection that speaks the catalog's SQL
(``?`` placeholders), the schema name of an index, and the advisory locks that the
catalog's transactions and ``Index.writer_lock`` take.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Sequence
from typing import Any

from corpus.errors import HoidapError

CONNECT_TIMEOUT_S = 10


class CatalogUnavailable(HoidapError, RuntimeError):
    """The shared catalog's PostgreSQL server cannot be reached or used."""


def schema_name(index: str, model_dir: str) -> str:
    """The PostgreSQL schema of one index folder: readable, <= 63 bytes, unique."""
    base = re.sub(r"[^a-z0-9_]+", "_", f"{index}_{model_dir}".lower()).strip("_")
    digest = hashlib.sha1(f"{index}\0{model_dir}".encode()).hexdigest()[:8]
    return f"hoidap_{base[:45]}_{digest}"


def redact(url: str) -> str:
    return re.sub(r"://([^:@/]+):[^@/]*@", r"://\1:***@", url)


class PgConnection:
    """One psycopg connection (autocommit; transactions are explicit ``BEGIN``) that takes
    the catalog's SQLite-style ``?`` placeholders, with the catalog's schema first on the
    search path."""

    def __init__(self, url: str, schema: str) -> None:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - psycopg is a dependency
            raise CatalogUnavailable(
                "catalog_url cần gói psycopg: chạy lại scripts/install.sh"
            ) from exc
        try:
            self._con = psycopg.connect(
                url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name=f"hoidap pid {os.getpid()}@{socket.gethostname()}",
            )
        except psycopg.Error as exc:
            raise CatalogUnavailable(
                f"Không kết nối được cơ sở dữ liệu danh mục {redact(url)} ({exc}). Hãy kiểm "
                "tra xem máy chủ PostgreSQL có đang chạy không, và giá trị catalog_url trong "
                "settings.toml."
            ) from exc
        # the schema itself is created once, under a lock, by Catalog (two replicas
        # starting together would race on CREATE SCHEMA IF NOT EXISTS)
        self._con.execute(f'SET search_path TO "{schema}"')

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._con.execute(self._sql(sql), params or None)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        cur = self._con.cursor()
        cur.executemany(self._sql(sql), rows)
        return cur

    def executescript(self, script: str) -> None:
        self._con.execute(script)

    def close(self) -> None:
        self._con.close()


def lock_key(schema: str, what: str) -> int:
    """An advisory-lock key (a signed 64-bit integer): ``what`` = "writers" (ingest and
    delete, held for their whole run) or "transaction" (one catalog write transaction).
    Two keys, because a writer holds the first while its transactions take the second."""
    digest = hashlib.sha1(f"{schema}\0{what}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def try_advisory_lock(con: PgConnection, key: int) -> bool:
    """Take the session advisory lock ``key`` on ``con`` if it is free (held until ``con``
    closes, so it goes away with a process that dies)."""
    return bool(con.execute("SELECT pg_try_advisory_lock(?)", (key,)).fetchone()[0])


def advisory_holder(con: PgConnection, key: int) -> str:
    """The holder of the advisory lock ``key`` as "PID@HOST", or "?"."""
    row = con.execute(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a"
        " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
        " AND l.classid::bigint = ? AND l.objid::bigint = ? AND l.objsubid = 1",
        ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
    ).fetchone()
    return str(row[0]).removeprefix("hoidap pid ") if row else "?"
