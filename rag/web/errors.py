"""What a web page shows when a handler fails, decided in one place.

A ``HoidapError`` is a failure hoidap knows (an empty question, a bad date, a busy index, an
LLM server that does not answer): the page shows its Vietnamese ``user_message`` and the log
gets one line. Anything else is a bug: the log gets the traceback, the page "Lỗi: ...".
Either way the handler leaves the page as it was (conversation, table, files).

>>> from rag.retrieval.retrieve import FilterError
>>> error_text(FilterError("'20x1' không phải ngày"))
"'20x1' không phải ngày"
>>> error_text(KeyError("id"))
"Lỗi: 'id'"
"""

from __future__ import annotations

import logging

from corpus.errors import HoidapError
from rag.web.render import notice_html

log = logging.getLogger("hoidap.web")


def error_text(exc: BaseException) -> str:
    """The message for the page; logs ``exc`` (a traceback unless it is a HoidapError)."""
    if isinstance(exc, HoidapError):
        log.info("%s: %s", type(exc).__name__, exc)
        return exc.user_message
    log.error("web handler failed", exc_info=exc)
    return f"Lỗi: {exc}" if str(exc) else f"Lỗi: {type(exc).__name__}"


def error_html(exc: BaseException) -> str:
    """``error_text`` as an error notice (``rag.web.render.notice_html``)."""
    return notice_html(error_text(exc), kind="error")
