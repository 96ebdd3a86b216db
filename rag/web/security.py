"""The web app's security parts, built once from the settings: users, roles, the login
throttle, sessions that expire and the audit log (``WebApp.security``).

With no users (no ``users.json`` entries and no ``web_users``) the login is off: every
request comes from the local user, who may do everything (``rag.web.access.LOCAL_ROLE``);
actions are still recorded in the audit log, with ``"user": null``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rag.settings import Settings, proxy_networks
from rag.web.access import LOCAL_ROLE, Caller, allowed, refusal
from rag.web.audit import AuditLog
from rag.web.auth import hash_password
from rag.web.gate import LoginGate, current_login
from rag.web.limits import LoginThrottle
from rag.web.sessions import SessionStore
from rag.web.users import UserError, UserStore, legacy_warning

log = logging.getLogger("hoidap.web")

# One scrypt check at a time in the whole process: a flood of login attempts then uses
# one core at most and queues, instead of taking every core from the people being answered.
_VERIFY_SLOT = threading.Lock()
REFUSAL_LOG_S = 60.0  # at most one login_refused record per name and address this often


class Security:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        users: UserStore | None = None,
    ) -> None:
        s = settings
        self.users = users or UserStore.for_settings(s)
        self.login_on = self.users.any()  # decided at start: adding users needs a restart
        self.trusted_proxies = proxy_networks(s.trusted_proxies)
        self.audit = AuditLog.for_settings(s)
        self.throttle = LoginThrottle(
            free=s.login_free_failures,
            lockout=s.login_lockout_failures,
            lockout_s=s.login_lockout_s,
            clock=clock,
        )
        self.sessions = SessionStore(
            idle_s=s.session_idle_s,
            max_s=s.session_max_s,
            valid_user=self._exists,
            on_end=self._ended,
            clock=clock,
        )
        self._dummy = hash_password("x")  # unknown names cost the same scrypt
        self._refusals: dict[tuple[str, str], float] = {}

    # -- who is asking -----------------------------------------------------------------
    def _exists(self, name: str) -> bool:
        try:
            return self.users.get(name) is not None
        except UserError:
            return False

    def role_of(self, name: str | None) -> str | None:
        if not self.login_on:
            return LOCAL_ROLE
        if not name:
            return None
        try:
            return self.users.role_of(name)
        except UserError as exc:  # a damaged users.json refuses everyone, loudly
            log.error("%s", exc)
            return None

    def caller(self, request: Any) -> Caller:
        """From a ``gr.Request`` (or None: a call with no request, the local user)."""
        user = getattr(request, "username", None) if self.login_on else None
        client = getattr(request, "client", None)
        addr = getattr(client, "host", "") or ""
        return Caller(user, self.role_of(user), addr)

    def check(self, caller: Caller, action: str) -> str | None:
        """None when ``caller`` may do ``action``; else the refusal (recorded)."""
        if allowed(caller.role, action):
            return None
        self.record("denied", caller, action=action)
        log.warning("refused %s for %s (%s)", action, caller.user, caller.role)
        return refusal(caller.role, action)

    def record(self, event: str, caller: Caller, **fields: Any) -> None:
        self.audit.write(event, user=caller.user, role=caller.role, addr=caller.addr, **fields)

    def warnings(self) -> list[str]:
        w = legacy_warning(self.users)
        return [w] if w else []

    def login_message(self) -> str:
        t = self.throttle
        return (
            "Đăng nhập để dùng hoidap. Sau "
            f"{t.free} lần nhập sai, mỗi lần thử tiếp phải chờ lâu dần; sau {t.lockout} lần, "
            f"tên đăng nhập bị khoá {t.lockout_s / 60:.0f} phút. Phiên đăng nhập hết hạn sau "
            f"{self.sessions.idle_s / 60:.0f} phút không dùng."
        )

    # -- the login -----------------------------------------------------------------------
    def _ended(self, user: str, token: str, reason: str) -> None:
        del token  # never written anywhere
        self.audit.write("session_end", user=user, reason=reason)

    def _logout(self, user: str, addr: str) -> None:
        self.audit.write("logout", user=user, role=self.role_of(user), addr=addr)

    def _check_password(self, name: str, password: str) -> bool:
        with _VERIFY_SLOT:
            try:
                return self.users.verify(name, password, self._dummy)
            except UserError as exc:
                log.error("%s", exc)
                return False

    def auth(self) -> Callable[[str, str], Awaitable[bool]] | None:
        """Gradio's ``auth`` callable, or None when the login is off. A coroutine function:
        the scrypt check runs in a worker thread, never on the server's event loop."""
        if not self.login_on:
            return None

        async def auth(username: str, password: str) -> bool:
            attempt = current_login()
            addr = attempt.addr if attempt else ""
            wait = self.throttle.wait(username, addr)
            if wait > 0:  # refused before any password check: costs nothing
                kind = "locked" if self.throttle.locked(username, addr) else "delay"
                if attempt is not None:
                    attempt.wait_s, attempt.kind = wait, kind
                # one record per name, address and minute: a flood of refused attempts must
                # not rotate the older records out of the log
                key = (username[:100], addr)
                now = time.monotonic()
                if now - self._refusals.get(key, -REFUSAL_LOG_S) >= REFUSAL_LOG_S:
                    if len(self._refusals) > 10_000:
                        self._refusals.clear()
                    self._refusals[key] = now
                    self.audit.write(
                        "login_refused",
                        user=username,
                        addr=addr,
                        reason=kind,
                        wait_s=round(wait, 1),
                    )
                return False
            ok = await asyncio.to_thread(self._check_password, username, password)
            if ok:
                self.throttle.succeeded(username)
                self.audit.write("login", user=username, role=self.role_of(username), addr=addr)
                return True
            failures = self.throttle.failed(username, addr)
            known = self._exists(username)
            self.audit.write(
                "login_failed", user=username, addr=addr, known_user=known, failures=failures
            )
            wait = self.throttle.wait(username, addr)
            if wait > 0 and attempt is not None:
                attempt.wait_s = wait
                attempt.kind = "locked" if self.throttle.locked(username, addr) else "delay"
                if attempt.kind == "locked":
                    self.audit.write("lockout", user=username, addr=addr, wait_s=round(wait))
                    log.warning("login locked for %s from %s (%.0f s)", username, addr, wait)
            return False

        return auth

    def middleware(self) -> Any:
        from starlette.middleware import Middleware

        return Middleware(
            LoginGate,
            sessions=self.sessions,
            on_logout=self._logout,
            trusted_proxies=self.trusted_proxies,
        )
