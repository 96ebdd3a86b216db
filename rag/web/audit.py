"""The audit trail: one JSON object a line in ``$HOIDAP_HOME/audit/audit.jsonl``.

Who (user, role, address), when (UTC, ISO 8601), what (``event`` plus its details): logins
and failures, lockouts, logouts, expired sessions, refused actions, uploads, deletes,
re-index runs, evaluations and user changes. Questions and briefing topics are recorded
only when ``audit_questions`` is on. Lines are only ever appended; when the file passes
``max_bytes`` it becomes ``audit.jsonl.1`` (``.1`` becomes ``.2`` ... up to ``backups``).
Writers in several processes (the app, ``hoidap users``) take turns on a lock file.

>>> import json, tempfile
>>> from pathlib import Path
>>> log = AuditLog(Path(tempfile.mkdtemp()) / "audit.jsonl", clock=lambda: 0.0)
>>> log.write("login", user="an", addr="127.0.0.1")
>>> json.loads(log.path.read_text())
{'ts': '1970-01-01T00:00:00.000Z', 'event': 'login', 'user': 'an', 'addr': '127.0.0.1'}
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.settings import Settings

log = logging.getLogger("hoidap.audit")


def audit_path(home: Path) -> Path:
    return home / "audit" / "audit.jsonl"


class AuditLog:
    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 10 * 1024 * 1024,
        backups: int = 5,
        questions: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.questions = questions  # whether question text may be recorded
        self._clock = clock
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: Settings) -> AuditLog:
        """The log of ``settings.home``, rotated and filtered as the settings say."""
        return cls(
            audit_path(settings.home),
            max_bytes=int(settings.audit_max_mb * 1024 * 1024),
            backups=settings.audit_backups,
            questions=settings.audit_questions,
        )

    def write(self, event: str, **fields: Any) -> None:
        """Append one record; a failure to write is logged, never raised (the action
        it records has already happened)."""
        ts = datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="milliseconds")
        record = {"ts": ts.replace("+00:00", "Z"), "event": event, **fields}
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        try:
            self._append(line.encode("utf-8"))
        except OSError as exc:
            log.error("audit log %s: %s", self.path, exc)

    def _append(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock, open(self.path.with_name(".audit.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(data) > self.max_bytes:
                self._rotate()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)

    def _rotate(self) -> None:
        if self.backups < 1:
            self.path.unlink(missing_ok=True)
            return
        for i in range(self.backups, 0, -1):
            src = self.path if i == 1 else self.path.with_name(f"{self.path.name}.{i - 1}")
            if src.exists():
                os.replace(src, self.path.with_name(f"{self.path.name}.{i}"))

    def files(self) -> list[Path]:
        """The current file and its backups, oldest last."""
        names = [self.path] + [
            self.path.with_name(f"{self.path.name}.{i}") for i in range(1, self.backups + 1)
        ]
        return [p for p in names if p.exists()]

    def records(self) -> list[dict[str, Any]]:
        """Every record, oldest first (for tests and ``hoidap users``)."""
        out: list[dict[str, Any]] = []
        for p in reversed(self.files()):
            out += [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x]
        return out
