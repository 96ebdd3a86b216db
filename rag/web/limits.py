"""The login throttle: wrong passwords for one name or from one address cost more and more.

After ``free`` failures (counted per name and, with ``addr_factor`` times the limits, per
address), each further attempt must wait ``2, 4, 8 ... up to max_delay_s`` seconds after the
last failure; after ``lockout`` failures the name (or address) is locked for ``lockout_s``.
A refused attempt never reaches the password check (no scrypt, no cost to other users).
Failures are forgotten ``lockout_s`` after the last one; a good password clears the name.

>>> t = [0.0]
>>> th = LoginThrottle(free=2, lockout=4, lockout_s=60, clock=lambda: t[0])
>>> th.failed("an", "10.0.0.1"), th.wait("an", "10.0.0.1")
(1, 0.0)
>>> th.failed("an", "10.0.0.1"), th.wait("an", "10.0.0.1"), th.wait("binh", "10.0.0.2")
(2, 2.0, 0.0)
>>> th.failed("an", "10.0.0.1"), th.failed("an", "10.0.0.1")
(3, 4)
>>> th.wait("an", "10.0.0.9")  # the name is locked, from any address
60.0
>>> t[0] = 61.0; th.wait("an", "10.0.0.1")
0.0
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Count:
    failures: int = 0
    last: float = 0.0


class LoginThrottle:
    def __init__(
        self,
        *,
        free: int = 3,
        lockout: int = 10,
        lockout_s: float = 900.0,
        max_delay_s: float = 60.0,
        addr_factor: int = 3,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.free, self.lockout, self.lockout_s = free, lockout, lockout_s
        self.max_delay_s, self.addr_factor = max_delay_s, addr_factor
        self._clock = clock
        self._max_keys = max_keys
        self._counts: dict[tuple[str, str], _Count] = {}
        self._lock = threading.Lock()

    def _limit(self, kind: str) -> tuple[int, int]:
        f = self.addr_factor if kind == "addr" else 1
        return self.free * f, self.lockout * f

    def _wait_for(self, kind: str, key: str, now: float) -> float:
        c = self._counts.get((kind, key))
        if c is None:
            return 0.0
        if now - c.last >= self.lockout_s:
            del self._counts[(kind, key)]
            return 0.0
        free, lockout = self._limit(kind)
        if c.failures >= lockout:
            return c.last + self.lockout_s - now
        if c.failures >= free:
            delay = min(2.0 ** (c.failures - free + 1), self.max_delay_s)
            return max(0.0, c.last + delay - now)
        return 0.0

    def wait(self, name: str, addr: str) -> float:
        """Seconds before ``name`` may try again from ``addr`` (0: it may try now)."""
        now = self._clock()
        with self._lock:
            return max(self._wait_for("name", name, now), self._wait_for("addr", addr, now))

    def locked(self, name: str, addr: str) -> bool:
        """Whether the name or the address is in its lockout window (not just a delay)."""
        now = self._clock()
        with self._lock:
            for kind, key in (("name", name), ("addr", addr)):
                c = self._counts.get((kind, key))
                if c and now - c.last < self.lockout_s and c.failures >= self._limit(kind)[1]:
                    return True
        return False

    def failed(self, name: str, addr: str) -> int:
        """Count a wrong password; returns the name's failures so far."""
        now = self._clock()
        with self._lock:
            if len(self._counts) >= self._max_keys:  # a flood of names: forget the oldest
                for k in sorted(self._counts, key=lambda k: self._counts[k].last)[:1000]:
                    del self._counts[k]
            for key in (("name", name), ("addr", addr)):
                c = self._counts.get(key)
                if c is None or now - c.last >= self.lockout_s:
                    c = self._counts[key] = _Count()
                c.failures += 1
                c.last = now
            return self._counts[("name", name)].failures

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._counts.pop(("name", name), None)


def wait_text(seconds: float) -> str:
    """A Vietnamese 'wait' sentence: ``wait_text(75) == 'Hãy chờ 2 phút rồi thử lại.'``."""
    s = max(1, int(seconds + 0.999))
    if s < 60:
        return f"Hãy chờ {s} giây rồi thử lại."
    return f"Hãy chờ {(s + 59) // 60} phút rồi thử lại."
