"""The catalog: which articles and chunks are live in an index (SQLite, WAL; or PostgreSQL).

The catalog is the index's source of truth. Chroma holds vectors, the BM25 file is derived
from the catalog, and readers trust only chunk ids the catalog lists. Every write is one
transaction that bumps ``generation``, so a process killed at any moment leaves either the
old or the new state of an article, never a mix.

The catalog is a SQLite file in the index folder, or, with ``catalog_url``, one schema of a
PostgreSQL database shared by replicas on several machines (``rag.index.pg``). The SQL is
the same for both (``ON CONFLICT`` upserts, ``?`` placeholders); only the transactions
differ: SQLite's ``BEGIN IMMEDIATE`` / ``BEGIN``, PostgreSQL's advisory transaction lock /
``REPEATABLE READ``, so a multi-statement read sees one generation on both.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from corpus.sqlite import BUSY_TIMEOUT_S, enable_wal
from corpus.types import Article, Chunk
from rag.index.pg import PgConnection, lock_key, redact

Connection = sqlite3.Connection | PgConnection

# 2: the ``changes`` table (which articles changed in which generation), so the lexical
# index catches up with an article's cost. A v1 catalog is migrated in place on open: its
# ``changes_floor`` is set to its generation (older changes are unknown: one full rebuild).
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    date TEXT,
    date_precision TEXT,
    source TEXT,
    url TEXT,
    author TEXT,
    places TEXT NOT NULL,
    path TEXT,
    removed TEXT NOT NULL,
    n_chunks INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    embed_text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks(article_id, ordinal);
CREATE INDEX IF NOT EXISTS articles_by_path ON articles(path);
CREATE TABLE IF NOT EXISTS changes (article_id TEXT PRIMARY KEY, generation INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS changes_by_generation ON changes(generation);
"""


@dataclass(frozen=True)
class ArticleState:
    """What ingest needs to decide whether an input changed."""

    fingerprint: str
    pipeline: str
    version: str
    path: str | None


@dataclass(frozen=True)
class Changes:
    """``Catalog.changes_since``: what a derived index needs to catch up, read together."""

    generation: int
    article_ids: tuple[str, ...]  # changed (added, replaced or deleted) since the asked one
    chunks: tuple[Chunk, ...]  # the current chunks of those articles
    n_chunks: int  # live chunks in the whole catalog


@dataclass(frozen=True)
class ArticleMeta:
    id: str
    title: str
    date: str | None
    date_precision: str | None
    source: str | None
    url: str | None
    places: tuple[str, ...]


class Catalog:
    """Thread-safe wrapper around one SQLite file, or one PostgreSQL schema at ``url``
    (one connection per thread).

    Connections are tracked: one whose thread has ended is closed when the next thread
    connects, and :meth:`close` closes them all. (Left to the garbage collector, a web app
    whose worker threads come and go held about 90 catalog connections, 180 open files,
    after 10 minutes of the soak benchmark.)
    """

    def __init__(self, path: Path, *, url: str = "", schema: str = "") -> None:
        """``path``: the SQLite file; with ``url`` (PostgreSQL), the catalog is the
        database's ``schema`` instead and ``path`` is not used."""
        self.path = path
        self.url, self.schema = url, schema
        if not url:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conns: dict[int, tuple[threading.Thread, Connection]] = {}
        self._conns_lock = threading.Lock()
        self._epoch = 0  # bumped by close(): thread-local connections from before are stale
        if url:  # replicas may start together: create the schema under the writers' lock
            with self._tx() as con:
                con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                con.executescript(_SCHEMA.replace(" REAL ", " DOUBLE PRECISION "))
        else:
            self._con().executescript(_SCHEMA)  # executescript commits by itself
        with self._tx() as con:
            new = "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO NOTHING"
            con.execute(new, ("schema", str(SCHEMA_VERSION)))
            con.execute(new, ("generation", "0"))
            con.execute(
                "INSERT INTO meta SELECT 'changes_floor', value FROM meta"
                " WHERE key='generation' ON CONFLICT (key) DO NOTHING"
            )
            con.execute(new, ("catalog_id", uuid.uuid4().hex))
            if con.execute("SELECT 1 FROM meta WHERE key='n_chunks'").fetchone() is None:
                _count_chunks(con)  # once, for a catalog made before the count was kept
            con.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))

    @property
    def where(self) -> str:
        """Where the catalog lives, for messages and ``hoidap stats``."""
        if not self.url:
            return str(self.path)
        return f"{redact(self.url)} (schema {self.schema})"

    # -- connection handling -------------------------------------------------
    def _connect(self) -> Connection:
        if self.url:
            return PgConnection(self.url, self.schema)
        # check_same_thread=False only so that close() and the sweep may close a
        # connection from another thread; each one is used by its own thread only
        con = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        enable_wal(con)
        con.execute("PRAGMA synchronous=FULL")
        return con

    def _con(self) -> Connection:
        con = getattr(self._local, "con", None)
        if con is None or getattr(self._local, "epoch", -1) != self._epoch:
            con = self._connect()
            with self._conns_lock:
                for key, (thread, old) in list(self._conns.items()):
                    if not thread.is_alive():
                        old.close()
                        del self._conns[key]
                self._conns[id(con)] = (threading.current_thread(), con)
            self._local.con, self._local.epoch = con, self._epoch
        return con

    def _tx(self) -> _Transaction:
        """A write transaction: writers of this catalog wait for each other at BEGIN."""
        if self.url:
            return _Transaction(self._con(), "BEGIN", lock_key(self.schema, "transaction"))
        return _Transaction(self._con(), "BEGIN IMMEDIATE")

    def _read(self) -> _Transaction:
        """A read transaction: its statements see one state of the catalog."""
        if self.url:
            return _Transaction(self._con(), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _Transaction(self._con(), "BEGIN")

    def open_connections(self) -> int:
        with self._conns_lock:
            return len(self._conns)

    def close(self) -> None:
        """Close every connection of this catalog (a later call reconnects)."""
        with self._conns_lock:
            self._epoch += 1
            for _thread, con in self._conns.values():
                con.close()
            self._conns.clear()
        self._local.con = None

    # -- meta ------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._con().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as con:
            con.execute(_SET_META, (key, value))

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    def write_state(self) -> tuple[int, str | None]:
        """(generation, token of the process that made the last write), read together."""
        rows = dict(
            self._con()
            .execute("SELECT key, value FROM meta WHERE key IN ('generation', 'writer')")
            .fetchall()
        )
        return int(rows.get("generation") or 0), rows.get("writer")

    def bump(self, writer: str | None = None) -> None:
        """A new generation without other changes (readers re-check what they cached)."""
        with self._tx() as con:
            _bump(con, writer)

    # -- writes ------------------------------------------------------------------
    def replace_articles(
        self,
        items: Sequence[tuple[Article, str, str, Sequence[Chunk]]],
        writer: str | None = None,
    ) -> list[str]:
        """Make each (article, version, pipeline, chunks) live, atomically for the batch.

        Returns the chunk ids that were live before and are not any more (the caller
        deletes them from the vector store). ``writer`` names the writing process (see
        ``write_state``).
        """
        stale: list[str] = []
        now = time.time()
        with self._tx() as con:
            delta = 0
            for article, version, pipeline, chunks in items:
                old = {
                    r[0]
                    for r in con.execute("SELECT id FROM chunks WHERE article_id=?", (article.id,))
                }
                new = {c.id for c in chunks}
                stale.extend(sorted(old - new))
                delta += len(chunks) - len(old)
                con.execute("DELETE FROM chunks WHERE article_id=?", (article.id,))
                con.executemany(
                    "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (c.id, c.article_id, c.ordinal, c.start, c.end, c.text, c.embed_text)
                        for c in chunks
                    ],
                )
                con.execute("DELETE FROM articles WHERE id=?", (article.id,))
                con.execute(
                    "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        article.id,
                        version,
                        article.fingerprint,
                        pipeline,
                        article.title,
                        article.text,
                        article.date,
                        article.date_precision,
                        article.source,
                        article.url,
                        article.author,
                        json.dumps(list(article.places), ensure_ascii=False),
                        article.path,
                        json.dumps(list(article.removed_lines), ensure_ascii=False),
                        len(chunks),
                        now,
                    ),
                )
            _add_chunks(con, delta)
            _record(con, [a.id for a, *_ in items], _bump(con, writer))
        return stale

    def delete_articles(
        self, ids: Iterable[str], writer: str | None = None
    ) -> tuple[list[str], list[str]]:
        """Remove articles; returns (deleted article ids, their chunk ids)."""
        deleted: list[str] = []
        chunk_ids: list[str] = []
        with self._tx() as con:
            for aid in ids:
                chunk_ids.extend(
                    r[0] for r in con.execute("SELECT id FROM chunks WHERE article_id=?", (aid,))
                )
                if con.execute("DELETE FROM articles WHERE id=?", (aid,)).rowcount:
                    deleted.append(aid)
                con.execute("DELETE FROM chunks WHERE article_id=?", (aid,))
            if chunk_ids:
                _add_chunks(con, -len(chunk_ids))
            if deleted:
                _record(con, deleted, _bump(con, writer))
        return deleted, chunk_ids

    # -- reads -------------------------------------------------------------------
    def states(
        self, ids: Sequence[str] | None = None, *, path: str | None = None
    ) -> dict[str, ArticleState]:
        """Ingest state of every article, of those of ``ids`` that exist, or of those read
        from ``path`` (an upload or a delete asks for its own articles only: reading all
        of them grows with the corpus)."""
        sql = "SELECT id, fingerprint, pipeline, version, path FROM articles"
        con = self._con()
        if path is not None:
            rows = con.execute(sql + " WHERE path = ?", (path,))
        else:
            rows = (
                con.execute(sql) if ids is None else _rows_in(con, sql + " WHERE id IN ({})", ids)
            )
        return {r[0]: ArticleState(r[1], r[2], r[3], r[4]) for r in rows}

    def article_ids(self) -> list[str]:
        return [r[0] for r in self._con().execute("SELECT id FROM articles ORDER BY id")]

    def get_article(self, article_id: str) -> Article | None:
        row = (
            self._con()
            .execute(
                "SELECT id, title, text, date, date_precision, source, url, author, places, path,"
                " fingerprint, removed FROM articles WHERE id=?",
                (article_id,),
            )
            .fetchone()
        )
        return None if row is None else _article(row)

    def article_meta(self, ids: Sequence[str] | None = None) -> dict[str, ArticleMeta]:
        """Display and filter metadata of every article, or of those of ``ids`` that exist
        (without the texts)."""
        sql = "SELECT id, title, date, date_precision, source, url, places FROM articles"
        con = self._con()
        rows = con.execute(sql) if ids is None else _rows_in(con, sql + " WHERE id IN ({})", ids)
        return {
            r[0]: ArticleMeta(r[0], r[1], r[2], r[3], r[4], r[5], tuple(json.loads(r[6])))
            for r in rows
        }

    def article_text(self, article_id: str) -> str | None:
        row = self._con().execute("SELECT text FROM articles WHERE id=?", (article_id,)).fetchone()
        return None if row is None else str(row[0])

    def chunks_of(self, article_id: str) -> list[Chunk]:
        rows = self._con().execute(
            'SELECT id, article_id, ordinal, text, start, "end", embed_text FROM chunks'
            " WHERE article_id=? ORDER BY ordinal",
            (article_id,),
        )
        return [Chunk(*r) for r in rows]

    def get_chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        sql = 'SELECT id, article_id, ordinal, text, start, "end", embed_text FROM chunks'
        return {r[0]: Chunk(*r) for r in _rows_in(self._con(), sql + " WHERE id IN ({})", ids)}

    def snapshot(self) -> tuple[int, list[Chunk]]:
        """(generation, all live chunks) read in one transaction, so they agree."""
        with self._read() as con:
            gen = int(con.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
            chunks = [
                Chunk(*r)
                for r in con.execute(
                    'SELECT id, article_id, ordinal, text, start, "end", embed_text FROM chunks'
                    " ORDER BY article_id, ordinal"
                )
            ]
        return gen, chunks

    @property
    def catalog_id(self) -> str:
        """Random id given at creation: a derived index made from another catalog (a
        restored or re-created home) is told apart even at the same generation."""
        return self.get_meta("catalog_id") or ""

    def changes_since(self, generation: int, chunks: bool = True) -> Changes | None:
        """What changed after ``generation``, in one read transaction; None when the
        catalog cannot tell (older than its change log, or a generation it never had).
        ``chunks=False``: the changed article ids only (``Changes.chunks`` left empty)."""
        with self._read() as con:
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
            gen, floor = int(meta["generation"]), int(meta.get("changes_floor") or 0)
            if generation < floor or generation > gen:
                return None
            # sorted here: with ORDER BY in SQL, SQLite walks the whole table in key order
            # instead of the generation index (70 ms at 430k articles, for one change)
            aids = tuple(
                sorted(
                    r[0]
                    for r in con.execute(
                        "SELECT article_id FROM changes WHERE generation > ?", (generation,)
                    )
                )
            )
            sql = 'SELECT id, article_id, ordinal, text, start, "end", embed_text FROM chunks'
            order = " WHERE article_id IN ({}) ORDER BY article_id, ordinal"
            current = [Chunk(*r) for r in _rows_in(con, sql + order, aids if chunks else ())]
            n = int(meta["n_chunks"])
        return Changes(gen, aids, tuple(current), n)

    def recount(self) -> int:
        """Count the live chunks again and keep that count (``changes_since`` reports the
        kept one, which each write adjusts, so as not to count a large catalog each time)."""
        with self._tx() as con:
            return _count_chunks(con)

    def live_view(
        self, chunk_ids: Sequence[str], article_ids: Sequence[str]
    ) -> tuple[int, set[str], dict[str, ArticleMeta], dict[str, str]]:
        """(generation, the chunk ids still live, metadata and texts of the articles), read
        in one transaction: what it returns belongs to one generation, so a chunk that is
        live here matches the article text and title returned with it."""
        with self._read() as con:
            gen = int(con.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
            live: set[str] = set()
            metas: dict[str, ArticleMeta] = {}
            texts: dict[str, str] = {}
            ids = list(dict.fromkeys(chunk_ids))
            live.update(r[0] for r in _rows_in(con, "SELECT id FROM chunks WHERE id IN ({})", ids))
            for aid in dict.fromkeys(article_ids):
                row = con.execute(
                    "SELECT id, title, date, date_precision, source, url, places, text"
                    " FROM articles WHERE id=?",
                    (aid,),
                ).fetchone()
                if row is not None:
                    metas[aid] = ArticleMeta(
                        row[0], row[1], row[2], row[3], row[4], row[5], tuple(json.loads(row[6]))
                    )
                    texts[aid] = str(row[7])
        return gen, live, metas, texts

    def chunk_ids(self) -> set[str]:
        return {r[0] for r in self._con().execute("SELECT id FROM chunks")}

    def counts(self) -> tuple[int, int]:
        con = self._con()
        n_articles = con.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        n_chunks = con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(n_articles), int(n_chunks)

    def summary(self) -> CorpusSummary:
        con = self._con()
        sources = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT source FROM articles WHERE source IS NOT NULL ORDER BY source"
            )
        ]
        dated = con.execute(
            "SELECT MIN(date), MAX(date) FROM articles"
            " WHERE date IS NOT NULL AND date_precision IN ('day', 'month', 'year')"
        ).fetchone()
        undated = con.execute(
            "SELECT COUNT(*) FROM articles"
            " WHERE date IS NULL OR date_precision NOT IN ('day', 'month', 'year')"
        ).fetchone()[0]
        n_articles, n_chunks = self.counts()
        return {
            "articles": n_articles,
            "chunks": n_chunks,
            "sources": sources,
            "date_range": [dated[0], dated[1]] if dated[0] else None,
            "articles_without_full_date": int(undated),
        }


class CorpusSummary(TypedDict):
    """``Catalog.summary``: what the corpus holds (``hoidap stats``, the web app's badges)."""

    articles: int
    chunks: int
    sources: list[str]
    date_range: list[str] | None  # [first, last] full dates, ISO
    articles_without_full_date: int


class _Transaction:
    """``begin`` ... COMMIT (ROLLBACK on an error); with ``lock``, a PostgreSQL advisory
    transaction lock taken first thing, which serialises writers as BEGIN IMMEDIATE does."""

    def __init__(self, con: Connection, begin: str, lock: int | None = None) -> None:
        self.con, self.begin, self.lock = con, begin, lock

    def __enter__(self) -> Connection:
        self.con.execute(self.begin)
        if self.lock is not None:
            self.con.execute("SELECT pg_advisory_xact_lock(?)", (self.lock,))
        return self.con

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.con.execute("ROLLBACK" if exc_type else "COMMIT")


_SET_META = "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"


def _rows_in(con: Connection, sql: str, values: Sequence[str], part: int = 500) -> Iterator[Any]:
    """Rows of ``sql`` with its ``IN ({})`` filled with ``values``, in parts of ``part``
    (SQLite limits the parameters of one statement); in order within each part only."""
    for i in range(0, len(values), part):
        some = list(values[i : i + part])
        yield from con.execute(sql.format(",".join("?" * len(some))), some)


def _bump(con: Connection, writer: str | None = None) -> int:
    """Next generation (inside the caller's transaction); returns it."""
    con.execute(
        "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key='generation'"
    )
    if writer is not None:
        con.execute(_SET_META, ("writer", writer))
    return int(con.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])


def _add_chunks(con: Connection, delta: int) -> None:
    con.execute(
        "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + ? AS TEXT) WHERE key='n_chunks'",
        (delta,),
    )


def _count_chunks(con: Connection) -> int:
    n = int(con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
    con.execute(_SET_META, ("n_chunks", str(n)))
    return n


def _record(con: Connection, article_ids: Sequence[str], generation: int) -> None:
    con.executemany(
        "INSERT INTO changes VALUES (?, ?)"
        " ON CONFLICT (article_id) DO UPDATE SET generation = excluded.generation",
        [(a, generation) for a in article_ids],
    )


def _article(row: Sequence[object]) -> Article:
    (aid, title, text, date, precision, source, url, author, places, path, fp, removed) = row
    return Article(
        id=str(aid),
        title=str(title),
        text=str(text),
        date=date,  # type: ignore[arg-type]
        date_precision=precision,  # type: ignore[arg-type]
        source=source,  # type: ignore[arg-type]
        url=url,  # type: ignore[arg-type]
        author=author,  # type: ignore[arg-type]
        places=tuple(json.loads(str(places))),
        path=path,  # type: ignore[arg-type]
        fingerprint=str(fp),
        removed_lines=tuple(json.loads(str(removed))),
    )
