"""Soak benchmark of the web app: chat and ingest together for a long time, on loopback.

    .venv/bin/python bench/soak.py --minutes 30 --out /tmp/soak      # the issue #6 run
    .venv/bin/python bench/soak.py --minutes 2 --users 2              # a quick try

The script starts its own app (like ``bench/load.py``): a temporary home, the seed
articles plus ``--preload`` Dân trí articles ingested with the bundled e5-small, and
``python app.py`` on a free loopback port with the default settings (offline extractive
answerer, ``web_concurrency`` = 4). Then, for ``--minutes``:

* ``--users`` chat users, each its own ``gradio_client`` session on ``/chat``, go through
  the seed conversations (``evals/seed_qa.jsonl``) with ``--think`` seconds (± 50%)
  between questions;
* an uploader sends one new article (the next Dân trí record, as a ``.txt``) every
  ``--upload-every`` seconds through ``/upload``, the page's upload endpoint, so it is
  saved and ingested by the app while the users chat; every 5th upload sends an earlier
  file again with a paragraph added, so updates are exercised too;
* a sampler records, every 10 s, the app's resident memory (RSS, with any children), its
  threads and open files, the home folder's size and the load average.

An error is an exception, a chat reply without an answer, or an upload whose report does
not show the file as added or updated. After the run the app's log is searched for the
questions' text (it must not be there: questions are not logged).

Output: ``summary.json``, ``requests.jsonl``, ``samples.jsonl`` in ``--out`` and a
Markdown table per ``--bucket`` minutes on stdout (requests, errors, p50/p95, uploads, RSS).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # gradio_client's telemetry, before import
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile  # noqa: E402
from bench.load import ask, conversations, free_port, launch_app  # noqa: E402

NEWS = ROOT.parent / "shared" / "data" / "news" / "dantri_2653.jsonl.gz"


def news_records(path: Path, skip: int, n: int) -> list[dict[str, str]]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i < skip:
                continue
            if len(out) >= n:
                break
            rec = json.loads(line)
            if len(rec.get("text", "")) > 400:
                out.append(rec)
    return out


def start_app(home: Path, port: int, preload: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HOIDAP_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "GRADIO_TEMP_DIR": str(home / "gradio-tmp"),  # measured with the home
    }
    hoidap = str(Path(sys.executable).parent / "hoidap")
    paths = [str(ROOT / "corpus" / "articles")]
    if preload:
        pre = home / "preload.jsonl"
        with pre.open("w", encoding="utf-8") as fh:
            for rec in news_records(NEWS, 0, preload):
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        paths.append(str(pre))
    subprocess.run([hoidap, "ingest", *paths, "--no-progress"], env=env, check=True)
    return launch_app(home, port, env, wait_s=300)


class Run:
    def __init__(self, t0: float, stop_at: float) -> None:
        self.t0 = t0
        self.stop_at = stop_at
        self.rows: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def add(self, row: dict[str, Any]) -> None:
        row["t"] = round(time.time() - self.t0, 2)
        with self.lock:
            self.rows.append(row)

    def running(self) -> bool:
        return time.time() < self.stop_at


def chat_user(url: str, convs: list[Any], seed: int, think: float, run: Run) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False, analytics_enabled=False)
    rng = random.Random(seed)
    order = convs[:]
    rng.shuffle(order)
    i = 0
    while run.running():
        history, question, gold = order[i % len(order)]
        i += 1
        for q in [*history, question]:
            if not run.running():
                return
            got = ask(client, q, gold if q == question else [], error_chars=300)
            run.add({"kind": "chat", "user": seed, "question": q, **got})
            time.sleep(think * rng.uniform(0.5, 1.5))
        try:
            client.predict(api_name="/new_chat")
        except Exception as exc:
            run.add({"kind": "chat", "user": seed, "ok": False, "error": f"new_chat: {exc}"})


def uploader(url: str, folder: Path, records: list[dict[str, str]], every: float, run: Run) -> None:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False, analytics_enabled=False)
    folder.mkdir(parents=True, exist_ok=True)
    sent: list[Path] = []
    n = 0
    next_at = time.time() + every / 2
    while run.running():
        time.sleep(max(0.0, min(next_at - time.time(), run.stop_at - time.time())))
        if not run.running():
            return
        next_at += every
        n += 1
        if n % 5 == 0 and sent:  # an update of an earlier upload
            path = sent[(n // 5 - 1) % len(sent)]
            with path.open("a", encoding="utf-8") as fh:
                fh.write(f"\nCập nhật lần {n}: bài viết được bổ sung thông tin mới.\n")
            kind = "update"
        else:
            rec = records[len(sent) % len(records)]
            path = folder / f"soak-{len(sent):03d}.txt"
            path.write_text(f"{rec['title']}\n\n{rec['text']}\n", encoding="utf-8")
            sent.append(path)
            kind = "new"
        t = time.perf_counter()
        row: dict[str, Any] = {"kind": "upload", "what": kind, "file": path.name}
        try:
            res = client.predict([handle_file(str(path))], api_name="/upload")
            html = res[0] if isinstance(res, list | tuple) else str(res)
            want = "1 bài mới" if kind == "new" else "1 bài cập nhật"
            row["ok"] = want in html and "Lỗi" not in html
            if not row["ok"]:
                row["error"] = f"upload report: {html[:300]}"
        except Exception as exc:
            row["ok"] = False
            row["error"] = f"{type(exc).__name__}: {exc}"[:300]
        row["ms"] = (time.perf_counter() - t) * 1000
        run.add(row)


def sampler(pid: int, home: Path, run: Run, samples: list[dict[str, Any]]) -> None:
    import psutil

    proc = psutil.Process(pid)
    while True:
        try:
            procs = [proc, *proc.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in procs)
            size = sum(f.stat().st_size for f in home.rglob("*") if f.is_file())
            samples.append(
                {
                    "t": round(time.time() - run.t0, 1),
                    "rss_mb": round(rss / 2**20, 1),
                    "threads": proc.num_threads(),
                    "fds": proc.num_fds(),
                    "home_mb": round(size / 2**20, 1),
                    "load1": round(os.getloadavg()[0], 2),
                }
            )
        except (psutil.Error, OSError):
            pass
        if not run.running():
            return
        time.sleep(10)


def summarise(
    rows: list[dict[str, Any]],
    samples: list[dict[str, Any]],
    minutes: float,
    bucket: int,
    warmup_s: float,
) -> dict[str, Any]:
    chats = [r for r in rows if r["kind"] == "chat" and "question" in r]
    uploads = [r for r in rows if r["kind"] == "upload"]
    errors = [r for r in rows if not r.get("ok")]
    per = []
    for start in range(0, int(minutes * 60), bucket * 60):
        end = start + bucket * 60
        b = [r for r in chats if start <= r["t"] < end]
        ms = [r["ms"] for r in b if r.get("ok")]
        mem = [s["rss_mb"] for s in samples if start <= s["t"] < end]
        load = [s["load1"] for s in samples if start <= s["t"] < end]
        per.append(
            {
                "from_min": start // 60,
                "to_min": end // 60,
                "chat": len(b),
                "errors": sum(1 for r in rows if start <= r["t"] < end and not r.get("ok")),
                "p50_ms": round(percentile(ms, 50)) if ms else None,
                "p95_ms": round(percentile(ms, 95)) if ms else None,
                "uploads": sum(1 for r in uploads if start <= r["t"] < end),
                "rss_mb_max": max(mem) if mem else None,
                "load1_mean": round(statistics.mean(load), 1) if load else None,
            }
        )
    after = [s["rss_mb"] for s in samples if s["t"] >= warmup_s]
    first = after[:3]
    last = after[-3:]
    base = statistics.median(first) if first else None
    end_rss = statistics.median(last) if last else None
    growth = (end_rss - base) / base * 100 if base and end_rss else None
    graded = [r for r in chats if "correct" in r]
    ok_ms = [r["ms"] for r in chats if r.get("ok")]
    up_ms = [r["ms"] for r in uploads if r.get("ok")]
    return {
        "minutes": minutes,
        "chat_requests": len(chats),
        "uploads": len(uploads),
        "uploads_new": sum(1 for r in uploads if r.get("what") == "new"),
        "errors": len(errors),
        "error_examples": sorted({str(r.get("error")) for r in errors})[:5],
        "chat_p50_ms": round(percentile(ok_ms, 50)) if ok_ms else None,
        "chat_p95_ms": round(percentile(ok_ms, 95)) if ok_ms else None,
        "chat_max_ms": round(max(ok_ms)) if ok_ms else None,
        "upload_p50_ms": round(percentile(up_ms, 50)) if up_ms else None,
        "upload_max_ms": round(max(up_ms)) if up_ms else None,
        "graded_answers": len(graded),
        "graded_correct": sum(1 for r in graded if r["correct"]),
        "warmup_s": warmup_s,
        "rss_mb_after_warmup": base,
        "rss_mb_end": end_rss,
        "rss_mb_max": max((s["rss_mb"] for s in samples), default=None),
        "rss_growth_after_warmup_pct": round(growth, 1) if growth is not None else None,
        "threads_start_end": [samples[0]["threads"], samples[-1]["threads"]] if samples else None,
        "fds_start_end": [samples[0]["fds"], samples[-1]["fds"]] if samples else None,
        "home_mb_start_end": [samples[0]["home_mb"], samples[-1]["home_mb"]] if samples else None,
        "buckets": per,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--users", type=int, default=4)
    ap.add_argument("--think", type=float, default=1.0, help="seconds between questions (±50%%)")
    ap.add_argument("--upload-every", type=float, default=60.0)
    ap.add_argument("--preload", type=int, default=200, help="Dân trí articles ingested first")
    ap.add_argument("--warmup", type=float, default=300.0, help="seconds before memory is judged")
    ap.add_argument("--bucket", type=int, default=3, help="minutes per table row")
    ap.add_argument("--qa", default=str(ROOT / "evals" / "seed_qa.jsonl"))
    ap.add_argument("--out", help="folder for summary.json, requests.jsonl, samples.jsonl")
    args = ap.parse_args(argv)

    home = Path(tempfile.mkdtemp(prefix="hoidap-soak-"))
    port = free_port()
    t_start = time.time()
    proc = start_app(home, port, args.preload)
    setup_s = time.time() - t_start
    url = f"http://127.0.0.1:{port}/"
    convs = conversations(Path(args.qa))
    records = news_records(NEWS, args.preload + 50, 200)
    samples: list[dict[str, Any]] = []
    t0 = time.time()
    run = Run(t0, t0 + args.minutes * 60)
    threads = [threading.Thread(target=sampler, args=(proc.pid, home, run, samples))]
    threads += [
        threading.Thread(target=chat_user, args=(url, convs, n, args.think, run))
        for n in range(args.users)
    ]
    threads.append(
        threading.Thread(
            target=uploader, args=(url, home / "to-upload", records, args.upload_every, run)
        )
    )
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    log = (home / "app.log").read_text(encoding="utf-8", errors="replace")
    asked = {r["question"] for r in run.rows if r.get("question")}
    leaked = sorted(q for q in asked if q in log)
    summary = summarise(run.rows, samples, args.minutes, args.bucket, args.warmup)
    summary.update(
        {
            "users": args.users,
            "think_s": args.think,
            "upload_every_s": args.upload_every,
            "preloaded_articles": args.preload,
            "setup_s": round(setup_s, 1),
            "questions_found_in_app_log": len(leaked),
            "app_log_lines": log.count("\n"),
            "app_log_tail": log[-1500:],
            "cpus": os.cpu_count(),
        }
    )
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(
            json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        with (out / "requests.jsonl").open("w", encoding="utf-8") as fh:
            for r in run.rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        with (out / "samples.jsonl").open("w", encoding="utf-8") as fh:
            for s in samples:
                fh.write(json.dumps(s) + "\n")
        shutil.copy(home / "app.log", out / "app.log")
    print(json.dumps({k: v for k, v in summary.items() if k != "buckets"}, ensure_ascii=False))
    print("\n| minutes | chat requests | errors | p50 ms | p95 ms | uploads | RSS max MB | load |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for b in summary["buckets"]:
        print(
            f"| {b['from_min']}–{b['to_min']} | {b['chat']} | {b['errors']} | {b['p50_ms']} | "
            f"{b['p95_ms']} | {b['uploads']} | {b['rss_mb_max']} | {b['load1_mean']} |"
        )
    shutil.rmtree(home, ignore_errors=True)
    return 0 if summary["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
