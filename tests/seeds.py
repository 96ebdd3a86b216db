"""The default corpus (the five seed articles) for tests, and homes indexed from it.

The fixtures that hand out seeded homes (``seed_index``, ``seed_index_copy``,
``seed_index_e5``, ``seed_index_e5_copy``) are in ``tests/conftest.py``; they are built
with :func:`build_seed_index` and :meth:`SeedIndex.copy_to` below.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corpus.text import nfc
from corpus.types import RawDocument

if TYPE_CHECKING:
    from rag.settings import Settings
    from tests.fakes import HashEmbedder

SEED_DIR = Path(__file__).resolve().parents[1] / "corpus" / "articles"


def load_seeds() -> list[RawDocument]:
    """The seed files as a loader would give them (UTF-8 .txt, id = file stem)."""
    docs = []
    for path in sorted(SEED_DIR.glob("*.txt")):
        data = path.read_bytes()
        docs.append(
            RawDocument(
                id=path.stem,
                text=nfc(data.decode("utf-8")),
                path=str(path),
                format="txt",
                fingerprint=hashlib.sha256(data).hexdigest(),
            )
        )
    return docs


# lines of the seed files that cleaning removes (menus, counters, bylines, dates, captions)
SEED_BOILERPLATE = [
    "Quay lại",
    "Tin khác",
    "Các tin khác",
    "Ý kiến bạn đọc",
    "refresh",
    "Tổng lượt bình luận",
    "Thông báo",
    "Đọc thêm",
    "Tìm kiếm theo ngày",
    "Tin mới Emagazine Truyền hình Podcast",
    "QUẢNG CÁO",
    "HỌC TẬP BÁC",
    "Chủ đề Chủ trương - Chính sách",
    "Đình Thoại",
    "Bùi Hiệp Thọ",
    "Minh Thư",
    "1038",
    "•",
    "(Baohatinh.vn)",
    "(Thanhuytphcm.vn)",
    "Chủ Nhật, ngày 19 tháng 1 năm 2020",
    "Ngày 27 tháng 02 năm 2020",
    "2.12.2013 - 10:50",
    "Đại biểu dự hội nghị.",
    "Phó Trưởng ban Ban Dân vận Thành ủy Trương Quốc Lâm phát biểu tại buổi kiểm tra.",
    "ĐVTN xã Phiêng Pằn (Mai Sơn) giúp hộ nghèo xóa nhà tạm.",
    "Trưởng ban Dân vận Tỉnh ủy Trương Thanh Huyền phát biểu bế mạc hội nghị.",
]


@dataclass(frozen=True)
class SeedIndex:
    """A hoidap home whose default index holds the five seed articles.

    ``corpus`` is the folder the articles were ingested from (the catalog records these
    file paths). ``embedder`` is the :class:`~tests.fakes.HashEmbedder` the index was
    built with, or None for an index built by ``hoidap ingest`` with the bundled e5 model
    (a process that opens it loads that model itself).
    """

    home: Path
    corpus: Path
    embedder: HashEmbedder | None

    def settings(self, **overrides: Any) -> Settings:
        """The home's settings, ignoring ``HOIDAP_*`` variables; ``overrides`` as in
        :func:`rag.settings.load_settings`. The answerer is the rule-based one unless
        ``answerer`` is given: these tests pin its exact answers; the reader's are tested
        in ``tests/test_reader_*.py``."""
        from rag.settings import load_settings

        overrides.setdefault("answerer", "extractive")
        return load_settings(self.home, env={}, **overrides)

    def copy_to(self, home: Path) -> SeedIndex:
        """A private copy of the home at ``home`` (which must not exist yet), with a fresh
        embedder of the same kind. Ingests and deletes there leave this one untouched.

        The corpus folder is shared, not copied: the copied catalog still points at it.
        A test that changes the article files themselves builds its own index with
        :func:`build_seed_index`.
        """
        from tests.fakes import HashEmbedder

        shutil.copytree(self.home, home)
        embedder = None if self.embedder is None else HashEmbedder()
        return SeedIndex(home.resolve(), self.corpus, embedder)


def build_seed_index(root: Path, *, e5: bool = False) -> SeedIndex:
    """Copy the seed articles to ``root/articles`` and ingest them into ``root/home``.

    By default in this process with the fake :class:`~tests.fakes.HashEmbedder` (fast,
    deterministic); with ``e5=True`` through ``hoidap ingest`` in a separate process with
    the bundled e5 model, as a user runs it (HOIDAP_* variables of this environment apply).
    """
    corpus = root / "articles"
    shutil.copytree(SEED_DIR, corpus)
    home = (root / "home").resolve()
    if e5:
        hoidap = str(Path(sys.executable).parent / "hoidap")
        env = {**os.environ, "HOIDAP_HOME": str(home)}
        proc = subprocess.run(
            [hoidap, "ingest", str(corpus)],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        return SeedIndex(home, corpus, None)

    from rag.index.ingest import ingest
    from tests.fakes import HashEmbedder

    seed = SeedIndex(home, corpus, HashEmbedder())
    report = ingest([corpus], seed.settings(), embedder=seed.embedder)
    assert len(report.added) == 5 and not report.skipped, report
    return seed
