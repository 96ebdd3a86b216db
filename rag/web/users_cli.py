"""``hoidap users``: the web app's users and roles, so nobody edits password hashes by hand.

Edits ``$HOIDAP_HOME/users.json`` (a running app sees the change at its next request) and
records every change in the audit log. ``rag.cli`` parses the command line and calls
``users_command``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from corpus.errors import EXIT_OK
from rag.settings import Settings


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _read_password() -> str:
    """Twice at a terminal (not echoed); else the first line of stdin (for scripts)."""
    import getpass

    from rag.web.users import UserError

    if sys.stdin.isatty():
        pw = getpass.getpass("Mật khẩu: ")
        if pw != getpass.getpass("Nhập lại: "):
            raise UserError("Hai lần nhập không khớp.")
        return pw
    return sys.stdin.readline().rstrip("\n")


def users_command(args: argparse.Namespace, settings: Settings) -> int:
    """``hoidap users add|remove|list|passwd|role``: edits ``$HOIDAP_HOME/users.json`` (a
    running app sees the change at the next request) and records it in the audit log."""
    import getpass

    from rag.web.audit import AuditLog
    from rag.web.users import ROLE_LABELS, UserStore, legacy_warning

    store = UserStore.for_settings(settings)
    audit = AuditLog.for_settings(settings)
    by = getpass.getuser()
    cmd = args.users_command
    if cmd == "list":
        rows = sorted(store.all().values(), key=lambda u: u.name)
        if args.json:
            print_json([{"name": u.name, "role": u.role, "from_web_users": u.legacy} for u in rows])
            return EXIT_OK
        for u in rows:
            where = " (từ web_users)" if u.legacy else ""
            print(f"{u.name}\t{u.role}\t{ROLE_LABELS[u.role]}{where}")
        if not rows:
            print("Chưa có người dùng: trang web không cần đăng nhập (chỉ mở trên 127.0.0.1).")
        warning = legacy_warning(store)
        if warning:
            print(warning, file=sys.stderr)
        return EXIT_OK
    if cmd == "add":
        store.add(args.name, _read_password(), args.role)
        audit.write("user_added", user=args.name, role=args.role, by=by)
        print(f"Đã thêm {args.name} ({args.role}) vào {store.path}.")
    elif cmd == "remove":
        store.remove(args.name)
        audit.write("user_removed", user=args.name, by=by)
        print(f"Đã xoá {args.name}; các phiên đăng nhập của người này kết thúc.")
    elif cmd == "passwd":
        store.passwd(args.name, _read_password())
        audit.write("password_changed", user=args.name, by=by)
        print(f"Đã đổi mật khẩu của {args.name}.")
    elif cmd == "role":
        store.set_role(args.name, args.role)
        audit.write("role_changed", user=args.name, role=args.role, by=by)
        print(f"{args.name} giờ có vai trò {args.role}.")
    return EXIT_OK
