"""Login sessions that end: an idle timeout, an absolute timeout, and removed users.

Gradio keeps its session tokens in a plain dict (``app.tokens``: token -> user name) that
every protected route reads with ``.get``; ``SessionStore`` takes that dict's place
(``rag.web.gate`` installs it), so an expired token is simply unknown everywhere: the page,
the API, the queue and files. ``on_end(user, token, reason)`` is told when a session ends.

>>> t = [0.0]
>>> s = SessionStore(idle_s=10, max_s=25, clock=lambda: t[0])
>>> s["tok"] = "an"
>>> t[0] = 9; s.get("tok")
'an'
>>> t[0] = 18; s.get("tok")
'an'
>>> t[0] = 26; s.get("tok") is None
True
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass


@dataclass
class _Session:
    user: str
    created: float
    seen: float


class SessionStore(MutableMapping[str, str]):
    def __init__(
        self,
        *,
        idle_s: float = 1800.0,
        max_s: float = 43200.0,
        valid_user: Callable[[str], bool] = lambda _: True,
        on_end: Callable[[str, str, str], None] = lambda user, token, reason: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_s, self.max_s = idle_s, max_s
        self._valid_user = valid_user
        self._on_end = on_end
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def _expired(self, s: _Session, now: float) -> str | None:
        if now - s.created >= self.max_s:
            return "max_age"
        if now - s.seen >= self.idle_s:
            return "idle"
        if not self._valid_user(s.user):
            return "user_removed"
        return None

    def _end(self, token: str, reason: str) -> None:
        s = self._sessions.pop(token, None)
        if s is not None:
            self._on_end(s.user, token, reason)

    def lookup(self, token: str | None, *, touch: bool = True) -> str | None:
        if token is None:
            return None
        now = self._clock()
        with self._lock:
            s = self._sessions.get(token)
            if s is None:
                return None
            reason = self._expired(s, now)
            if reason:
                self._end(token, reason)
                return None
            if touch:
                s.seen = now
            return s.user

    def get(self, token: object, default: object = None) -> str | None:  # type: ignore[override]
        user = self.lookup(token) if isinstance(token, str) else None
        return user if user is not None else default  # type: ignore[return-value]

    def __getitem__(self, token: str) -> str:
        # no expiry check: Gradio's /logout reads every token of a user with [] while it
        # deletes them, and must not fail on one that expired meanwhile
        with self._lock:
            return self._sessions[token].user

    def __setitem__(self, token: str, user: str) -> None:
        now = self._clock()
        with self._lock:
            self._sessions[token] = _Session(user, now, now)

    def __delitem__(self, token: str) -> None:
        with self._lock:
            if self._sessions.pop(token, None) is None:
                raise KeyError(token)

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and self.lookup(token, touch=False) is not None

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._sessions))

    def __len__(self) -> int:
        return len(self._sessions)

    def sweep(self) -> int:
        """End every expired session now (they also end when next used); returns how many."""
        now = self._clock()
        with self._lock:
            gone = [(t, r) for t, s in self._sessions.items() if (r := self._expired(s, now))]
            for token, reason in gone:
                self._end(token, reason)
        return len(gone)

    def user_of(self, token: str | None) -> str | None:
        """The user of a live session without counting it as activity."""
        return self.lookup(token, touch=False)
