"""Briefings for trainers: overview, key points with citations, key figures, a timeline
and the sources, built offline from the index (better with an LLM), exported as Markdown
or DOCX. See ``rag.briefing.build`` for how the parts are chosen.

Over an indexed corpus: ``b = BriefingBuilder(build_services(settings)).build("Quy chế dân
chủ ở cơ sở")``, then ``write_briefing(b, "tom-tat.docx")``. Without an index, a briefing
is a plain record that exports as it is:

>>> from rag.types import Filters
>>> b = Briefing(topic="Dân vận khéo", filters=Filters(), summary="Chưa có tài liệu.")
>>> to_markdown(b).splitlines()[0]
'# Tài liệu tóm tắt: Dân vận khéo'
"""

from rag.briefing.build import BriefingBuilder
from rag.briefing.export import to_docx_bytes, to_markdown, write_briefing
from rag.briefing.model import Briefing, KeyFigure, Quote, Source, Statement, TimelineEvent

__all__ = [
    "Briefing",
    "BriefingBuilder",
    "KeyFigure",
    "Quote",
    "Source",
    "Statement",
    "TimelineEvent",
    "to_docx_bytes",
    "to_markdown",
    "write_briefing",
]
