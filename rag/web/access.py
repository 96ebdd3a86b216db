"""Who may do what in the web app: roles, their actions, and the check every handler makes.

``reader`` asks, builds briefings and exports them; ``editor`` also uploads, deletes and
re-indexes; ``evaluator`` is a reader who also runs evaluations; ``admin`` does all of it.
With the login off (the loopback default) the one local user may do everything, as before.

>>> allowed("reader", "ask"), allowed("reader", "upload"), allowed("editor", "evaluate")
(True, False, False)
>>> refusal("reader", "delete")
'Tài khoản của bạn (vai trò: người đọc) không có quyền xoá bài viết. Hãy nhờ quản trị viên.'
>>> sorted(tabs_for("evaluator"))
['brief', 'chat', 'eval']
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.web.users import ROLE_LABELS, ROLES

ACTIONS = {
    "ask": "hỏi đáp",
    "brief": "soạn tài liệu tóm tắt",
    "export": "tải tài liệu tóm tắt",
    "upload": "tải lên và nạp tài liệu",
    "delete": "xoá bài viết",
    "reindex": "làm mới chỉ mục",
    "evaluate": "chạy đánh giá",
}
_READ = frozenset({"ask", "brief", "export"})
PERMISSIONS: dict[str, frozenset[str]] = {
    "reader": _READ,
    "editor": _READ | {"upload", "delete", "reindex"},
    "evaluator": _READ | {"evaluate"},
    "admin": frozenset(ACTIONS),
}
# the tabs of the page and the action each one needs
TAB_ACTIONS = {"chat": "ask", "brief": "brief", "corpus": "upload", "eval": "evaluate"}
LOCAL_ROLE = "admin"  # login off: the person at this computer
assert set(PERMISSIONS) == set(ROLES)


def allowed(role: str | None, action: str) -> bool:
    if action not in ACTIONS:
        raise KeyError(action)
    return role is not None and action in PERMISSIONS.get(role, frozenset())


def refusal(role: str | None, action: str) -> str:
    if role is None:
        return (
            "Phiên đăng nhập đã hết hạn hoặc tài khoản đã bị xoá. "
            "Hãy tải lại trang và đăng nhập lại."
        )
    return (
        f"Tài khoản của bạn (vai trò: {ROLE_LABELS.get(role, role)}) không có quyền "
        f"{ACTIONS[action]}. Hãy nhờ quản trị viên."
    )


def tabs_for(role: str | None) -> set[str]:
    return {tab for tab, action in TAB_ACTIONS.items() if allowed(role, action)}


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the user name (None with the login off), role and address."""

    user: str | None
    role: str | None
    addr: str = ""

    def may(self, action: str) -> bool:
        return allowed(self.role, action)
