"""Try docs/DEPLOY.md on loopback: app replicas on one home behind nginx (deploy/nginx.conf).

    .venv/bin/python scripts/try_deploy.py --home /tmp/deployhome    # a home with an index

Starts ``python app.py`` on ports 7860 and 7861 (one home, login on, trusted_proxies =
127.0.0.1) and nginx on 127.0.0.1:8088, then checks, printing one line per check:

1. the page and a question with a citation, through the proxy (gradio_client, logged in);
2. a wrong password sent through the proxy from 127.0.0.2 is audited with that address,
   not the proxy's;
3. an article uploaded on replica 7860 is answered by replica 7861 (seconds it took);
4. the article deleted on 7861 is no longer cited by 7860.

Everything it starts is stopped at the end; the home gets a user ``thu`` (admin).
Needs nginx (Debian: ``apt-get install nginx-light``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PORTS = (7860, 7861)
PROXY = "http://127.0.0.1:8088"
QUESTION = "Quận 9 kiểm tra bao nhiêu cơ quan?"
NEW_TEXT = (
    "Xã Hòa Bình tổ chức hội nghị đối thoại với nhân dân\n\n"
    "Ngày 5/11/2026, Ủy ban nhân dân xã Hòa Bình tổ chức hội nghị đối thoại với 212 hộ dân "
    "về dự án đường liên thôn. Chủ tịch UBND xã Hòa Bình là ông Lê Văn Khải.\n"
)
NEW_QUESTION = "Xã Hòa Bình đối thoại với bao nhiêu hộ dân?"


def wait_http(url: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status < 500:
                    return
        except urllib.error.HTTPError as e:
            if e.code < 500:
                return
        except OSError:
            pass
        time.sleep(1)
    raise SystemExit(f"{url} did not answer in {timeout:.0f} s")


def client(url: str, auth: tuple[str, str]):
    from gradio_client import Client

    return Client(url, auth=auth, verbose=False, analytics_enabled=False)


def answer(c, question: str) -> str:
    out = c.predict(question, [], "", "", api_name="/chat")
    return str(out[0][-1]["content"])


def login_from(addr: str, user: str, password: str) -> int:
    """POST /login through the proxy from a chosen loopback source address."""
    body = f"username={user}&password={password}".encode()
    s = socket.create_connection(("127.0.0.1", 8088), timeout=10, source_address=(addr, 0))
    req = (
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 6.6.6.6\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    s.sendall(req)
    status = int(s.recv(64).split()[1])
    s.close()
    return status


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--home", required=True)
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    args = ap.parse_args()
    home = Path(args.home).resolve()
    from rag.settings import load_settings
    from rag.web.users import UserStore

    settings = load_settings(home, env={})
    password = secrets.token_urlsafe(12)
    store = UserStore.for_settings(settings)
    if store.get("thu") is not None:
        store.remove("thu")
    store.add("thu", password, "admin")
    auth = ("thu", password)
    env = {**os.environ, "HOIDAP_TRUSTED_PROXIES": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
    procs: list[subprocess.Popen[bytes]] = []
    prefix = Path(tempfile.mkdtemp(prefix="hoidap-nginx-"))
    (prefix / "logs").mkdir()
    nginx = [args.nginx, "-p", str(prefix), "-c", str(ROOT / "deploy" / "nginx.conf")]
    ok = True
    try:
        for port in PORTS:
            cmd = [sys.executable, "app.py", "--home", str(home), "--port", str(port)]
            log = open(prefix / f"app-{port}.log", "wb")  # noqa: SIM115 - closed with the process
            procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log))
        subprocess.run(nginx, check=True)
        for port in PORTS:
            wait_http(f"http://127.0.0.1:{port}/")
        wait_http(PROXY + "/")

        def check(name: str, passed: bool, detail: str = "") -> None:
            nonlocal ok
            ok &= passed
            print(f"{'ok  ' if passed else 'FAIL'} {name}{': ' + detail if detail else ''}")

        with urllib.request.urlopen(PROXY + "/", timeout=10) as r:
            check("page through the proxy", r.status == 200 and b"gradio" in r.read().lower())
        t0 = time.perf_counter()
        text = answer(client(PROXY, auth), QUESTION)
        check(
            "question through the proxy",
            "[1]" in text or "hd-src" in text,
            f"{time.perf_counter() - t0:.1f} s, {text[:80]!r}",
        )

        status = login_from("127.0.0.2", "thu", "sai-mat-khau")
        audit = home / "audit" / "audit.jsonl"
        rows = [json.loads(x) for x in audit.read_text(encoding="utf-8").splitlines()]
        failed = [r for r in rows if r.get("event") == "login_failed"]
        got = failed[-1].get("addr") if failed else None
        check(
            "wrong password audited with the user's address", got == "127.0.0.2", f"{status}, {got}"
        )

        from gradio_client import handle_file

        a, b = (
            client(f"http://127.0.0.1:{PORTS[0]}", auth),
            client(f"http://127.0.0.1:{PORTS[1]}", auth),
        )
        before = set(_article_ids(settings))
        doc = prefix / "hoa-binh-doi-thoai.txt"
        doc.write_text(NEW_TEXT, encoding="utf-8")
        t0 = time.perf_counter()
        a.predict([handle_file(str(doc))], api_name="/upload")
        uploaded = time.perf_counter() - t0
        seen = None
        for _ in range(60):
            if "212" in answer(b, NEW_QUESTION):
                seen = time.perf_counter() - t0
                break
            time.sleep(0.5)
        check(
            "uploaded on one replica, answered by the other",
            seen is not None,
            f"upload {uploaded:.1f} s, answered by the other {seen or 0:.1f} s after the start",
        )
        (new_id,) = set(_article_ids(settings)) - before or {None}
        b.predict(new_id, api_name="/delete")
        gone = "212" not in answer(a, NEW_QUESTION)
        check("deleted on one replica, gone from the other", gone, str(new_id))
    finally:
        subprocess.run([*nginx, "-s", "stop"], check=False)
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        store.remove("thu")
    print("all checks passed" if ok else "some checks FAILED", f"(logs in {prefix})")
    return 0 if ok else 1


def _article_ids(settings) -> list[str]:
    from rag.index.catalog import Catalog

    out: list[str] = []
    for path in settings.index_root.glob("*/catalog.sqlite"):
        cat = Catalog(path)
        out += cat.article_ids()
        cat.close()
    return out


if __name__ == "__main__":
    sys.exit(main())
