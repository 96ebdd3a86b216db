"""``hoidap eval``: the command-line adapter over ``evals.runner`` and ``evals.compare``.

    hoidap eval TESTSET --out DIR [--corpus PATH] [--index NAME] [--config FILE] [--baselines]
    hoidap eval compare RUN_A RUN_B [--json] [--out FILE]

Exit codes as the rest of hoidap (``corpus.errors``): 0 success, 1 failure, 2 bad usage or
input that cannot be read, 3 partial success (some rows skipped or some questions could not be
asked). Known errors (``HoidapError``: a test set that cannot be read, a run that cannot start,
a bad setting) are raised on to ``rag.cli.main``, which reports them like every other command.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from corpus.errors import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, HoidapError


def _eval_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hoidap eval",
        description=(
            "Đánh giá hoidap trên một bộ câu hỏi: ghi results.jsonl, summary.json, report.md, "
            "report.html vào --out. Chạy lại với cùng --out sẽ tiếp tục từ chỗ dừng. "
            "So sánh hai lần chạy: hoidap eval compare THƯ_MỤC_A THƯ_MỤC_B."
        ),
    )
    p.add_argument(
        "testset",
        help="bộ câu hỏi: .jsonl, .csv, .json (SQuAD) hoặc <tên> của cặp "
        "<tên>.jsonl + <tên>.contexts.jsonl",
    )
    p.add_argument("--out", required=True, help="thư mục kết quả")
    p.add_argument("--corpus", help="tệp/thư mục tài liệu nạp vào chỉ mục trước khi chạy")
    p.add_argument(
        "--index", help="tên chỉ mục (mặc định: default; bộ SQuAD/QA chung: tên bộ câu hỏi)"
    )
    p.add_argument("--config", help="tệp cấu hình TOML (cùng khoá với settings.toml)")
    p.add_argument(
        "--baselines",
        action="store_true",
        help="chạy thêm hai hệ thống đối chứng: công thức LangChain (Chroma) và BM25",
    )
    p.add_argument("--home", help="thư mục dữ liệu (mặc định $HOIDAP_HOME hoặc ~/.hoidap)")
    p.add_argument("--embedding-model", help="mô hình nhúng (mặc định: e5-small)")
    p.add_argument("--no-progress", action="store_true", help="không hiện thanh tiến độ")
    p.add_argument("--json", action="store_true", help="in summary.json ra màn hình")
    return p


def _compare_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hoidap eval compare",
        description="So sánh hai lần chạy hoidap eval (B so với A), kiểm định bootstrap ghép cặp.",
    )
    p.add_argument("run_a", help="thư mục kết quả A (trước)")
    p.add_argument("run_b", help="thư mục kết quả B (sau)")
    p.add_argument("--json", action="store_true", help="in kết quả dạng JSON")
    p.add_argument("--out", help="ghi kết quả JSON vào tệp này")
    return p


def _settings(args: argparse.Namespace) -> Any:
    from rag.settings import SettingsError, load_settings

    overrides: dict[str, Any] = {}
    if args.config:
        path = Path(args.config)
        try:
            overrides = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SettingsError(f"{path}: {exc.strerror or exc}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: {exc}") from exc
        if "home" in overrides:
            raise SettingsError(f"{path}: 'home' không đặt được trong --config; dùng --home")
    overrides.update(
        {k: v for k, v in (("index", args.index), ("embedding_model", args.embedding_model)) if v}
    )
    return load_settings(args.home, **overrides)


def _progress(enabled: bool) -> tuple[Callable[[int, int], None] | None, Callable[[], None]]:
    if not enabled:
        return None, lambda: None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=0, unit=" câu", desc="Đánh giá", file=sys.stderr, dynamic_ncols=True)

        def tick(done: int, total: int) -> None:
            bar.total, bar.n = total, done
            bar.refresh()

        return tick, bar.close
    state = {"last": -1}

    def line(done: int, total: int) -> None:  # logs: one line per 10%
        step = done * 10 // max(1, total)
        if step != state["last"] or done == total:
            state["last"] = step
            print(f"Đánh giá: {done}/{total} câu", file=sys.stderr, flush=True)

    return line, lambda: None


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    from evals.report import label

    run = summary["run"]
    print(
        f"Đã chấm {summary['scored']}/{summary['questions']} câu "
        f"({run['evaluated_now']} câu lần này) trong {run['seconds_total']} s."
    )
    keys = (
        "article_hit@1",
        "article_mrr@10",
        "passage_hit@5",
        "contains_gold",
        "token_f1",
        "citation_precision",
        "citation_recall",
        "refusal_precision",
        "refusal_recall",
    )
    for system, block in summary["systems"].items():
        parts = []
        for key in keys:
            iv = block["metrics"].get(key)
            if iv:
                parts.append(f"{label(key)} {iv['mean']:.3f}")
        print(f"  {system}: " + "; ".join(parts))
    fails = {k: v for k, v in summary["failures"].items() if k != "ok" and v}
    if fails:
        print("  Lỗi: " + ", ".join(f"{k} {v}" for k, v in fails.items()))
    print(f"Kết quả: {out}/results.jsonl, summary.json, report.md, report.html")


def cmd_eval(argv: Sequence[str]) -> int:
    from evals.runner import run_eval

    args = _eval_parser().parse_args(argv)
    out = Path(args.out)
    tick, close = _progress(not args.no_progress)
    try:
        settings = _settings(args)
        summary = run_eval(
            Path(args.testset),
            settings,
            out,
            corpus=Path(args.corpus) if args.corpus else None,
            baselines=args.baselines,
            progress=tick,
        )
    except HoidapError:  # reported by rag.cli.main, after the progress bar is gone
        close()
        raise
    except KeyboardInterrupt:
        close()
        print(
            f"Đã dừng. Các câu đã chấm được giữ trong {out}/results.jsonl; "
            "chạy lại cùng lệnh để tiếp tục.",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    close()
    for e in summary["testset"]["skipped_rows"]:
        place = f"Dòng {e['line']}" if e["line"] is not None else e["where"]
        print(f"{place}: bỏ qua ({e['error']})", file=sys.stderr)
    for e in summary["errors"]:
        print(f"Dòng {e['line']} ({e['id']}): bỏ qua ({e['error']})", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        _print_summary(summary, out)
    partial = summary["testset"]["skipped_rows"] or summary["errors"]
    return EXIT_PARTIAL if partial else EXIT_OK


def cmd_compare(argv: Sequence[str]) -> int:
    from evals.compare import compare_runs, render_compare, write_compare

    args = _compare_parser().parse_args(argv)
    result = compare_runs(Path(args.run_a), Path(args.run_b))  # EvalError: see the docstring
    if args.out:
        write_compare(result, Path(args.out))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(render_compare(result), end="")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["compare"]:
        return cmd_compare(argv[1:])
    return cmd_eval(argv)


if __name__ == "__main__":
    sys.exit(main())
