"""The web app's users: names, scrypt hashes and roles in ``$HOIDAP_HOME/users.json``.

``hoidap users add|remove|list|passwd`` edits the file; the running app re-reads it when it
changes (a removed user's sessions end at their next request, a new role applies at once).
The file is written to a temporary name and renamed, mode 0600; it never holds a password.
The old ``web_users`` setting still works: its users are admins (with a warning).

>>> import tempfile
>>> from pathlib import Path
>>> store = UserStore(Path(tempfile.mkdtemp()) / "users.json")
>>> store.add("an", "mật khẩu dài", "editor", n=2**10)
>>> store.role_of("an"), store.verify("an", "mật khẩu dài"), store.verify("an", "sai")
('editor', True, False)
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from rag.settings import Settings, SettingsError
from rag.web.auth import hash_password, parse_users, verify_password

ROLES = ("reader", "editor", "evaluator", "admin")
ROLE_LABELS = {
    "reader": "người đọc",
    "editor": "biên tập viên",
    "evaluator": "người đánh giá",
    "admin": "quản trị viên",
}
MIN_PASSWORD = 8
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


class UserError(SettingsError):
    """A bad user name, role or password, or a user that does not exist."""


@dataclass(frozen=True)
class User:
    name: str
    hash: str
    role: str
    legacy: bool = False  # from the web_users setting (an admin)


def users_file(settings: Settings) -> Path:
    return settings.home / "users.json"


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UserError(
            f"Tên đăng nhập {name[:40]!r} không hợp lệ: dùng 1-64 chữ cái không dấu, chữ số, "
            "'_', '.', '@', '-'."
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"Vai trò {role!r} không tồn tại; hãy chọn một trong: {', '.join(ROLES)}.")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"Mật khẩu cần ít nhất {MIN_PASSWORD} ký tự.")
    return password


class UserStore:
    """Users from the file (re-read when its mtime or size changes) plus ``web_users``."""

    def __init__(self, path: Path, legacy_spec: str = "") -> None:
        self.path = path
        self._legacy = {
            name: User(name, stored, "admin", legacy=True)
            for name, stored in parse_users(legacy_spec).items()
        }
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, User] = {}

    @classmethod
    def for_settings(cls, settings: Settings) -> UserStore:
        return cls(users_file(settings), settings.web_users)

    @property
    def legacy_names(self) -> list[str]:
        return sorted(self._legacy)

    def _load(self) -> dict[str, User]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._users = None, {}
            return self._users
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                users = {
                    name: User(name, str(u["hash"]), check_role(str(u["role"])))
                    for name, u in data.get("users", {}).items()
                }
            except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
                raise UserError(f"{self.path}: tệp người dùng bị hỏng ({exc})") from exc
            self._stamp, self._users = stamp, users
        return self._users

    def all(self) -> dict[str, User]:
        """File users win over ``web_users`` users of the same name."""
        with self._lock:
            return {**self._legacy, **self._load()}

    def get(self, name: str) -> User | None:
        return self.all().get(name)

    def role_of(self, name: str) -> str | None:
        u = self.get(name)
        return u.role if u else None

    def verify(self, name: str, password: str, dummy: str = "") -> bool:
        """Constant cost whether or not ``name`` exists (give ``dummy``, a hash)."""
        u = self.get(name)
        stored = u.hash if u else dummy
        ok = verify_password(password, stored) if stored else False
        return ok and u is not None

    def any(self) -> bool:
        return bool(self.all())

    # -- editing (the CLI) ---------------------------------------------------------
    def _write(self, users: dict[str, User]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "users": {
                u.name: {"hash": u.hash, "role": u.role} for u in sorted(users.values(), key=_key)
            }
        }
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def _file_users(self) -> dict[str, User]:
        with self._lock:
            return dict(self._load())

    def add(self, name: str, password: str, role: str, *, n: int = 2**14) -> None:
        check_name(name), check_role(role), check_password(password)
        users = self._file_users()
        if name in users:
            raise UserError(f"Người dùng {name!r} đã có (đổi mật khẩu: hoidap users passwd).")
        users[name] = User(name, hash_password(password, n=n), role)
        self._write(users)

    def remove(self, name: str) -> None:
        users = self._file_users()
        if name not in users:
            raise UserError(f"Không có người dùng {name!r} trong {self.path}.")
        del users[name]
        self._write(users)

    def passwd(self, name: str, password: str, *, role: str | None = None, n: int = 2**14) -> None:
        check_password(password)
        users = self._file_users()
        old = users.get(name) or self._legacy.get(name)
        if old is None:
            raise UserError(f"Không có người dùng {name!r}.")
        users[name] = User(name, hash_password(password, n=n), check_role(role or old.role))
        self._write(users)

    def set_role(self, name: str, role: str) -> None:
        users = self._file_users()
        if name not in users:
            raise UserError(f"Không có người dùng {name!r} trong {self.path}.")
        users[name] = User(name, users[name].hash, check_role(role))
        self._write(users)


def _key(u: User) -> str:
    return u.name


def legacy_warning(store: UserStore) -> str | None:
    if not store.legacy_names:
        return None
    return (
        f"CẢNH BÁO: web_users ({', '.join(store.legacy_names)}) vẫn dùng được, với vai trò "
        "admin. Hãy chuyển sang hoidap users add TÊN --role VAI_TRÒ rồi xoá web_users."
    )
