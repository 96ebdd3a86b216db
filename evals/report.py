"""Evaluation reports: ``report.md``, a self-contained ``report.html`` and the plots.

The HTML has no external resources: plots are PNGs drawn by matplotlib (Agg backend) and
inlined as base64 ``data:`` URIs, styles are inline, there is no JavaScript. Every piece of
text that comes from a test set or an answer is escaped with ``html.escape``. The web app
can reuse ``make_plots`` (PNG bytes by name) and ``render_html``.

``write_reports(summary, rows, out_dir)`` takes a run's summary and result rows
(``evals.runner``), writes the files and returns their paths keyed by name within
``out_dir``: ``"report.md"``, ``"report.html"``, ``"plots/metrics_retrieval.png"``...
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.metrics import ANSWER_METRICS, LEVELS, REFUSAL_METRICS, RETRIEVAL_METRICS
from evals.scoring import SYSTEM

LABELS_VI = {
    "article": "Bài",
    "passage": "Đoạn",
    "exact_match": "Khớp chính xác (EM)",
    "token_f1": "F1 theo từ",
    "contains_gold": "Chứa đáp án",
    "citation_precision": "Trích dẫn: độ chính xác",
    "citation_recall": "Trích dẫn: độ bao phủ",
    "correct": "Trả lời đúng",
    "refused": "Tỉ lệ từ chối",
    "refusal_precision": "Từ chối: độ chính xác",
    "refusal_recall": "Từ chối: độ bao phủ",
}
LABELS_EN = {
    "article": "article",
    "passage": "passage",
    "exact_match": "exact match",
    "token_f1": "token F1",
    "contains_gold": "contains gold",
    "citation_precision": "citation precision",
    "citation_recall": "citation recall",
    "correct": "correct",
    "refused": "refusal rate",
    "refusal_precision": "refusal precision",
    "refusal_recall": "refusal recall",
}
FAILURE_LABELS = {
    "retrieval_miss": "Không tìm được bài đúng (retrieval miss)",
    "wrong_refusal": "Từ chối sai (wrong refusal)",
    "answer_miss": "Trả lời thiếu đáp án (answer miss)",
    "missed_refusal": "Lẽ ra phải từ chối (missed refusal)",
    "unsupported_citation": "Trích dẫn không có căn cứ (unsupported citation)",
    "ok": "Không lỗi",
}
SYSTEMS_VI = {
    "hoidap": "hoidap: hiểu câu hỏi nối tiếp, tìm kiếm kết hợp (BM25 + vectơ), bộ trả lời đã "
    "cấu hình, có trích dẫn",
    "langchain": "công thức trong hướng dẫn RAG của LangChain: RecursiveCharacterTextSplitter"
    "(1000, 200) + Chroma + similarity_search, cùng mô hình nhúng với hoidap",
    "rules": "bộ trả lời theo quy tắc (trích xuất, không dùng mô hình) trên cùng bằng chứng "
    "với hoidap, làm mốc so sánh",
    "bm25": "BM25Retriever mặc định của LangChain (rank_bm25 BM25Okapi trên từ tách theo "
    "khoảng trắng) trên cùng các đoạn 1000 ký tự",
}
# the rows of the tables and bars of the plots (names from evals.metrics); recall@10 is in
# summary.json only
RETRIEVAL_KEYS = tuple(n for n, _, _ in RETRIEVAL_METRICS if n != "recall@10")
ANSWER_KEYS = (*ANSWER_METRICS, *REFUSAL_METRICS)


def label(metric: str, lang: str = "vi") -> str:
    labels = LABELS_VI if lang == "vi" else LABELS_EN
    level, _, name = metric.partition("_")
    if level in LEVELS and "@" in name:
        return f"{labels[level]} {name.replace('hit', 'Hit').replace('recall', 'Recall')}".replace(
            "mrr", "MRR"
        ).replace("ndcg", "nDCG")
    return labels.get(metric, metric)


def _kind(system: dict[str, Any]) -> str:
    return "trả lời" if system.get("kind") == "answers" else "chỉ tìm kiếm"


def _describe(name: str, system: dict[str, Any]) -> str:
    return SYSTEMS_VI.get(name, str(system.get("description", "")))


def _cell(iv: dict[str, Any] | None) -> str:
    if not iv:
        return "–"
    return f"{iv['mean']:.3f} [{iv['low']:.3f}–{iv['high']:.3f}]"


def metric_rows(summary: dict[str, Any]) -> list[str]:
    """Metrics present in any system, retrieval first, in a stable order."""
    names: list[str] = []
    for level in LEVELS:
        names += [f"{level}_{k}" for k in RETRIEVAL_KEYS]
    names += list(ANSWER_KEYS)
    present = {k for s in summary["systems"].values() for k in s["metrics"]}
    return [n for n in names if n in present]


def metrics_table(summary: dict[str, Any], lang: str = "vi") -> str:
    """Markdown table: one row per metric, one column per system, mean [95% CI]."""
    systems = list(summary["systems"])
    head = "chỉ số" if lang == "vi" else "metric"
    out = [
        f"| {head} | " + " | ".join(systems) + " | n |",
        "|---|" + "---:|" * len(systems) + "---:|",
    ]
    for metric in metric_rows(summary):
        ivs = [summary["systems"][s]["metrics"].get(metric) for s in systems]
        n = max((iv["n"] for iv in ivs if iv), default=0)
        out.append(
            f"| {label(metric, lang)} | " + " | ".join(_cell(iv) for iv in ivs) + f" | {n} |"
        )
    return "\n".join(out)


def latency_table(summary: dict[str, Any], lang: str = "vi") -> str:
    head = "hệ thống | giai đoạn" if lang == "vi" else "system | stage"
    out = [f"| {head} | p50 ms | p95 ms | n |", "|---|---|---:|---:|---:|"]
    for system, stages in summary["latency_ms"].items():
        for stage, v in stages.items():
            out.append(f"| {system} | {stage} | {v['p50']:.1f} | {v['p95']:.1f} | {v['n']} |")
    return "\n".join(out)


def failures_table(summary: dict[str, Any]) -> str:
    out = ["| loại | số câu |", "|---|---:|"]
    for key, count in summary["failures"].items():
        out.append(f"| {FAILURE_LABELS.get(key, key)} | {count} |")
    return "\n".join(out)


# -- plots -----------------------------------------------------------------------------------
def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _bars(
    summary: dict[str, Any], panels: Sequence[tuple[str, Sequence[str]]], title: str
) -> bytes:
    """Horizontal bars with 95% intervals; one panel per (title, metrics), systems side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    every = [x for _, metrics in panels for x in metrics]
    systems = [
        s for s in summary["systems"] if any(summary["systems"][s]["metrics"].get(x) for x in every)
    ]
    rows = max(len(metrics) for _, metrics in panels)
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(4.8 * len(panels) + 1.5, 0.3 * rows * max(1, len(systems)) + 1.6),
        squeeze=False,
    )
    height = 0.8 / max(1, len(systems))
    for ax, (panel_title, metrics) in zip(axes[0], panels, strict=True):
        y = np.arange(len(metrics))
        for i, system in enumerate(systems):
            means, lo, hi = [], [], []
            for metric in metrics:
                iv = summary["systems"][system]["metrics"].get(metric)
                mean = iv["mean"] if iv else np.nan
                means.append(mean)
                lo.append(mean - iv["low"] if iv else 0)
                hi.append(iv["high"] - mean if iv else 0)
            pos = y + (i - (len(systems) - 1) / 2) * height
            ax.barh(pos, means, height=height * 0.9, xerr=[lo, hi], capsize=2, label=system)
        names = [label(x) for x in metrics]
        prefix = label(metrics[0]).split(" ")[0] + " " if metrics[0].count("_") else ""
        ax.set_yticks(y, [n.removeprefix(prefix) if panel_title else n for n in names])
        ax.invert_yaxis()
        ax.set_xlim(0, 1.05)
        ax.set_title(panel_title or title, fontsize=11)
        ax.grid(axis="x", alpha=0.3)
        if not systems:
            ax.text(0.5, 0.5, "không có dữ liệu", ha="center", transform=ax.transAxes)
    if len(panels) > 1:
        fig.suptitle(title)
    fig.supxlabel("giá trị (thanh lỗi: khoảng tin cậy 95%, bootstrap)", fontsize=9)
    if systems:
        axes[0][-1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _latency_plot(rows: Sequence[dict[str, Any]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[float]] = {}
    for r in rows:
        if "error" in r:
            continue
        total = (r.get("timings_ms") or {}).get("total")
        if total is not None:
            series.setdefault(f"{SYSTEM} (cả câu trả lời)", []).append(float(total))
        for name, ms in (r.get("other_latency_ms") or {}).items():
            if not name.startswith(SYSTEM):
                series.setdefault(f"{name} (chỉ tìm kiếm)", []).append(float(ms))
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for name, vals in series.items():
        ax.hist(vals, bins=40, alpha=0.55, label=name)
    ax.set_xlabel("thời gian mỗi câu hỏi (ms)")
    ax.set_ylabel("số câu hỏi")
    ax.set_title("Phân bố độ trễ")
    if series:
        ax.legend()
    ax.grid(alpha=0.3)
    return _png(fig)


def _failure_plot(summary: dict[str, Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = list(summary["failures"].items())
    fig, ax = plt.subplots(figsize=(9, 3.2))
    colors = ["#2e7d32" if k == "ok" else "#c62828" for k, _ in items]
    ax.barh([FAILURE_LABELS.get(k, k) for k, _ in items], [v for _, v in items], color=colors)
    ax.invert_yaxis()
    ax.set_xlabel("số câu hỏi")
    ax.set_title("Phân loại lỗi (lỗi đầu tiên theo thứ tự xử lý)")
    for i, (_, v) in enumerate(items):
        ax.text(v, i, f" {v}", va="center")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def make_plots(summary: dict[str, Any], rows: Sequence[dict[str, Any]]) -> dict[str, bytes]:
    """PNG bytes by file name: metric bars (retrieval, answers), latency, failures."""
    panels = [(f"{LABELS_VI[lvl]} đúng", [f"{lvl}_{k}" for k in RETRIEVAL_KEYS]) for lvl in LEVELS]
    plots = {"metrics_retrieval.png": _bars(summary, panels, "Tìm kiếm (10 đoạn đầu)")}
    answers = [
        k for k in ANSWER_KEYS if summary["systems"].get(SYSTEM, {}).get("metrics", {}).get(k)
    ]
    if answers:
        plots["metrics_answers.png"] = _bars(
            summary, [("", answers)], "hoidap: câu trả lời, trích dẫn, từ chối"
        )
    plots["latency.png"] = _latency_plot(rows)
    plots["failures.png"] = _failure_plot(summary)
    return plots


# -- documents -------------------------------------------------------------------------------
def _run_lines(summary: dict[str, Any]) -> list[tuple[str, str]]:
    ts, run = summary["testset"], summary.get("run", {})
    return [
        (
            "Bộ câu hỏi",
            f"{ts['path']} ({ts['format']}): {summary['questions']} câu, "
            f"{ts['answerable']} có đáp án, {ts['unanswerable']} không có đáp án",
        ),
        (
            "Đã chấm",
            f"{summary['scored']} câu; {len(summary['errors'])} câu lỗi; "
            f"{len(ts['skipped_rows'])} dòng bị bỏ qua",
        ),
        ("Chỉ mục", f"{run.get('index')} ({run.get('articles')} bài, {run.get('chunks')} đoạn)"),
        ("Mô hình nhúng", str(run.get("embedding_model"))),
        ("Bộ trả lời", str(run.get("answerer"))),
        (
            "Thời gian",
            f"{run.get('seconds_total')} s (lần chạy này: {run.get('evaluated_now')} câu; "
            f"{run.get('resumed_questions')} câu lấy lại từ lần chạy trước)",
        ),
    ]


def _paired_lines(summary: dict[str, Any]) -> list[str]:
    """hoidap against the rule-based answerer on the same questions (paired bootstrap)."""
    paired = summary.get("paired_vs_rules") or {}
    if not paired:
        return []
    lines = [
        "## So với bộ trả lời theo quy tắc (cùng câu hỏi, cùng bằng chứng)",
        "",
        "| chỉ số | rules | hoidap | chênh lệch [95%] | p | n |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for metric, d in paired.items():
        lines.append(
            f"| {label(metric)} | {d['rules']:.3f} | {d['hoidap']:.3f} | {d['diff']:+.3f} "
            f"[{d['low']:+.3f}, {d['high']:+.3f}] | {d['p']:.3g} | {d['n']} |"
        )
    return [*lines, ""]


def render_markdown(summary: dict[str, Any]) -> str:
    parts = ["# Báo cáo đánh giá hoidap", ""]
    parts += [f"- **{k}:** {v}" for k, v in _run_lines(summary)]
    parts += ["", "## Hệ thống", ""]
    for name, s in summary["systems"].items():
        parts.append(f"- **{name}** ({_kind(s)}): {_describe(name, s)}")
    parts += [
        "",
        "## Chỉ số",
        "",
        "Trung bình trên các câu được chấm (n), trong ngoặc: khoảng tin cậy 95% (bootstrap).",
        "",
        metrics_table(summary),
        "",
        *_paired_lines(summary),
        "## Độ trễ",
        "",
        latency_table(summary),
        "",
        "## Phân loại lỗi",
        "",
        failures_table(summary),
        "",
        "Biểu đồ: `plots/metrics_retrieval.png`, `plots/metrics_answers.png`, "
        "`plots/latency.png`, `plots/failures.png`. Định nghĩa các chỉ số: docs/EVALUATION.md.",
    ]
    skipped = summary["testset"]["skipped_rows"]
    if skipped or summary["errors"]:
        parts += ["", "## Dòng bị bỏ qua", ""]
        for e in skipped:
            parts.append(f"- {_where(e)}: {e['error']}")
        for e in summary["errors"]:
            parts.append(f"- {e['id']} (dòng {e['line']}): {e['error']}")
    return "\n".join(parts) + "\n"


_CSS = """
body{font-family:system-ui,'Segoe UI',Roboto,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border:1px solid #ccc;padding:4px 8px;vertical-align:top}
th{background:#f3f3f3} td.num{text-align:right;white-space:nowrap}
img{max-width:100%;display:block;margin:1em 0;border:1px solid #eee}
.small{font-size:13px;color:#555} .fail td{font-size:13px}
"""


def _table_html(md: str) -> str:
    """A markdown pipe table (as produced above) as an HTML table, cells escaped."""
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    head, body = rows[0], rows[2:]
    out = ["<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>"]
    for r in body:
        cells = []
        for i, c in enumerate(r):
            cls = ' class="num"' if i > 0 and (c[:1].isdigit() or c == "–") else ""
            cells.append(f"<td{cls}>{html.escape(c)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join(out) + "</table>"


def _failing_rows(rows: Sequence[dict[str, Any]], limit: int) -> str:
    bad = [r for r in rows if r.get("failure")]
    if not bad:
        return "<p>Không có câu nào bị lỗi.</p>"
    out = [
        "<table class='fail'><tr><th>mã</th><th>loại lỗi</th><th>câu hỏi</th>"
        "<th>đáp án chuẩn</th><th>câu trả lời của hoidap</th></tr>"
    ]
    for r in bad[:limit]:
        out.append(
            "<tr>"
            f"<td>{html.escape(str(r['id']))}</td>"
            f"<td>{html.escape(FAILURE_LABELS.get(r['failure'], r['failure']))}</td>"
            f"<td>{html.escape(str(r.get('question', '')))}</td>"
            f"<td>{html.escape(' | '.join(r.get('gold_answers') or []))}</td>"
            f"<td>{html.escape(str(r.get('answer', '')))}</td>"
            "</tr>"
        )
    out.append("</table>")
    if len(bad) > limit:
        out.append(f"<p class='small'>… và {len(bad) - limit} câu khác (xem results.jsonl).</p>")
    return "\n".join(out)


def _where(e: dict[str, Any]) -> str:
    return f"dòng {e['line']}" if e["line"] is not None else str(e["where"])


def render_html(
    summary: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    plots: dict[str, bytes],
    *,
    failing_limit: int = 100,
) -> str:
    def img(name: str, alt: str) -> str:
        if name not in plots:
            return ""
        data = base64.b64encode(plots[name]).decode("ascii")
        return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'

    run = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in _run_lines(summary)
    )
    systems = "".join(
        f"<li><b>{html.escape(n)}</b> ({html.escape(_kind(s))}): "
        f"{html.escape(_describe(n, s))}</li>"
        for n, s in summary["systems"].items()
    )
    baseline_note = ""
    if len(summary["systems"]) > 1:
        baseline_note = (
            '<p class="small">Các hệ thống đối chứng (baseline) chỉ tìm kiếm, không trả lời: '
            "chúng chỉ có chỉ số tìm kiếm. Độ dài đoạn khác nhau (hoidap ~160 từ, đối chứng "
            "1000 ký tự), nên chỉ số mức bài so sánh công bằng hơn mức đoạn.</p>"
        )
    skipped = summary["testset"]["skipped_rows"]
    skipped_html = ""
    if skipped or summary["errors"]:
        items = [
            f"<li>{html.escape(_where(e))}: {html.escape(e['error'])}</li>" for e in skipped
        ] + [
            f"<li>{html.escape(str(e['id']))} (dòng {html.escape(str(e['line']))}): "
            f"{html.escape(e['error'])}</li>"
            for e in summary["errors"]
        ]
        skipped_html = "<h2>Dòng bị bỏ qua</h2><ul>" + "".join(items) + "</ul>"
    return f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Báo cáo đánh giá hoidap: {html.escape(summary["testset"]["name"])}</title>
<style>{_CSS}</style></head>
<body>
<h1>Báo cáo đánh giá hoidap</h1>
<table>{run}</table>
<h2>Hệ thống</h2><ul>{systems}</ul>
{baseline_note}
<h2>Chỉ số</h2>
<p class="small">Trung bình trên các câu được chấm (n); trong ngoặc: khoảng tin cậy 95%
(bootstrap 1000 lần). Định nghĩa: docs/EVALUATION.md.</p>
{_table_html(metrics_table(summary))}
{img("metrics_retrieval.png", "Biểu đồ chỉ số tìm kiếm")}
{img("metrics_answers.png", "Biểu đồ chỉ số câu trả lời")}
<h2>Độ trễ</h2>
{_table_html(latency_table(summary))}
{img("latency.png", "Biểu đồ độ trễ")}
<h2>Phân loại lỗi</h2>
{_table_html(failures_table(summary))}
{img("failures.png", "Biểu đồ phân loại lỗi")}
<h2>Các câu bị lỗi</h2>
{_failing_rows(rows, failing_limit)}
{skipped_html}
</body></html>
"""


def write_reports(
    summary: dict[str, Any], rows: Sequence[dict[str, Any]], out_dir: Path
) -> dict[str, Path]:
    """report.md, report.html and plots/*.png in ``out_dir``; returns the paths by name."""
    plots = make_plots(summary, rows)
    paths: dict[str, Path] = {}
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    for name, data in plots.items():
        p = out_dir / "plots" / name
        p.write_bytes(data)
        paths[f"plots/{name}"] = p
    md = out_dir / "report.md"
    md.write_text(render_markdown(summary), encoding="utf-8")
    page = out_dir / "report.html"
    page.write_text(render_html(summary, rows, plots), encoding="utf-8")
    paths["report.md"], paths["report.html"] = md, page
    return paths
