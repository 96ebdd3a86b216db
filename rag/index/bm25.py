"""BM25 over normalised Vietnamese syllables, in segments, persisted beside Chroma.

An index is a list of immutable *segments* (raw term frequencies as a sparse term x chunk
matrix, chunk lengths, ids, article of each chunk) plus a *live* mask per segment. Adding,
replacing or deleting an article appends one small segment and tombstones the article's
old chunks, so it costs what the article costs; scores are computed at query time from
the live chunks of all segments (global N, average length and document frequency), so
they equal those of a fresh build over the same chunks. ``compacted`` merges segments
(tiered, amortised O(log n) rewrites per chunk) and drops tombstones; with a cap, the
larger merges wait, and ``merge_onto`` puts a merge made meanwhile (in the background,
while uploads went on) into the index's current state.
Tokens come from ``corpus.text.tokens`` (NFC, one tone-mark placement, lower case), for the
index and for queries alike.

On disk: ``bm25-<generation>-<random>.npz`` per segment, never rewritten, plus ``CURRENT``
(JSON, format 2: the catalog generation and catalog id it matches, and per segment its
file, sha256, ids digest and tombstoned positions), replaced atomically under ``.lock``.
A manifest or segment that is missing, damaged or from another catalog is rebuilt from
the catalog (``rag.index.index``); a manifest of the previous layout (one ``file``) raises
``BM25Outdated`` and is rebuilt once from the catalog, with nothing re-embedded.

>>> idx = BM25Index.build(["a", "b"], ["Quy chế dân chủ ở cơ sở", "Công tác dân vận"])
>>> idx.search("dân vận", k=1)[0][0]
'b'
>>> ascii_idx = BM25Index.build(["a", "b"], ["Quy chế", "Dân vận"], analyzer="ascii")
>>> ascii_idx.search("dan van", 1)[0][0]
'b'
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from scipy import sparse

from corpus.errors import HoidapError
from corpus.text import ascii_tokens, tokens

# Analyzers: "vi" = normalised syllables; "ascii" = the same without diacritics, for
# queries typed without marks ("kiem tra bao nhieu don vi").
ANALYZERS: dict[str, Callable[[str], list[str]]] = {"vi": tokens, "ascii": ascii_tokens}


class BM25Corrupt(HoidapError, RuntimeError):
    """The persisted BM25 file cannot be used; rebuild it from the catalog."""


class BM25Missing(BM25Corrupt):
    """There is no BM25 file yet (or only an out-of-date one): a normal rebuild."""


class BM25Outdated(BM25Missing):
    """The BM25 files were written in the previous layout (one precomputed matrix)."""


class MergeGroup(NamedTuple):
    """Segment positions that become one segment; ``rewrite``: merge even a single one."""

    positions: tuple[int, ...]
    rewrite: bool

    @property
    def merges(self) -> bool:
        return self.rewrite or len(self.positions) > 1


def article_of(chunk_id: str) -> str:
    """The article id inside a chunk id (``<article>#<ordinal>-<hash>``)."""
    return chunk_id.rsplit("#", 1)[0]


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ids_digest(ids: Sequence[str]) -> str:
    h = hashlib.sha256()
    for i in sorted(ids):
        h.update(i.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


def top_scores(ids: Sequence[str], scores: np.ndarray, k: int) -> list[tuple[str, float]]:
    """The ``k`` best (id, score) pairs with a positive score, best first (ties: in order)."""
    if not len(scores):
        return []
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(ids[i], float(scores[i])) for i in top if scores[i] > 0.0]


class Segment:
    """An immutable block of documents: raw term frequencies, lengths, ids, articles.

    Scores are computed at query time from the live documents of all segments (global N,
    average length and document frequency), so adding a segment or tombstoning documents
    never rewrites the others.
    """

    def __init__(
        self,
        ids: list[str],
        terms: list[str],
        tf: sparse.csr_matrix,
        lengths: np.ndarray,
        articles: list[str],
        doc_article: np.ndarray,
        name: str = "",
    ) -> None:
        self.ids = ids
        self.terms = terms
        self.vocab = {t: i for i, t in enumerate(terms)}
        self.tf = tf  # (n_terms, n_docs) uint16 term frequencies
        self.lengths = lengths  # float32 (n_docs,)
        self.articles = articles
        self.doc_article = doc_article  # int32 (n_docs,) index into ``articles``
        self.name = name  # file name once saved
        self.sha256 = ""
        self._digest: str | None = None
        self._codes: dict[str, int] | None = None

    @property
    def article_codes(self) -> dict[str, int]:
        """Article id -> its code in ``doc_article`` (built once per segment)."""
        if self._codes is None:
            self._codes = {a: i for i, a in enumerate(self.articles)}
        return self._codes

    @property
    def digest(self) -> str:
        if self._digest is None:
            self._digest = ids_digest(self.ids)
        return self._digest

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        texts: Sequence[str],
        analyzer: str,
        article_ids: Sequence[str] | None = None,
    ) -> Segment:
        analyze = ANALYZERS[analyzer]
        vocab: dict[str, int] = {}
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        rows: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        lengths = np.zeros(len(texts), dtype=np.float32)
        for d, text in enumerate(texts):
            toks = analyze(text)
            lengths[d] = len(toks)
            c = Counter(toks)
            rows.append(np.fromiter((vocab.setdefault(t, len(vocab)) for t in c), np.int32, len(c)))
            counts.append(np.minimum(np.fromiter(c.values(), np.int64, len(c)), 65535))
            indptr[d + 1] = indptr[d] + len(c)
        terms = list(vocab)
        data = np.concatenate(counts).astype(np.uint16) if counts else np.zeros(0, np.uint16)
        idx = np.concatenate(rows) if rows else np.zeros(0, np.int32)
        tf = sparse.csc_matrix((data, idx, indptr), shape=(len(terms), len(texts))).tocsr()
        arts = list(article_ids) if article_ids is not None else [article_of(i) for i in ids]
        codes: dict[str, int] = {}
        doc_article = np.fromiter(
            (codes.setdefault(a, len(codes)) for a in arts), np.int32, len(arts)
        )
        return cls(list(ids), terms, tf, lengths, list(codes), doc_article)

    @classmethod
    def merge(cls, parts: Sequence[tuple[Segment, np.ndarray]]) -> Segment:
        """One segment holding the live documents (mask) of ``parts``, in order.

        Built column-wise (documents are the columns): each part's live columns are taken
        from its CSC form, their term numbers mapped into the merged vocabulary, and the
        parts laid side by side, then turned into CSR once. At its peak that held about 12
        bytes a posting above its inputs, where going through COO triplets held about 51
        (``bench/merge_cost.py``)."""
        vocab: dict[str, int] = {}
        codes: dict[str, int] = {}
        ids: list[str] = []
        indptrs, indices, data, lengths, arts = [], [], [], [], []
        base = nnz = 0
        for seg, live in parts:
            keep = np.flatnonzero(live)
            cols = seg.tf.tocsc()
            if len(keep) < len(seg):
                cols = cols[:, keep]
            used = np.flatnonzero(np.bincount(cols.indices, minlength=len(seg.terms)))
            remap = np.full(len(seg.terms), -1, dtype=np.int32)  # terms of dead chunks: dropped
            remap[used] = [vocab.setdefault(seg.terms[r], len(vocab)) for r in used.tolist()]
            indices.append(remap[cols.indices])
            data.append(cols.data.astype(np.uint16, copy=False))
            indptrs.append(cols.indptr[1:].astype(np.int64) + nnz)
            nnz += int(cols.indptr[-1])
            del cols
            ids.extend(seg.ids[i] for i in keep)
            lengths.append(seg.lengths[keep])
            amap = np.full(len(seg.articles), -1, dtype=np.int64)
            kept = np.unique(seg.doc_article[keep])
            amap[kept] = [codes.setdefault(seg.articles[a], len(codes)) for a in kept.tolist()]
            arts.append(amap[seg.doc_article[keep]])
            base += len(keep)

        def cat(xs: list[np.ndarray], dtype: Any) -> np.ndarray:
            return np.concatenate(xs).astype(dtype, copy=False) if xs else np.zeros(0, dtype)

        index_type = np.int32 if nnz < 2**31 else np.int64  # int64 only where it must be
        indptr = np.concatenate([np.zeros(1, np.int64), *indptrs]).astype(index_type)
        csc = sparse.csc_matrix(
            (cat(data, np.uint16), cat(indices, index_type), indptr), shape=(len(vocab), base)
        )
        del data, indices
        tf = csc.tocsr()
        return cls(ids, list(vocab), tf, cat(lengths, np.float32), list(codes), cat(arts, np.int32))


class BM25Index:
    """BM25 over segments with tombstones (``live`` masks), scored at query time."""

    def __init__(
        self,
        segments: Sequence[Segment],
        live: Sequence[np.ndarray] | None = None,
        analyzer: str = "vi",
        *,
        k1: float = 1.2,
        b: float = 0.75,
    ) -> None:
        self.segments = tuple(segments)
        self.live = (
            tuple(live) if live is not None else tuple(np.ones(len(s), bool) for s in segments)
        )
        self.analyzer = analyzer
        self._analyze = ANALYZERS[analyzer]
        self.k1, self.b = k1, b
        self.offsets = np.cumsum([0] + [len(s) for s in self.segments])
        self.n_docs = int(sum(int(m.sum()) for m in self.live))
        total = float(
            sum(float(s.lengths[m].sum()) for s, m in zip(self.segments, self.live, strict=True))
        )
        avgdl = max(total / self.n_docs if self.n_docs else 1.0, 1e-9)
        self._norm = [
            (k1 * (1.0 - b + b * s.lengths / avgdl)).astype(np.float32) for s in self.segments
        ]
        self._ids: list[str] | None = None

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        texts: Sequence[str],
        *,
        analyzer: str = "vi",
        article_ids: Sequence[str] | None = None,
    ) -> BM25Index:
        return cls([Segment.build(ids, texts, analyzer, article_ids)], analyzer=analyzer)

    @property
    def ids(self) -> list[str]:
        """Chunk id of every position (tombstoned ones included; they never score)."""
        if self._ids is None:
            self._ids = [i for s in self.segments for i in s.ids]
        return self._ids

    def live_ids(self) -> list[str]:
        return [
            i
            for s, m in zip(self.segments, self.live, strict=True)
            for i, ok in zip(s.ids, m, strict=True)
            if ok
        ]

    def __len__(self) -> int:
        return self.n_docs

    def _postings(self, token: str) -> tuple[int, list[tuple[int, np.ndarray, np.ndarray]]]:
        df = 0
        parts = []
        for si, seg in enumerate(self.segments):
            r = seg.vocab.get(token)
            if r is None:
                continue
            lo, hi = seg.tf.indptr[r], seg.tf.indptr[r + 1]
            cols, tf = seg.tf.indices[lo:hi], seg.tf.data[lo:hi]
            alive = self.live[si][cols]
            if not alive.all():
                cols, tf = cols[alive], tf[alive]
            if len(cols):
                df += len(cols)
                parts.append((si, cols, tf))
        return df, parts

    def doc_freq(self, token: str) -> int:
        """Live chunks holding ``token`` (already analysed)."""
        return self._postings(token)[0]

    def idf(self, df: int) -> float:
        return math.log1p((self.n_docs - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every position for ``query`` (unique query tokens)."""
        out = np.zeros(int(self.offsets[-1]), dtype=np.float32)
        if not self.n_docs:
            return out
        for token in dict.fromkeys(self._analyze(query)):
            df, parts = self._postings(token)
            if not df:
                continue
            idf = np.float32(self.idf(df))
            for si, cols, tf in parts:
                t = tf.astype(np.float32)
                w = idf * t * np.float32(self.k1 + 1.0) / (t + self._norm[si][cols])
                out[self.offsets[si] + cols] += w
        return out

    def save(self, folder: Path, generation: int, catalog_id: str = "") -> Path | None:
        with folder_lock(folder):
            return save_index(self, folder, generation, catalog_id)

    @classmethod
    def load(cls, folder: Path) -> tuple[BM25Index, int, str]:
        """(index, generation, catalog id) or BM25Corrupt (see ``load_index``)."""
        return load_index(folder)

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        return top_scores(self.ids, self.scores(query), k)

    def article_mask(self, allowed: set[str]) -> np.ndarray:
        """True at the positions whose article is in ``allowed``."""
        parts = [
            np.fromiter((a in allowed for a in s.articles), bool, len(s.articles))[s.doc_article]
            for s in self.segments
        ]
        return np.concatenate(parts) if parts else np.zeros(0, bool)

    def updated(self, removed: set[str], added: Segment | None) -> BM25Index:
        """A new index: the documents of ``removed`` articles tombstoned, ``added`` appended."""
        live = []
        for seg, mask in zip(self.segments, self.live, strict=True):
            codes = [c for a in removed if (c := seg.article_codes.get(a)) is not None]
            if codes:
                mask = mask & ~np.isin(seg.doc_article, codes)
            live.append(mask)
        segs = list(self.segments)
        if added is not None and len(added):
            segs.append(added)
            live.append(np.ones(len(added), bool))
        return BM25Index(segs, live, self.analyzer, k1=self.k1, b=self.b)

    def merge_plan(self, max_docs: int | None = None) -> tuple[list[MergeGroup], bool]:
        """The tiered policy as groups of segment positions, one group per output segment
        (segments without live documents are left out): the newest segments merge while
        one holds at least half the live documents of the one before it (or more than 12
        remain), and a segment more than 30% tombstones is rewritten. Merges whose result
        would hold more than ``max_docs`` live documents are deferred (``True`` second)."""
        out: list[tuple[list[int], int, bool]] = []  # positions, live documents, rewrite
        deferred = False
        for pos, (seg, mask) in enumerate(zip(self.segments, self.live, strict=True)):
            n_live = int(mask.sum())
            if n_live == 0:
                continue
            rewrite = n_live < 0.7 * len(seg)
            if rewrite and max_docs is not None and n_live > max_docs:
                rewrite, deferred = False, True
            out.append(([pos], n_live, rewrite))
            while len(out) > 1 and (2 * out[-1][1] >= out[-2][1] or len(out) > 12):
                n = out[-2][1] + out[-1][1]
                if max_docs is not None and n > max_docs:
                    deferred = True
                    break
                out[-2:] = [(out[-2][0] + out[-1][0], n, True)]
        return [MergeGroup(tuple(p), rw) for p, _, rw in out], deferred

    def merge_groups(self, groups: Sequence[MergeGroup]) -> list[tuple[MergeGroup, Segment]]:
        """Run the merges of ``groups`` (those with ``merges``): each with its new segment."""
        return [
            (g, Segment.merge([(self.segments[p], self.live[p]) for p in g.positions]))
            for g in groups
            if g.merges
        ]

    def compacted(self, max_docs: int | None = None) -> BM25Index:
        """This index after ``merge_plan(max_docs)``: few segments, no segment mostly
        tombstones. Cost: what is merged, amortised O(log n) rewrites per document; with
        ``max_docs``, no single merge larger than that (the rest waits for ``merge_onto``)."""
        groups, _ = self.merge_plan(max_docs)
        if len(groups) == len(self.segments) and not any(g.merges for g in groups):
            return self
        merged = dict(self.merge_groups(groups))
        segs, live = [], []
        for g in groups:
            if g in merged:
                segs.append(merged[g])
                live.append(np.ones(len(merged[g]), bool))
            else:
                segs.append(self.segments[g.positions[0]])
                live.append(self.live[g.positions[0]])
        return BM25Index(segs, live, self.analyzer, k1=self.k1, b=self.b)

    def merge_onto(
        self, done: Sequence[tuple[MergeGroup, Segment]], current: BM25Index
    ) -> BM25Index | None:
        """``current`` with the merges ``done`` on this index (an older state of it) put in:
        for a merge made in the background while uploads went on. Documents tombstoned
        since the merge stay tombstoned; segments added since stay as they are. None when
        ``current`` no longer holds a merged segment (another writer merged or rebuilt)."""
        where = {s.name: i for i, s in enumerate(current.segments) if s.name}
        replace: dict[int, tuple[Segment, np.ndarray]] = {}
        skip: set[int] = set()
        for g, merged in done:
            names = [self.segments[p].name for p in g.positions]
            if not all(n and n in where for n in names):
                return None
            at = [where[n] for n in names]
            if at != sorted(at) or any(
                current.live[i].any() for i in range(at[0], at[-1] + 1) if i not in at
            ):
                return None
            # the merged segment holds, in order, the documents live when it was made
            mask = np.concatenate(
                [current.live[i][self.live[p]] for i, p in zip(at, g.positions, strict=True)]
            )
            replace[at[0]] = (merged, mask)
            skip.update(range(at[0] + 1, at[-1] + 1))
        segs, live = [], []
        for i, (seg, mask) in enumerate(zip(current.segments, current.live, strict=True)):
            if i in replace:
                segs.append(replace[i][0])
                live.append(replace[i][1])
            elif i not in skip:
                segs.append(seg)
                live.append(mask)
        return BM25Index(segs, live, current.analyzer, k1=current.k1, b=current.b)


# -- persistence ---------------------------------------------------------------------
@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Writers of one BM25 folder (in any process) take turns; OSError if read-only."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def save_index(idx: BM25Index, folder: Path, generation: int, catalog_id: str = "") -> Path | None:
    """Write new segments and make a manifest for ``generation`` CURRENT (caller holds
    ``folder_lock``). Leaves a newer manifest alone (returns None). Segment files are new
    names, so a reader never sees a file replaced under the manifest that describes it."""
    current = _read_current(folder)
    if current is not None and int(current.get("generation", -1)) > generation:
        return None
    entries = []
    for seg, mask in zip(idx.segments, idx.live, strict=True):
        if not seg.name or not (folder / seg.name).exists():
            _write_segment(seg, folder, generation, idx.analyzer)
        entries.append(
            {
                "file": seg.name,
                "sha256": seg.sha256,
                "ids_digest": seg.digest,
                "n_docs": len(seg),
                "deleted": np.flatnonzero(~mask).tolist(),
            }
        )
    manifest = {
        "format": 2,
        "generation": generation,
        "catalog_id": catalog_id,
        "analyzer": idx.analyzer,
        "segments": entries,
    }
    _atomic_write(folder / "CURRENT", json.dumps(manifest))
    keep = {e["file"] for e in entries}
    for old in folder.glob("bm25-*.npz"):
        if old.name not in keep:
            old.unlink(missing_ok=True)
    return folder / "CURRENT"


def _write_segment(seg: Segment, folder: Path, generation: int, analyzer: str) -> None:
    name = f"bm25-{generation}-{uuid.uuid4().hex[:8]}.npz"
    tmp = folder / f".{name}.tmp"
    meta = {"ids": seg.ids, "terms": seg.terms, "articles": seg.articles, "analyzer": analyzer}
    try:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                data=seg.tf.data,
                indices=seg.tf.indices,
                indptr=seg.tf.indptr,
                lengths=seg.lengths,
                doc_article=seg.doc_article,
                meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
            )
            fh.flush()
            os.fsync(fh.fileno())
        digest = file_sha256(tmp)
        os.replace(tmp, folder / name)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not keep half a file
        raise
    seg.name, seg.sha256 = name, digest


def _read_segment(path: Path, expected_sha: str) -> Segment:
    if file_sha256(path) != expected_sha:
        raise BM25Corrupt(f"BM25 segment {path} fails its checksum (damaged file)")
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta"]).decode("utf-8"))
        n_docs = len(z["lengths"])
        tf = sparse.csr_matrix(
            (z["data"], z["indices"], z["indptr"]), shape=(len(meta["terms"]), n_docs)
        )
        seg = Segment(
            list(meta["ids"]),
            list(meta["terms"]),
            tf,
            np.asarray(z["lengths"]),
            list(meta["articles"]),
            np.asarray(z["doc_article"]),
            path.name,
        )
    seg.sha256 = expected_sha
    return seg


def load_index(folder: Path, cache: dict[str, Segment] | None = None) -> tuple[BM25Index, int, str]:
    """(index, generation, catalog id) from ``folder`` or BM25Corrupt / BM25Missing /
    BM25Outdated. Segments found in ``cache`` (by file name and checksum) are not read."""
    cache = cache or {}
    current: dict[str, Any] = {}
    name: object = None
    try:
        current = json.loads((folder / "CURRENT").read_text(encoding="utf-8"))
        if current.get("format") != 2:
            if "file" in current:
                raise BM25Outdated(f"BM25 index in {folder} is in the previous layout")
            raise BM25Corrupt(f"BM25 manifest in {folder} has an unknown format")
        segments, live = [], []
        for e in current["segments"]:
            name = e["file"]
            seg = cache.get(str(name))
            if seg is None or seg.sha256 != e["sha256"]:
                seg = _read_segment(folder / str(name), str(e["sha256"]))
            if len(seg) != int(e["n_docs"]) or seg.digest != e["ids_digest"]:
                raise BM25Corrupt(f"BM25 segment {name} does not match its manifest")
            mask = np.ones(len(seg), bool)
            mask[np.asarray(e["deleted"], dtype=np.int64)] = False
            segments.append(seg)
            live.append(mask)
        idx = BM25Index(segments, live, str(current.get("analyzer", "vi")))
    except FileNotFoundError as exc:
        if name is not None and _names_file(folder, name):
            # the manifest still names a file that is gone: damage, not a replacement
            raise BM25Corrupt(f"BM25 index in {folder} is missing its data file") from exc
        raise BM25Missing(f"no BM25 index in {folder}") from exc
    except BM25Corrupt:
        raise
    except Exception as exc:  # any damage to the files means: rebuild
        raise BM25Corrupt(f"unreadable BM25 index in {folder}: {exc}") from exc
    for seg in segments:
        if not all(math.isfinite(x) for x in (float(seg.lengths.sum()),)):
            raise BM25Corrupt(f"BM25 segment {seg.name} holds invalid lengths")
    return idx, int(current["generation"]), str(current.get("catalog_id", ""))


def _read_current(folder: Path) -> dict[str, Any] | None:
    try:
        current = json.loads((folder / "CURRENT").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return current if isinstance(current, dict) else None


def _names_file(folder: Path, name: object) -> bool:
    """True if ``CURRENT`` (read again) still names segment ``name``; False when it is
    gone or now names other files (another process replaced the index meanwhile)."""
    try:
        current = json.loads((folder / "CURRENT").read_text(encoding="utf-8"))
        return any(e.get("file") == name for e in current.get("segments", []))
    except (OSError, ValueError, AttributeError):
        return False


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
