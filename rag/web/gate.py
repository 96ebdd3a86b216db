"""An ASGI middleware in front of Gradio's routes: what the login needs and Gradio lacks.

* It puts ``rag.web.sessions.SessionStore`` in place of Gradio's token dict (on the first
  request, before any login can be stored), so sessions expire.
* For ``POST /login`` it records the client address where the ``auth`` callable can read
  it (``current_login()``), and when that callable refused an attempt because of the
  throttle it turns Gradio's "400 Incorrect credentials" into ``200 {"success": false,
  "detail": ..., "retry_after": s}`` with a ``Retry-After`` header and a short-lived
  ``hoidap-login-wait`` cookie: Gradio's login form reloads the page on a 200, and the page
  (``GET /`` without a live session while that cookie lasts) then says in Vietnamese how
  long to wait, and comes back to the login form by itself when the time is up.
* ``GET /logout`` is recorded (who logged out) before Gradio ends the session.
* Behind a reverse proxy listed in ``trusted_proxies`` it takes the client address from
  ``X-Forwarded-For`` (the right-most address that is not a trusted proxy) and puts it in
  the request's ``client``, so the throttle and the audit log see the user, not the proxy.
  A header from any other peer is ignored: a client cannot choose its own address.
"""

from __future__ import annotations

import html
import ipaddress
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from rag.web.limits import wait_text

WAIT_COOKIE = "hoidap-login-wait"
REASONS = {
    "locked": "Đã nhập sai mật khẩu quá nhiều lần: tên đăng nhập này hoặc máy này tạm thời "
    "bị khoá đăng nhập.",
    "delay": "Tên đăng nhập hoặc mật khẩu không đúng, và đã sai nhiều lần liên tiếp.",
}
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class LoginAttempt:
    addr: str
    wait_s: float = 0.0  # set by the auth callable: refused, try again after this
    kind: str = ""  # "locked" (the lockout window) or "delay" (the growing delay)

    @property
    def message(self) -> str:
        return REASONS.get(self.kind, REASONS["delay"]) + " " + wait_text(self.wait_s)


_attempt: ContextVar[LoginAttempt | None] = ContextVar("hoidap_login_attempt", default=None)


def current_login() -> LoginAttempt | None:
    return _attempt.get()


def _cookies(scope: Scope) -> dict[str, str]:
    raw = b"; ".join(v for k, v in scope.get("headers", []) if k == b"cookie")
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except Exception:  # a malformed cookie header: no cookies
        return {}
    return {k: m.value for k, m in jar.items()}


def session_tokens(scope: Scope) -> list[str]:
    return [v for k, v in _cookies(scope).items() if k.startswith("access-token")]


def wait_page(seconds: float, kind: str) -> bytes:
    message = REASONS.get(kind, REASONS["delay"])
    s = max(1, int(seconds + 0.999))
    return (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{s}"><title>Đăng nhập tạm khoá — hoidap</title>'
        "<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;"
        "padding:0 1rem;line-height:1.5}</style></head><body>"
        '<h1 id="hd-login-wait">Đăng nhập tạm thời bị khoá</h1>'
        f"<p>{html.escape(message)}</p><p>{html.escape(wait_text(seconds))} Trang sẽ tự "
        'quay lại ô đăng nhập khi hết thời gian chờ; <a href="./">thử lại</a>.</p>'
        "</body></html>"
    ).encode()


Networks = Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def forwarded_client(scope: Scope, proxies: Networks) -> str | None:
    """The user's address when the peer is a trusted proxy that sent X-Forwarded-For."""
    peer = _ip((scope.get("client") or ("", 0))[0] or "")
    if peer is None or not any(peer in net for net in proxies):
        return None
    values = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"]
    hops = [h.strip() for h in ",".join(values).split(",") if h.strip()]
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            return None  # garbage where an address should be: keep the proxy's
        if not any(ip in net for net in proxies):
            return str(ip)
    return hops[0] if hops else None


class LoginGate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        sessions: MutableMapping[str, str],
        on_logout: Callable[[str, str], None],
        clock: Callable[[], float] = time.time,
        trusted_proxies: Networks = (),
    ) -> None:
        self.trusted_proxies = list(trusted_proxies)
        self.app = app
        self.sessions = sessions
        self.on_logout = on_logout
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        server = scope.get("app")
        if server is not None and getattr(server, "tokens", None) is not self.sessions:
            server.tokens = self.sessions  # Gradio's dict -> sessions that expire
        path, method = scope.get("path", ""), scope.get("method", "")
        real = forwarded_client(scope, self.trusted_proxies)
        if real is not None:
            scope["client"] = (real, 0)
        addr = (scope.get("client") or ("", 0))[0] or ""
        if method == "POST" and path.rstrip("/") == "/login":
            await self._login(scope, receive, send, LoginAttempt(addr))
            return
        if method == "GET" and path.rstrip("/") == "/logout":
            for token in session_tokens(scope):
                user = self.sessions.get(token)
                if user is not None:
                    self.on_logout(user, addr)
                    break
        if method == "GET" and path in ("/", ""):
            until = _cookies(scope).get(WAIT_COOKIE, "")
            left = _float(until.partition(":")[0]) - self.clock()
            live = any(self.sessions.get(t) for t in session_tokens(scope))
            if left > 0 and not live:
                body = wait_page(left, until.partition(":")[2])
                await _respond(send, 200, body, [(b"content-type", b"text/html; charset=utf-8")])
                return
        await self.app(scope, receive, send)

    async def _login(self, scope: Scope, receive: Receive, send: Send, a: LoginAttempt) -> None:
        token = _attempt.set(a)
        replaced = False

        async def send_or_replace(message: MutableMapping[str, Any]) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and a.wait_s > 0:
                replaced = True
                s = max(1, int(a.wait_s + 0.999))
                body = json.dumps(
                    {"success": False, "detail": a.message, "retry_after": s}, ensure_ascii=False
                ).encode()
                # "until:kind" for the wait page: shown, never trusted (the throttle decides)
                value = f"{self.clock() + s:.0f}:{a.kind}"
                cookie: SimpleCookie = SimpleCookie()
                cookie[WAIT_COOKIE] = value
                cookie[WAIT_COOKIE]["max-age"] = s
                cookie[WAIT_COOKIE]["path"] = "/"
                cookie[WAIT_COOKIE]["samesite"] = "Lax"
                headers = [
                    (b"content-type", b"application/json"),
                    (b"retry-after", str(s).encode()),
                    (b"set-cookie", cookie.output(header="").strip().encode()),
                ]
                await _respond(send, 200, body, headers)
                return
            if replaced:
                return  # the original body of a replaced response
            await send(message)

        try:
            await self.app(scope, receive, send_or_replace)
        finally:
            _attempt.reset(token)


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
