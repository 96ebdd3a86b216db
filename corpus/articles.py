"""From loaded documents to cleaned ``Article`` records.

>>> from corpus.types import RawDocument
>>> doc = RawDocument(id="a1", path="tin/a1.txt", format="txt", text=(
...     "Sơn La tăng cường công tác dân vận\\n\\n"
...     "(Baosonla.vn) - Sáng 5/3, Ban Dân vận Tỉnh ủy Sơn La tổ chức hội nghị giao ban.\\n\\n"
...     "Minh Thư\\n\\nQuay lại"))
>>> a = build_article(doc)
>>> a.title
'Sơn La tăng cường công tác dân vận'
>>> a.date, a.date_precision, a.source, a.author, a.places
('--03-05', 'day_month', 'Baosonla.vn', 'Minh Thư', ('Sơn La',))
"""

from __future__ import annotations

from collections.abc import Sequence

from corpus.clean import RepeatedLines, clean_document, learn_repeated_lines
from corpus.errors import HoidapError
from corpus.metadata import extract_author, extract_source, find_publication_date
from corpus.places import extract_places
from corpus.text import clean_display
from corpus.types import Article, RawDocument, SkippedFile

__all__ = ["EmptyArticle", "build_article", "build_articles"]


class EmptyArticle(HoidapError, ValueError):
    """Nothing but boilerplate was left after cleaning a document."""

    def __init__(self, doc: RawDocument, removed: int = 0) -> None:
        self.doc_id = doc.id
        self.path = doc.path
        super().__init__(
            f"no article text left after removing boilerplate ({removed} line(s) removed)"
        )


def build_article(doc: RawDocument, repeated: RepeatedLines | None = None) -> Article:
    """Clean one document and extract its metadata; format metadata (``doc.title``,
    ``doc.date``, ``doc.source``, ``doc.author``) wins over what the text says.

    Raises ``EmptyArticle`` when the cleaned body is empty.
    """
    cleaned = clean_document(doc, repeated)
    if not cleaned.body:
        raise EmptyArticle(doc, len(cleaned.removed))
    date = find_publication_date(cleaned, doc)
    edges = (*cleaned.header_lines, *cleaned.footer_lines)
    source = _field(doc.source) or extract_source(cleaned.body, edges)
    author = _field(doc.author) or extract_author(
        cleaned.footer_lines, cleaned.body, cleaned.header_lines
    )
    return Article(
        id=doc.id,
        title=cleaned.title,
        text=cleaned.body,
        date=date[0] if date else None,
        date_precision=date[1] if date else None,
        source=source,
        url=_field(doc.url),
        author=author,
        places=extract_places(f"{cleaned.title}\n\n{cleaned.body}"),
        path=doc.path,
        fingerprint=doc.fingerprint,
        removed_lines=cleaned.removed,
    )


def build_articles(
    docs: Sequence[RawDocument],
    *,
    min_repeat_docs: int = 3,
    skipped: list[SkippedFile] | None = None,
) -> list[Article]:
    """Learn repeated lines over the batch, then ``build_article`` each document.

    An empty article raises ``EmptyArticle``, unless ``skipped`` is given: then it is
    appended there (path and reason) and the batch goes on.
    """
    repeated = learn_repeated_lines(docs, min_docs=min_repeat_docs)
    articles: list[Article] = []
    for doc in docs:
        try:
            articles.append(build_article(doc, repeated))
        except EmptyArticle as exc:
            if skipped is None:
                raise
            skipped.append(SkippedFile(path=doc.path, reason=str(exc)))
    return articles


def _field(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(clean_display(value).split())
    return value or None
