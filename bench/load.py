"""Load benchmark of the web app: N simulated users (gradio_client) asking seed questions
at once for a fixed time; latency percentiles and errors.

    .venv/bin/python bench/load.py                      # starts its own app (seed corpus)
    .venv/bin/python bench/load.py --url http://127.0.0.1:7860/ --users 10 --seconds 120

Without ``--url`` the script ingests ``corpus/articles`` into a temporary home with the
real bundled embedder and starts ``python app.py`` on a free port (default settings: the
offline answerer, ``web_concurrency`` = 4). Each user is its own Gradio session: it takes
the seed conversations (``evals/seed_qa.jsonl``; a follow-up is asked after its history
questions) in its own shuffled order, calls the chat endpoint the page uses
(``/chat``), waits for the final answer, and starts a new chat after each conversation.
Latency = from the request to the complete answer, as the client sees it. An error is an
exception or a reply without an answer. Prints a JSON record and a Markdown row.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # gradio_client's telemetry, before import
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import contains, percentile  # noqa: E402


def conversations(path: Path) -> list[tuple[list[str], str, list[str]]]:
    """(history questions, question, gold answers) for every seed item."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        history = [h["question"] for h in item.get("history") or []]
        out.append((history, item["question"], list(item.get("answers") or [])))
    return out


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(home: Path, port: int, *, quiet: bool = False) -> subprocess.Popen[bytes]:
    """Ingest the seed articles into ``home`` (``quiet``: without output), then launch."""
    env = {**os.environ, "HOIDAP_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    hoidap = str(Path(sys.executable).parent / "hoidap")
    ingest = [hoidap, "ingest", str(ROOT / "corpus" / "articles")]
    if quiet:
        subprocess.run([*ingest, "--no-progress"], env=env, check=True, capture_output=True)
    else:
        subprocess.run(ingest, env=env, check=True)
    return launch_app(home, port, env, wait_s=240)


def launch_app(
    home: Path, port: int, env: dict[str, str], *, wait_s: int
) -> subprocess.Popen[bytes]:
    """``python app.py`` on the port (its output in ``home/app.log``), once it answers."""
    log = open(home / "app.log", "wb")  # noqa: SIM115 - lives as long as the app
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    for _ in range(wait_s):
        if proc.poll() is not None:
            raise SystemExit((home / "app.log").read_text(encoding="utf-8"))
        try:
            with urllib.request.urlopen(url, timeout=5):
                return proc
        except OSError:
            time.sleep(1)
    proc.kill()
    raise SystemExit(f"app.py did not start in {wait_s} s")


def answer_text(result: Any) -> str | None:
    """The last assistant message of the chat endpoint's outputs, as plain text."""
    messages = result[0] if isinstance(result, list | tuple) else None
    if not messages:
        return None
    last = messages[-1]
    content = last.get("content") if isinstance(last, dict) else None
    if isinstance(content, list):  # gradio may hand back content blocks
        content = " ".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    if not isinstance(content, str) or "hd-meta" not in content:
        return None
    return re.sub(r"<[^>]+>", " ", content)


def ask(client: Any, question: str, gold: list[str], error_chars: int = 200) -> dict[str, Any]:
    """One question on the chat endpoint: ``ok``, then ``error`` (an exception or a reply
    without an answer, counted rather than raised: the benchmark goes on) or ``correct``
    (when ``gold`` is given: the answer contains a gold answer), then ``ms``."""
    t0 = time.perf_counter()
    row: dict[str, Any] = {}
    try:
        text = answer_text(client.predict(question, [], "", "", api_name="/chat"))
        row["ok"] = text is not None
        if text is None:
            row["error"] = "no answer in the reply"
        elif gold:
            row["correct"] = any(contains(text, g) for g in gold)
    except Exception as exc:
        row["ok"] = False
        row["error"] = f"{type(exc).__name__}: {exc}"[:error_chars]
    row["ms"] = (time.perf_counter() - t0) * 1000
    return row


def user(
    url: str,
    convs: list[tuple[list[str], str, list[str]]],
    seed: int,
    stop_at: float,
    out: list[dict[str, Any]],
    lock: threading.Lock,
) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False, analytics_enabled=False)
    order = convs[:]
    random.Random(seed).shuffle(order)
    i = 0
    while time.time() < stop_at:
        history, question, gold = order[i % len(order)]
        i += 1
        for q in [*history, question]:
            if time.time() >= stop_at:
                break
            row = {"user": seed, "question": q, **ask(client, q, gold if q == question else [])}
            with lock:
                out.append(row)
        try:
            client.predict(api_name="/new_chat")
        except Exception as exc:
            with lock:
                out.append({"user": seed, "ok": False, "error": f"new_chat: {exc}", "ms": 0.0})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="a running app; default: start one on a temporary home")
    ap.add_argument("--users", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--qa", default=str(ROOT / "evals" / "seed_qa.jsonl"))
    ap.add_argument("--out", help="write every request as JSONL here")
    args = ap.parse_args(argv)

    proc = home = None
    url = args.url
    if not url:
        home = Path(tempfile.mkdtemp(prefix="hoidap-load-"))
        port = free_port()
        proc = start_app(home, port)
        url = f"http://127.0.0.1:{port}/"
    convs = conversations(Path(args.qa))
    rows: list[dict[str, Any]] = []
    lock = threading.Lock()
    try:
        stop_at = time.time() + args.seconds
        threads = [
            threading.Thread(target=user, args=(url, convs, n, stop_at, rows, lock))
            for n in range(args.users)
        ]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)

    asks = [r for r in rows if "question" in r]
    ok_ms = [r["ms"] for r in asks if r["ok"]]
    graded = [r for r in asks if "correct" in r]
    errors = [r for r in rows if not r["ok"]]
    record = {
        "users": args.users,
        "seconds": round(wall, 1),
        "requests": len(asks),
        "errors": len(errors),
        "error_examples": sorted({r["error"] for r in errors})[:5],
        "throughput_rps": round(len(asks) / wall, 2) if wall else 0.0,
        "p50_ms": round(percentile(ok_ms, 50), 1),
        "p95_ms": round(percentile(ok_ms, 95), 1),
        "max_ms": round(max(ok_ms), 1) if ok_ms else 0.0,
        "graded_answers": len(graded),
        "graded_correct": sum(1 for r in graded if r["correct"]),
        "url": url if args.url else "own app (seed corpus, offline answerer)",
    }
    if args.out:
        Path(args.out).write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
    print(json.dumps(record, ensure_ascii=False, indent=2))
    print(
        f"| {record['users']} | {record['seconds']} s | {record['requests']} | "
        f"{record['throughput_rps']} | {record['p50_ms']} | {record['p95_ms']} | "
        f"{record['max_ms']} | {record['errors']} |"
    )
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
