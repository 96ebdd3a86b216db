"""Does the login throttle stop password guessing, without slowing anyone else down?
(docs/SECURITY.md, docs/BENCHMARKS.md "Login lockout (roles issue)")

    .venv/bin/python bench/login_lockout.py [--seconds 60]

Starts the app twice with login on (users ``an`` and ``binh``, real scrypt cost), once with
the limits turned off (the behaviour before this issue) and once with the defaults
(3 free failures, then 2, 4, 8 ... s, lockout after 10 for 15 min). Each time, for
``--seconds``:

* 4 attacker threads send wrong passwords for ``an`` from 127.0.0.1 as fast as the server
  answers; every answer is counted as *checked* (a password check ran: HTTP 400) or
  *refused* (the throttle answered without a check: 200 with ``retry_after``);
* a second attacker rotates names (``u0``, ``u1`` ...) from 127.0.0.3 (the address limit);
* meanwhile one probe measures ``GET /theme.css`` (no work) and another logs ``binh`` in
  from 127.0.0.2 every second (a colleague's login).

Prints one JSON record per run: checked guesses per minute in the first 10 s and after,
refusals, and the probes' latencies.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile  # noqa: E402
from bench.load import free_port, start_app  # noqa: E402
from rag.web.users import UserStore  # noqa: E402

PW = "mat-khau-dung-123"


def _request(port: int, method: str, path: str, body: dict | None = None, source: str = ""):
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=60, source_address=(source, 0) if source else None
    )
    try:
        data = urllib.parse.urlencode(body).encode() if body else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def run(seconds: float, limits_on: bool) -> dict:
    home = Path(tempfile.mkdtemp(prefix="hoidap-lockout-"))
    extra = "" if limits_on else "login_free_failures = 1000000\nlogin_lockout_failures = 1000001\n"
    (home / "settings.toml").write_text(extra, encoding="utf-8")
    store = UserStore(home / "users.json")
    store.add("an", PW, "reader")
    store.add("binh", PW, "reader")
    port = free_port()
    app = start_app(home, port, quiet=True)
    try:
        stop = threading.Event()
        checked: list[float] = []  # times of answers that ran a password check
        refused: list[float] = []
        lock = threading.Lock()

        def attack(names: bool, source: str) -> None:
            i = 0
            while not stop.is_set():
                name = f"u{i}" if names else "an"
                i += 1
                status, _ = _request(
                    port, "POST", "/login", {"username": name, "password": "sai"}, source
                )
                with lock:
                    (checked if status == 400 else refused).append(time.time())

        def probe(out: list[float], fn) -> None:
            while not stop.is_set():
                t = time.perf_counter()
                fn()
                out.append((time.perf_counter() - t) * 1000)
                time.sleep(0.05)

        theme: list[float] = []
        colleague: list[float] = []
        colleague_ok: list[bool] = []

        def theme_css() -> None:
            _request(port, "GET", "/theme.css")

        def binh_login() -> None:
            status, body = _request(
                port, "POST", "/login", {"username": "binh", "password": PW}, "127.0.0.2"
            )
            colleague_ok.append(status == 200 and b'"success":true' in body.replace(b" ", b""))
            time.sleep(0.95)

        alone: list[float] = []
        end = time.time() + 5
        while time.time() < end:
            t = time.perf_counter()
            theme_css()
            alone.append((time.perf_counter() - t) * 1000)
            time.sleep(0.05)

        threads = [threading.Thread(target=attack, args=(False, "127.0.0.1")) for _ in range(4)]
        threads.append(threading.Thread(target=attack, args=(True, "127.0.0.3")))
        threads += [
            threading.Thread(target=probe, args=(theme, theme_css)),
            threading.Thread(target=probe, args=(colleague, binh_login)),
        ]
        t0 = time.time()
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join()
        audit = (home / "audit" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    finally:
        app.terminate()
        app.wait(timeout=30)
    first = [t for t in checked if t - t0 < 10]
    later = [t for t in checked if t - t0 >= 10]
    return {
        "limits": "on (defaults)" if limits_on else "off",
        "seconds": seconds,
        "checked_guesses_per_min_first_10s": round(len(first) * 6, 1),
        "checked_guesses_per_min_after_10s": round(len(later) / max(seconds - 10, 1) * 60, 1),
        "checked_total": len(checked),
        "refused_without_check": len(refused),
        "theme_css_alone_p50_ms": round(percentile(alone, 50), 1),
        "theme_css_during_p50_ms": round(percentile(theme, 50), 1),
        "theme_css_during_p95_ms": round(percentile(theme, 95), 1),
        "colleague_login_p50_ms": round(percentile(colleague, 50) - 950, 1),
        "colleague_login_p95_ms": round(percentile(colleague, 95) - 950, 1),
        "colleague_logins_ok": f"{sum(colleague_ok)}/{len(colleague_ok)}",
        "audit_lines": len(audit),
        "lockout_events": sum('"event": "lockout"' in x for x in audit),
    }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=60)
    args = p.parse_args()
    for limits_on in (False, True):
        print(json.dumps(run(args.seconds, limits_on)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
