"""The default corpus (the five seed articles) for tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

from corpus.text import nfc
from corpus.types import RawDocument

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
