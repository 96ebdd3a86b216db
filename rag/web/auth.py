"""Optional login for the web app: users with scrypt-hashed passwords, and the bind check.

Hashes look like ``scrypt$16384$8$1$<salt>$<key>`` (base64, standard library only).
``web_users`` in the settings is ``"name:hash"`` pairs separated by commas or white space.

>>> h = hash_password("mật khẩu", n=2**10)
>>> verify_password("mật khẩu", h), verify_password("sai", h)
(True, False)
>>> import asyncio
>>> check = make_auth(f"an:{h}")
>>> [asyncio.run(check(*login)) for login in [("an", "mật khẩu"), ("an", "sai"), ("binh", "x")]]
[True, False, False]
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import os
import re
import threading
from collections.abc import Awaitable, Callable

from corpus.errors import EXIT_USAGE, HoidapError
from rag.settings import Settings, SettingsError

_SCRYPT = re.compile(r"scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)")
_MAXMEM = 128 * 1024 * 1024


def hash_password(password: str, *, n: int = 2**14, r: int = 8, p: int = 1) -> str:
    salt = os.urandom(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(key).decode()}"


def verify_password(password: str, stored: str) -> bool:
    m = _SCRYPT.fullmatch(stored)
    if m is None:
        return False
    n, r, p = (int(x) for x in m.group(1, 2, 3))
    salt, key = base64.b64decode(m.group(4)), base64.b64decode(m.group(5))
    got = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM)
    return hmac.compare_digest(got, key)


def parse_users(spec: str) -> dict[str, str]:
    """``"an:scrypt$...,binh:scrypt$..."`` -> {name: hash}; a malformed entry raises."""
    users: dict[str, str] = {}
    for item in re.split(r"[,\s]+", spec.strip()):
        if not item:
            continue
        name, sep, stored = item.partition(":")
        if not sep or not name or _SCRYPT.fullmatch(stored) is None:
            raise SettingsError(
                f"web_users: {item[:40]!r} is not 'name:scrypt$...' "
                "(make a hash with: python app.py --hash-password)"
            )
        users[name] = stored
    return users


# One scrypt check at a time in the whole process: a flood of login attempts then uses
# one core at most and queues, instead of taking every core from the people being answered.
_VERIFY_SLOT = threading.Lock()


def make_auth(spec: str) -> Callable[[str, str], Awaitable[bool]] | None:
    """Gradio's ``auth`` callable for the configured users, or None when login is off.

    It is a coroutine function: Gradio awaits it inside its login route, and the scrypt
    check (about 40 ms) runs in a worker thread, so login attempts never hold the server's
    event loop (``bench/login_flood.py`` measures what they cost everyone else)."""
    users = parse_users(spec)
    if not users:
        return None
    dummy = hash_password("x", n=2**14)

    def check(username: str, password: str) -> bool:
        stored = users.get(username)
        with _VERIFY_SLOT:
            # unknown users cost the same scrypt as known ones (no timing oracle)
            ok = verify_password(password, stored or dummy)
        return ok and stored is not None

    async def auth(username: str, password: str) -> bool:
        return await asyncio.to_thread(check, username, password)

    return auth


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class UnsafeBind(HoidapError, RuntimeError):
    """Serving on a non-loopback address with no login and no explicit permission."""

    heading = "Lỗi cấu hình"
    exit_code = EXIT_USAGE


def bind_warning(settings: Settings, host: str, *, login_on: bool | None = None) -> str | None:
    """None when the bind is fine; a warning to print when it is allowed but open;
    UnsafeBind when it is not allowed. ``login_on``: whether there are users (users.json
    or ``web_users``); by default only ``web_users`` is looked at."""
    if login_on is None:
        login_on = bool(settings.web_users.strip())
    if is_loopback(host) or login_on:
        return None
    if not settings.allow_public_without_login:
        raise UnsafeBind(
            f"Không mở ứng dụng trên {host} khi chưa bật đăng nhập: ai vào được mạng này cũng "
            "dùng được. Hãy thêm người dùng (hoidap users add TÊN --role VAI_TRÒ), hoặc nếu "
            "chắc chắn, đặt allow_public_without_login = true."
        )
    return (
        f"CẢNH BÁO: ứng dụng mở trên {host} mà không cần đăng nhập "
        "(allow_public_without_login = true). Ai vào được mạng này cũng dùng được."
    )
