"""Briefings for trainers: overview, key points with citations, key figures, a timeline
and the sources, built offline from the index (better with an LLM), exported as Markdown
or DOCX. See ``rag.briefing.build`` for how the parts are chosen.

>>> # from rag.briefing import BriefingBuilder, write_briefing          # doctest: +SKIP
>>> # b = BriefingBuilder(assistant).build("Quy chế dân chủ ở cơ sở")   # doctest: +SKIP
>>> # write_briefing(b, "tom-tat.docx")                                 # doctest: +SKIP
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
