"""Keeping the collection current from the web: uploads, the article table, delete, re-index.

Uploaded files are copied into one corpus folder (``upload_dir``). Their names are made
safe first (``safe_filename``): only the last path component is kept, control and
separator characters are dropped, a leading dot is removed, the length is capped, and the
resolved target must sit directly in the folder, so a name can never escape it. A file
whose name already exists replaces it: uploading a document again updates its article.

>>> safe_filename("../../etc/passwd.txt")
'passwd.txt'
>>> safe_filename("C:\\\\Users\\\\an\\\\Báo cáo <2021>.docx")
'Báo cáo _2021_.docx'
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from corpus.errors import HoidapError
from corpus.formats import SUPPORTED_SUFFIXES
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.index.catalog import ArticleState
    from rag.index.index import Index

MAX_NAME_BYTES = 150


class UploadRejected(HoidapError, ValueError):
    """One uploaded file cannot be accepted; the message is for the user (Vietnamese)."""


def upload_dir(settings: Settings) -> Path:
    """The corpus folder web uploads go to (created on first use)."""
    if settings.upload_dir:
        return Path(settings.upload_dir).expanduser().resolve()
    return (settings.home / "corpus" / settings.index).resolve()


def supported_suffix(name: str) -> str | None:
    lower = name.lower()
    for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix) and len(lower) > len(suffix):
            return suffix
    return None


def safe_filename(name: str) -> str:
    """A file name that is safe to create inside the corpus folder, or UploadRejected."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]  # last component of a POSIX or Windows path
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")  # control chars
    name = re.sub(r'[<>:"|?*]', "_", name)  # not allowed in Windows file names
    name = re.sub(r"\s+", " ", name).strip().lstrip(".").strip()
    if name in ("", ".", "..") or supported_suffix(name) is None:
        raise UploadRejected(
            "loại tệp không được hỗ trợ (dùng " + ", ".join(SUPPORTED_SUFFIXES) + ")"
        )
    suffix = supported_suffix(name) or ""
    stem = name[: len(name) - len(suffix)]
    while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    stem = stem.rstrip(" .")
    if not stem:
        raise UploadRejected("tên tệp không hợp lệ")
    return stem + suffix


@dataclass(frozen=True)
class SavedFile:
    name: str  # the name the user uploaded (for messages)
    path: Path  # where it now lives, inside the corpus folder


@dataclass
class UploadReport:
    saved: list[SavedFile] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    chunks: int = 0
    seconds: float = 0.0


def save_uploads(files: Sequence[str | Path], dest: Path, *, max_bytes: int) -> UploadReport:
    """Copy uploaded temp files into ``dest`` under safe names; one bad file never stops
    the others. Each is written to a temporary name and renamed, so a reader never sees
    half a file, and an existing symlink is replaced rather than followed."""
    report = UploadReport()
    dest = dest.resolve()
    dest.mkdir(parents=True, exist_ok=True)
    claimed: set[str] = set()
    for f in files:
        src = Path(f)
        shown = src.name
        try:
            name = safe_filename(src.name)
            shown = name
            if name in claimed:
                raise UploadRejected("trùng tên với một tệp khác trong cùng lần tải lên")
            size = src.stat().st_size
            if size > max_bytes:
                raise UploadRejected(
                    f"tệp quá lớn ({size / 1e6:.1f} MB, tối đa {max_bytes / 1e6:.0f} MB)"
                )
            if size == 0:
                raise UploadRejected("tệp rỗng")
            # the final component is not resolved: an existing symlink there is replaced
            target = Path(os.path.normpath(dest / name))
            if target.parent != dest or target.name != name:
                raise UploadRejected("tên tệp không hợp lệ")
            fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=dest)
            try:
                with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
                    shutil.copyfileobj(inp, out, 1 << 20)
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            claimed.add(name)
            report.saved.append(SavedFile(shown, target))
        except UploadRejected as exc:
            report.errors.append((shown, str(exc)))
        except OSError as exc:
            report.errors.append((shown, f"không lưu được tệp ({exc.strerror or exc})"))
    return report


ProgressFn = Callable[[float, str], None]


def ingest_uploads(
    report: UploadReport,
    settings: Settings,
    embedder: object,
    progress: ProgressFn | None = None,
    index: Index | None = None,
) -> UploadReport:
    """Ingest the saved files; files that could not be read are reported and removed
    from the corpus folder (so a re-index does not trip over them again). ``index``: the
    serving process's open index (``Services.index``), written through so that its BM25
    segments are not read from disk again for each upload (see ``ingest``)."""
    from rag.index.ingest import IngestProgress, ingest

    if not report.saved:
        return report

    def on_progress(p: IngestProgress) -> None:
        if progress is not None and p.chunks_total:
            progress(
                p.chunks_done / p.chunks_total,
                f"Đang nạp: bài {p.articles_done}/{p.articles_total}, "
                f"đoạn {p.chunks_done}/{p.chunks_total}",
            )

    result = ingest(
        [s.path for s in report.saved],
        settings,
        embedder=embedder,  # type: ignore[arg-type]
        progress=on_progress,
        index=index,
    )
    by_path = {str(s.path): s for s in report.saved}
    for skipped in result.skipped:
        saved = by_path.get(str(Path(skipped.path)))
        report.errors.append((saved.name if saved else Path(skipped.path).name, skipped.reason))
        if saved is not None:
            with contextlib.suppress(OSError):
                saved.path.unlink()
            report.saved.remove(saved)
    report.added, report.updated = result.added, result.updated
    report.unchanged, report.chunks = result.unchanged, result.chunks_written
    report.seconds = result.seconds
    return report


def reindex(
    settings: Settings,
    embedder: object,
    progress: ProgressFn | None = None,
    index: Index | None = None,
) -> dict[str, object]:
    """Re-read every source file the index knows plus the corpus folder: changed files are
    re-ingested, unchanged ones skipped, articles whose file is gone are removed.
    ``index``: as for ``ingest_uploads``."""
    from rag.index.ingest import IngestProgress, ingest

    paths = {s.path for s in _states(settings, embedder.model_id, index).values() if s.path}  # type: ignore[attr-defined]
    folder = upload_dir(settings)
    # Files that are gone are not passed: prune removes their articles (a missing path given
    # to ingest is reported as skipped, and skipped paths are never pruned). A relative path
    # that does not resolve from here may just mean another working folder: then no pruning.
    lost_relative = sorted(p for p in paths if not Path(p).is_absolute() and not Path(p).exists())
    roots = sorted(p for p in paths if Path(p).exists() and not Path(p).is_relative_to(folder))
    if folder.is_dir():
        roots.append(str(folder))

    def on_progress(p: IngestProgress) -> None:
        if progress is not None and p.chunks_total:
            progress(
                p.chunks_done / p.chunks_total,
                f"Đang nạp lại: đoạn {p.chunks_done}/{p.chunks_total}",
            )

    report = ingest(
        roots,
        settings,
        embedder=embedder,  # type: ignore[arg-type]
        prune=not lost_relative,
        progress=on_progress,
        index=index,
    )
    out = report.as_dict()
    out["not_pruned_relative_paths"] = lost_relative
    return out


def _states(
    settings: Settings,
    model_id: str,
    index: Index | None,
    ids: Sequence[str] | None = None,
    path: str | None = None,
) -> dict[str, ArticleState]:
    """``Catalog.states(ids, path=path)``, from ``index`` or from one opened for this call."""
    if index is not None:
        return index.catalog.states(ids, path=path)
    from rag.index.index import Index

    with Index(settings, model_id) as opened:
        return opened.catalog.states(ids, path=path)


def delete_article(
    settings: Settings, model_id: str, article_id: str, index: Index | None = None
) -> bool:
    """Remove an article; an uploaded file that held only it is removed too (otherwise a
    re-index would bring the article back). ``index``: as for ``ingest_uploads``."""
    from rag.index.ingest import delete_articles

    state = _states(settings, model_id, index, ids=[article_id]).get(article_id)
    deleted = delete_articles([article_id], settings, model_id, index=index)
    if not deleted:
        return False
    if state is not None and state.path:
        path = Path(state.path)
        shared = bool(_states(settings, model_id, index, path=state.path))  # still read from it
        if not shared and path.resolve().parent == upload_dir(settings):
            with contextlib.suppress(OSError):
                path.unlink()
    return True


def article_rows(catalog: object) -> list[list[object]]:
    """The corpus table: [id, title, date, source, chunks], newest first."""
    from rag.retrieval.retrieve import article_of
    from rag.web.render import date_label

    counts: dict[str, int] = {}
    for cid in catalog.chunk_ids():  # type: ignore[attr-defined]
        aid = article_of(cid)
        counts[aid] = counts.get(aid, 0) + 1
    metas = catalog.article_meta().values()  # type: ignore[attr-defined]
    ordered = sorted(metas, key=lambda m: (m.date or "", m.id), reverse=True)
    return [
        [m.id, m.title, date_label(m.date), m.source or "", counts.get(m.id, 0)] for m in ordered
    ]
