"""Back up a whole home into one archive, and restore it into an empty home.

A backup is a tar file (``.tar.gz``/``.tgz`` compressed, any other name plain) of every
file hoidap keeps in the home: ``settings.toml``, ``users.json``, the uploads, the audit
log, the evaluation runs, every index (catalog, local Chroma store, BM25 segments) and,
unless left out, the embedding cache. Its last member, ``hoidap-backup.json``, lists each
file with its size and SHA-256 and each index with its article and chunk counts.

Consistency: the backup holds the writer lock of every index for its whole duration
(an ingest or delete in another process waits, or the backup waits for it, up to
``ingest_wait_s``), so the catalog, the vectors and the BM25 segments of an index are one
state. SQLite files (catalog, Chroma's ``chroma.sqlite3``, the embedding cache) are copied
with SQLite's online backup, so readers may go on asking questions meanwhile. The archive
is written to ``<name>.partial`` and renamed when complete: a killed backup leaves no
archive that looks whole.

A restore never overwrites: it refuses a home that has files, unless ``force``, which
first moves the old home aside to ``<home>.before-restore-<time>``. Every member is
checked against the manifest (name, size, SHA-256; nothing outside the home, nothing
unlisted) in a folder beside the target, which is renamed into place only when all of it
is checked; then each index's catalog is opened and its counts compared with the
manifest's.

With ``chroma_url`` set the vectors live in the Chroma server, whose ``--path`` is copied
separately (docs/DEPLOY.md); the archive then holds the catalog and BM25, and a restore
marks each catalog so that the next ingest or upload first reconciles the server's
collection with it (orphans removed, missing vectors re-added from the embedding cache).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from corpus.errors import EXIT_USAGE, HoidapError
from rag.index.bm25 import file_sha256, folder_lock
from rag.index.catalog import Catalog
from rag.index.index import writer_lock
from rag.settings import Settings

MANIFEST = "hoidap-backup.json"
FORMAT = 1
_SKIP_NAMES = {"write.lock", ".lock"}
_SKIP_SUFFIXES = ("-wal", "-shm", "-journal", ".partial", ".tmp")
_SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


class BackupError(HoidapError, RuntimeError):
    """A backup could not be written, or an archive is not a whole hoidap backup."""


class RestoreRefused(BackupError):
    """The target home already holds data (restore never overwrites without force)."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class IndexSummary:
    path: str  # relative to the home: indexes/<index>/<model dir>
    articles: int
    chunks: int
    generation: int


@dataclass(frozen=True)
class BackupReport:
    archive: Path
    files: int
    bytes: int  # of the files, before compression
    indexes: list[IndexSummary] = field(default_factory=list)
    seconds: float = 0.0
    moved_aside: Path | None = None  # restore with force: where the old home went


def index_folders(home: Path) -> list[Path]:
    """Every index folder of a home (``indexes/<index>/<model dir>`` with a catalog)."""
    return sorted(p.parent for p in (home / "indexes").glob("*/*/catalog.sqlite"))


def _skipped(rel: PurePosixPath, include_cache: bool) -> bool:
    if rel.name in _SKIP_NAMES or rel.name.endswith(_SKIP_SUFFIXES):
        return True
    return not include_cache and rel.parts[0] == "cache"


def _sqlite_copy(src: Path, dst: Path) -> None:
    """A consistent copy of a live SQLite database (online backup; readers go on)."""
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _open_tar(path: Path, mode: str) -> tarfile.TarFile:
    gz = path.name.endswith((".tar.gz", ".tgz"))
    if mode == "w":
        return tarfile.open(path, "w:gz", compresslevel=6) if gz else tarfile.open(path, "w")
    return tarfile.open(path, "r:*")


def backup_home(
    settings: Settings,
    archive: Path,
    *,
    include_cache: bool = True,
    on_wait: Callable[[str], None] | None = None,
) -> BackupReport:
    """Write every file of ``settings.home`` into ``archive`` (see the module docstring)."""
    t0 = time.perf_counter()
    home = settings.home
    if not (home / "indexes").is_dir() and not any(home.glob("*")):
        raise BackupError(f"Thư mục dữ liệu {home} trống: không có gì để sao lưu.")
    if settings.catalog_url:
        raise BackupError(
            "Danh mục bài viết nằm trong PostgreSQL (catalog_url), không nằm trong thư mục "
            "dữ liệu: hãy sao lưu danh mục bằng pg_dump và sao lưu cả dữ liệu của máy chủ "
            "Chroma (docs/DEPLOY.md)."
        )
    archive = archive.expanduser().resolve()
    if archive.is_relative_to(home):
        raise BackupError(
            f"Tệp sao lưu {archive} nằm trong chính thư mục dữ liệu {home}; hãy ghi nó ra "
            "ngoài thư mục này (ví dụ sang một ổ đĩa khác)."
        )
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + ".partial")
    folders = index_folders(home)
    files: dict[str, dict[str, object]] = {}
    total = 0
    summaries: list[IndexSummary] = []
    try:
        with contextlib.ExitStack() as locks, tempfile.TemporaryDirectory() as tmp:
            for folder in folders:  # sorted: two backups take the locks in one order
                locks.enter_context(
                    writer_lock(folder, folder.parent.name, settings.ingest_wait_s, on_wait)
                )
            for folder in folders:
                summaries.append(_summary(home, folder))
            with _open_tar(partial, "w") as tar:
                for src, rel in _walk(home, folders, include_cache):
                    staged = src
                    if src.name.endswith(_SQLITE_SUFFIXES):
                        staged = Path(tmp) / "db"
                        _sqlite_copy(src, staged)
                    size = staged.stat().st_size
                    files[rel] = {"size": size, "sha256": file_sha256(staged)}
                    tar.add(staged, arcname=rel, recursive=False)
                    total += size
                    if staged != src:
                        staged.unlink()
                manifest = {
                    "format": FORMAT,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "home": str(home),
                    "include_cache": include_cache,
                    "vectors_in_server": bool(settings.chroma_url),
                    "indexes": [asdict(s) for s in summaries],
                    "files": files,
                }
                data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime = len(data), int(time.time())
                tar.addfile(info, io.BytesIO(data))
        os.replace(partial, archive)
    except (OSError, sqlite3.Error, tarfile.TarError) as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"Không ghi được bản sao lưu {archive}: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupReport(archive, len(files), total, summaries, time.perf_counter() - t0)


def _walk(home: Path, folders: list[Path], include_cache: bool) -> Iterator[tuple[Path, str]]:
    """(file, name in the archive) for every file to back up; BM25 folders under their
    folder lock (a reader catching up saves segments there)."""
    bm25_dirs = {d for f in folders for d in f.glob("bm25*") if d.is_dir()}

    def kept(here: Path, names: list[str]) -> Iterator[tuple[Path, str]]:
        for name in sorted(names):
            src = here / name
            rel = PurePosixPath(src.relative_to(home).as_posix())
            if src.is_file() and not src.is_symlink() and not _skipped(rel, include_cache):
                yield src, str(rel)

    for root, dirs, names in os.walk(home):
        dirs.sort()
        here = Path(root)
        if here in bm25_dirs:
            dirs[:] = []
            with folder_lock(here):
                yield from kept(here, os.listdir(here))  # listed again under the lock
        else:
            yield from kept(here, names)


def _summary(home: Path, folder: Path) -> IndexSummary:
    catalog = Catalog(folder / "catalog.sqlite")
    try:
        articles, chunks = catalog.counts()
        return IndexSummary(
            folder.relative_to(home).as_posix(), articles, chunks, catalog.generation
        )
    finally:
        catalog.close()


def _mark_dirty(folder: Path) -> None:
    """The vectors were not in the archive (a Chroma server): the next ingest or upload
    first makes the server's collection hold exactly the catalog's chunks (``reconcile``,
    re-adding missing vectors from the embedding cache)."""
    catalog = Catalog(folder / "catalog.sqlite")
    try:
        catalog.set_meta("dirty", "1")
    finally:
        catalog.close()


def _read_manifest(tar: tarfile.TarFile, archive: Path) -> dict:
    try:
        member = tar.getmember(MANIFEST)
        f = tar.extractfile(member)
        assert f is not None
        manifest = json.loads(f.read())
    except (KeyError, AssertionError, ValueError) as exc:
        raise BackupError(
            f"{archive} không phải bản sao lưu đầy đủ của hoidap (thiếu hoặc hỏng {MANIFEST})."
        ) from exc
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        raise BackupError(
            f"{archive}: định dạng sao lưu {manifest.get('format')!r} không được hỗ trợ."
        )
    return manifest


def _safe_name(name: str) -> bool:
    p = PurePosixPath(name)
    return bool(p.parts) and not p.is_absolute() and ".." not in p.parts


def restore_home(archive: Path, home: Path, *, force: bool = False) -> BackupReport:
    """Unpack ``archive`` into ``home`` after checking every member (module docstring)."""
    t0 = time.perf_counter()
    archive, home = archive.expanduser().resolve(), home.expanduser().resolve()
    if not archive.is_file():
        raise BackupError(f"Không thấy tệp sao lưu {archive}.")
    if home.exists() and any(home.iterdir()) and not force:
        raise RestoreRefused(
            f"Thư mục {home} đã có dữ liệu; khôi phục không ghi đè. Hãy chọn một thư mục "
            "trống, hoặc thêm --force để chuyển dữ liệu cũ sang một thư mục bên cạnh rồi "
            "khôi phục."
        )
    home.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{home.name}.restoring-", dir=home.parent))
    try:
        with _open_tar(archive, "r") as tar:
            manifest = _read_manifest(tar, archive)
            files: dict[str, dict] = manifest["files"]
            seen: set[str] = set()
            total = 0
            for member in tar:
                if member.name == MANIFEST:
                    continue
                spec = files.get(member.name)
                if spec is None or not member.isfile() or not _safe_name(member.name):
                    raise BackupError(f"{archive}: có tệp lạ {member.name!r}; không khôi phục.")
                target = staging / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                assert src is not None
                h = hashlib.sha256()
                with open(target, "wb") as out:
                    while block := src.read(1 << 20):
                        h.update(block)
                        out.write(block)
                if h.hexdigest() != spec["sha256"] or target.stat().st_size != spec["size"]:
                    raise BackupError(
                        f"{archive}: tệp {member.name} bị hỏng (kiểm tra SHA-256 không khớp); "
                        "không khôi phục."
                    )
                seen.add(member.name)
                total += int(spec["size"])
            missing = sorted(set(files) - seen)
            if missing:
                raise BackupError(f"{archive}: thiếu {len(missing)} tệp, ví dụ {missing[0]}.")
        summaries = [IndexSummary(**s) for s in manifest.get("indexes", [])]
        for s in summaries:
            got = _summary(staging, staging / s.path)
            if (got.articles, got.chunks, got.generation) != (s.articles, s.chunks, s.generation):
                raise BackupError(f"{archive}: chỉ mục {s.path} không khớp với danh mục đã ghi.")
            if manifest.get("vectors_in_server"):
                _mark_dirty(staging / s.path)
        moved = None
        if home.exists():
            if any(home.iterdir()):
                moved = home.with_name(
                    f"{home.name}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}"
                )
                os.replace(home, moved)
            else:
                home.rmdir()
        os.replace(staging, home)
    except (OSError, sqlite3.Error, tarfile.TarError, EOFError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BackupError(f"Không khôi phục được từ {archive}: {exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BackupReport(home, len(files), total, summaries, time.perf_counter() - t0, moved)
