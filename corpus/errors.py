"""One error base for the whole project, and the exit codes of its commands.

Every error hoidap raises on purpose subclasses ``HoidapError`` and keeps the built-in
base it had (``class IndexBusy(HoidapError, RuntimeError)``), so an ``except RuntimeError``
written before still catches it. A face catches ``HoidapError`` in one place and shows
``user_message`` (``rag.cli.report_error`` for the command line, ``rag.web.errors`` for
the web pages); any other exception is a bug and keeps its traceback.

What an error says to a person is part of its class:

* ``user_message``: the Vietnamese message; by default the message it was raised with
  (most are raised in Vietnamese already); a class whose messages are technical English
  overrides it;
* ``heading``: the short label a command line prints before it ("Lỗi", "Lỗi cấu hình");
* ``exit_code``: what a command it stops returns: ``EXIT_FAILURE``, or ``EXIT_USAGE``
  for an error the user fixes by changing the input (a setting, a question, a filter).

The exit codes live here, in the lowest layer, because three layers need them:
``rag.index.ingest`` (``IngestReport.exit_code``), ``evals.cli`` and ``rag.cli``, and
because each error class names its own; ``rag.settings`` would do for the first three
but not for ``embeddings`` and ``corpus`` errors.

>>> class Broken(HoidapError, RuntimeError):
...     '''For the example.'''
>>> err = Broken("Không đọc được chỉ mục.")
>>> err.user_message, err.heading, err.exit_code, isinstance(err, RuntimeError)
('Không đọc được chỉ mục.', 'Lỗi', 1, True)
>>> Broken().user_message   # no message: the class name, never an empty line
'Broken'
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_PARTIAL", "EXIT_USAGE", "HoidapError"]

# 0 success, 1 failure, 2 bad usage or input that cannot be read, 3 partial success (some
# inputs or rows skipped). Every hoidap command (hoidap, hoidap eval, app.py) uses these.
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


class HoidapError(Exception):
    """Base of every project error: a failure the program knows and can explain.

    Subclasses set ``heading`` and ``exit_code`` as class attributes, and override
    ``user_message`` when the message they are raised with is not meant for users.
    """

    heading: ClassVar[str] = "Lỗi"
    exit_code: ClassVar[int] = EXIT_FAILURE

    @property
    def user_message(self) -> str:
        """The Vietnamese message for the person using hoidap (one paragraph)."""
        return " ".join(str(self).split()) or type(self).__name__
