"""Plot ``bench/scale.py`` rows: cost against corpus size, log-log, with the issue's targets.

.venv/bin/python bench/plot_scale.py docs/img/scale_rows.json --out docs/img/scale.png

A row with ``"transcribed": true`` (copied from an earlier run whose JSON was not kept; its
``"run"`` says which) is drawn with a hollow marker.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after choosing the backend

SERIES = (  # (key, label, axis)
    ("upload_ms_p95", "one-article upload p95", "ms"),
    ("answer_ms_p95", "whole offline answer p95", "ms"),
    ("answer_short_ms_p95", "answer p95, short questions", "ms"),
    ("hybrid_ms_p95", "hybrid retrieval p95", "ms"),
    ("bm25_ms_p95", "BM25 p95", "ms"),
    ("dense_ms_p95", "dense (Chroma) p95", "ms"),
    ("peak_rss_mb", "peak RSS, the largest merge included", "MB"),
    ("peak_rss_serving_mb", "serving peak RSS (without that merge)", "MB"),
    ("disk_mb", "index on disk", "MB"),
)
TARGETS = {
    "ms": ((2000, "upload target 2 s"), (500, "answer target 500 ms")),
    "MB": ((8192, "RSS target 8 GB"),),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", type=Path, nargs="+", help="JSON files written by bench/scale.py --out")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    rows = sorted(
        (r for f in args.rows for r in json.loads(f.read_text(encoding="utf-8")) if "chunks" in r),
        key=lambda r: r["chunks"],
    )
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, unit in zip(axes, ("ms", "MB"), strict=True):
        for key, label, axis in SERIES:
            pts = [(r["chunks"], r[key], bool(r.get("transcribed"))) for r in rows
                   if axis == unit and key in r]  # fmt: skip
            if not pts:
                continue
            (line,) = ax.plot([x for x, _, _ in pts], [y for _, y, _ in pts], label=label)
            for x, y, other_run in pts:  # hollow: a row of another run (its "run" says which)
                face = "none" if other_run else line.get_color()
                ax.plot(x, y, "o", color=line.get_color(), markerfacecolor=face)
        for y, label in TARGETS[unit]:
            ax.axhline(y, color="grey", linestyle="--", linewidth=0.8)
            ax.annotate(label, (rows[0]["chunks"], y), fontsize=8, va="bottom")
        ax.set(xscale="log", yscale="log", xlabel="chunks in the index", ylabel=unit)
        ax.grid(True, which="both", linewidth=0.3)
        ax.legend(fontsize=8)
    if any(r.get("transcribed") for r in rows):
        fig.text(0.5, 0.005, "hollow markers: a row of another run (see its 'run')", ha="center",
                 fontsize=8)  # fmt: skip
    axes[0].set_title("latency (2-core machine)")
    axes[1].set_title("memory and disk")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(args.out)


if __name__ == "__main__":
    main()
