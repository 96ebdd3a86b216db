"""Does a stream of failed logins slow everyone else down? (docs/SECURITY.md, web app)

    .venv/bin/python bench/login_flood.py

Starts the app with login on (one user, scrypt hash) on a free loopback port, then measures
the latency of a request that needs no work (``GET /theme.css``) for 10 s alone and for 15 s
while 4 threads send wrong passwords to ``/login`` as fast as the server answers. Gradio
calls a synchronous ``auth`` function inside its async login route, so each scrypt check
(about 40 ms) holds the server's event loop. Prints one JSON record.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile  # noqa: E402
from bench.load import free_port, start_app  # noqa: E402
from rag.web.auth import hash_password  # noqa: E402


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="hoidap-login-"))
    (home / "settings.toml").write_text(
        f'web_users = "an:{hash_password("mat-khau-dung")}"\n', encoding="utf-8"
    )
    port = free_port()
    app = start_app(home, port, quiet=True)
    base = f"http://127.0.0.1:{port}"
    try:

        def probe(seconds: float) -> list[float]:
            out, end = [], time.time() + seconds
            while time.time() < end:
                t = time.perf_counter()
                urllib.request.urlopen(base + "/theme.css", timeout=60).read()
                out.append((time.perf_counter() - t) * 1000)
                time.sleep(0.05)
            return out

        stop = threading.Event()
        failed: list[int] = []

        def flood() -> None:
            data = urllib.parse.urlencode({"username": "an", "password": "sai"}).encode()
            n = 0
            while not stop.is_set():
                try:
                    urllib.request.urlopen(
                        urllib.request.Request(base + "/login", data=data), timeout=60
                    )
                except Exception:  # HTTP 400: wrong password, as intended
                    n += 1
            failed.append(n)

        quiet = probe(10)
        threads = [threading.Thread(target=flood) for _ in range(4)]
        t0 = time.time()
        for t in threads:
            t.start()
        busy = probe(15)
        stop.set()
        for t in threads:
            t.join()
        elapsed = time.time() - t0
    finally:
        app.terminate()
        app.wait(timeout=30)
    record = {
        "alone_p50_ms": round(percentile(quiet, 50), 1),
        "alone_p95_ms": round(percentile(quiet, 95), 1),
        "during_flood_p50_ms": round(percentile(busy, 50), 1),
        "during_flood_p95_ms": round(percentile(busy, 95), 1),
        "during_flood_max_ms": round(max(busy), 1),
        "failed_logins": sum(failed),
        "failed_logins_per_s": round(sum(failed) / elapsed, 1),
    }
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
