"""hoidap web app: ``python app.py [--host H] [--port P] [--home DIR] [--index NAME]``.

Thin launcher: read the settings, check the address is safe to bind, build the Assistant,
warm it up and serve the Gradio page (``rag.web``). Users and roles are managed with
``hoidap users``; ``--hash-password`` still prints a hash for the old ``web_users`` setting.
"""

from __future__ import annotations

import argparse
import os
import sys

# offline: no Gradio analytics, no model hub, no Chroma telemetry (before any import)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="app.py", description="Giao diện web của hoidap.")
    p.add_argument("--host", help="địa chỉ lắng nghe (mặc định web_host = 127.0.0.1)")
    p.add_argument("--port", type=int, help="cổng (mặc định web_port = 7860)")
    p.add_argument("--home", help="thư mục dữ liệu (mặc định $HOIDAP_HOME hoặc ~/.hoidap)")
    p.add_argument("--index", help="tên chỉ mục (mặc định: default)")
    p.add_argument("--embedding-model", help="mô hình nhúng (mặc định: e5-small)")
    p.add_argument(
        "--hash-password", action="store_true", help="in mã băm mật khẩu cho web_users rồi thoát"
    )
    return p.parse_args(argv)


def hash_password_cli() -> int:
    import getpass

    from rag.web.auth import hash_password

    if sys.stdin.isatty():
        pw = getpass.getpass("Mật khẩu: ")
        if pw != getpass.getpass("Nhập lại: "):
            print("Hai lần nhập không khớp.", file=sys.stderr)
            return 2
    else:
        pw = sys.stdin.readline().rstrip("\n")
    if len(pw) < 8:
        print("Mật khẩu cần ít nhất 8 ký tự.", file=sys.stderr)
        return 2
    print(hash_password(pw))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.hash_password:
        return hash_password_cli()
    from rag.web.memory import limit_malloc_arenas, start_trimmer

    limit_malloc_arenas()  # before the model and server threads start (rag/web/memory.py)

    from corpus.errors import HoidapError
    from rag.cli import report_error
    from rag.settings import load_settings
    from rag.web.auth import bind_warning
    from rag.web.users import UserStore

    try:
        settings = load_settings(
            args.home,
            index=args.index,
            embedding_model=args.embedding_model,
            web_host=args.host,
            web_port=args.port,
        )
        users = UserStore.for_settings(settings)  # a bad web_users or users.json: exit 2
        warning = bind_warning(settings, settings.web_host, login_on=users.any())
    except HoidapError as exc:  # SettingsError, UnsafeBind: "Lỗi cấu hình: ...", exit code 2
        return report_error(exc)
    if warning:
        print(warning, file=sys.stderr)

    from rag.assistant import Assistant
    from rag.web.app import WebApp

    app = WebApp(Assistant(settings))
    print("Đang nạp mô hình và chỉ mục…", file=sys.stderr, flush=True)
    app.warm_up()
    start_trimmer(every_s=30)
    app.launch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
