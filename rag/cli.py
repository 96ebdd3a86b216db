"""``hoidap`` command line: a thin adapter over rag.index.ingest and rag.index.index.

Exit codes (``corpus.errors``): 0 success, 1 failure, 2 bad usage, 3 partial success (some
inputs skipped). A known error (``HoidapError``) ends a command in one place,
``report_error``: one line on stderr, the exit code of its class, no traceback.
Messages for people are in Vietnamese; ``--json`` output has English keys for scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corpus.errors import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, HoidapError
from rag.settings import Settings, load_settings

if TYPE_CHECKING:
    from rag.assistant import Assistant
    from rag.services import Services
    from rag.types import Filters

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "articles"


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--home", help="thư mục dữ liệu (mặc định $HOIDAP_HOME hoặc ~/.hoidap)")
    p.add_argument("--index", help="tên chỉ mục (mặc định: default)")
    p.add_argument("--embedding-model", help="mô hình nhúng (mặc định: e5-small)")
    return p


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="hoidap",
        description="hoidap — hỏi đáp tiếng Việt trên tài liệu công tác dân vận, chạy ngoại tuyến.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", parents=[common], help="nạp tệp/thư mục vào chỉ mục")
    p.add_argument("paths", nargs="*", help="tệp hoặc thư mục (mặc định: corpus/articles)")
    p.add_argument("--prune", action="store_true", help="xoá bài viết có tệp nguồn không còn")
    p.add_argument("--json", action="store_true", help="in báo cáo dạng JSON")
    p.add_argument("--no-progress", action="store_true", help="không hiện thanh tiến độ")

    p = sub.add_parser("stats", parents=[common], help="thống kê chỉ mục")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("show", parents=[common], help="xem một bài viết và các đoạn (chunk)")
    p.add_argument("article_id")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("delete", parents=[common], help="xoá bài viết khỏi chỉ mục")
    p.add_argument("ids", nargs="+")
    p.add_argument("--json", action="store_true")

    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--source", action="append", default=[], help="chỉ tìm trong nguồn này")
    filters.add_argument("--since", help="từ ngày (YYYY, YYYY-MM hoặc YYYY-MM-DD)")
    filters.add_argument("--until", help="đến ngày (YYYY, YYYY-MM hoặc YYYY-MM-DD)")
    filters.add_argument(
        "--place", action="append", default=[], help="chỉ bài nhắc đến địa danh này"
    )
    filters.add_argument("--article", action="append", default=[], help="chỉ trong bài có mã này")

    p = sub.add_parser("ask", parents=[common, filters], help="hỏi một câu")
    p.add_argument("question")
    p.add_argument("--json", action="store_true")

    sub.add_parser("chat", parents=[common, filters], help="hỏi đáp nhiều lượt trong cửa sổ lệnh")

    p = sub.add_parser("batch", parents=[common, filters], help="trả lời cả tệp câu hỏi JSONL")
    p.add_argument("input", help='JSONL: {"id","question","history"?:[{"question","answer"}]}')
    p.add_argument("output", help="JSONL kết quả, mỗi câu hỏi một dòng")

    p = sub.add_parser("brief", parents=[common, filters], help="soạn tài liệu tóm tắt một chủ đề")
    p.add_argument("topic", help='chủ đề, ví dụ: "kiểm tra thực hiện dân chủ ở cơ sở"')
    p.add_argument("--out", help="tệp .docx hoặc .md (mặc định: in Markdown ra màn hình)")

    p = sub.add_parser("users", parents=[common], help="người dùng của trang web và vai trò")
    users = p.add_subparsers(dest="users_command", required=True)
    roles = ("reader", "editor", "evaluator", "admin")
    u = users.add_parser("add", parents=[common], help="thêm người dùng (hỏi mật khẩu)")
    u.add_argument("name")
    u.add_argument("--role", choices=roles, default="reader", help="mặc định: reader")
    u = users.add_parser("remove", parents=[common], help="xoá người dùng (phiên của họ kết thúc)")
    u.add_argument("name")
    u = users.add_parser("list", parents=[common], help="liệt kê người dùng và vai trò")
    u.add_argument("--json", action="store_true")
    u = users.add_parser("passwd", parents=[common], help="đổi mật khẩu (hỏi mật khẩu mới)")
    u.add_argument("name")
    u = users.add_parser("role", parents=[common], help="đổi vai trò")
    u.add_argument("name")
    u.add_argument("role", choices=roles)

    p = sub.add_parser("backup", parents=[common], help="sao lưu toàn bộ thư mục dữ liệu")
    p.add_argument("archive", help="tệp .tar.gz (nén) hoặc .tar, ngoài thư mục dữ liệu")
    p.add_argument("--no-cache", action="store_true", help="không kèm bộ nhớ đệm vectơ nhúng")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("restore", parents=[common], help="khôi phục bản sao lưu vào --home")
    p.add_argument("archive")
    p.add_argument(
        "--force", action="store_true", help="chuyển dữ liệu cũ sang thư mục khác rồi khôi phục"
    )
    p.add_argument("--json", action="store_true")

    # listed for --help only: main() hands "eval ..." to evals.cli before parsing
    sub.add_parser("eval", help="đánh giá trên bộ câu hỏi; so sánh hai lần chạy (eval compare)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.home, index=args.index, embedding_model=args.embedding_model)


def _services(args: argparse.Namespace) -> Services:
    from rag.services import build_services

    return build_services(_settings(args))


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _waiting(settings: Settings) -> Callable[[str], None]:
    def on_wait(pid: str) -> None:
        print(
            f"Đang chờ lần nạp/xoá khác (pid {pid}) trên chỉ mục {settings.index!r} xong "
            f"(tối đa {settings.ingest_wait_s:.0f} giây)...",
            file=sys.stderr,
            flush=True,
        )

    return on_wait


def cmd_ingest(args: argparse.Namespace) -> int:
    from rag.index.ingest import IngestProgress, ingest

    services = _services(args)
    settings = services.settings
    paths = args.paths or [str(DEFAULT_CORPUS)]
    bar = None
    if not args.no_progress and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=0, unit=" đoạn", desc="Nạp", file=sys.stderr, dynamic_ncols=True)

    def on_progress(p: IngestProgress) -> None:
        if bar is None:
            return
        bar.total = p.chunks_total
        bar.n = p.chunks_done
        rate = p.embedded / p.elapsed_s if p.elapsed_s > 0 else 0.0
        bar.set_postfix_str(f"bài {p.articles_done}/{p.articles_total}, {rate:.1f} vectơ/s")
        bar.refresh()

    try:
        report = ingest(
            paths,
            settings,
            embedder=services.embedder,
            prune=args.prune,
            progress=on_progress,
            on_wait=_waiting(settings),
        )
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        _print_json(report.as_dict())
        return report.exit_code
    print(
        f"Đã nạp: {len(report.added)} bài mới, {len(report.updated)} bài cập nhật, "
        f"{report.unchanged} bài không đổi, {len(report.skipped)} tệp bỏ qua"
        + (f", {len(report.pruned)} bài đã xoá (--prune)" if args.prune else "")
        + "."
    )
    print(
        f"Đoạn ghi: {report.chunks_written}; vectơ tính mới: {report.embedded}; "
        f"lấy từ bộ nhớ đệm: {report.cache_hits}; thời gian: {report.seconds:.1f} s."
    )
    if report.repaired != (0, 0):
        print(
            f"Đã sửa chỉ mục sau lần nạp bị ngắt: bỏ {report.repaired[0]} vectơ thừa, "
            f"thêm lại {report.repaired[1]} vectơ thiếu."
        )
    for s in report.skipped:
        print(f"  Bỏ qua {s.path}: {s.reason}", file=sys.stderr)
    return report.exit_code


def cmd_stats(args: argparse.Namespace) -> int:
    services = _services(args)
    try:
        stats = services.index.stats()
    finally:
        services.close()
    if args.json:
        _print_json(stats)
        return EXIT_OK
    dr = stats["date_range"]
    print(f"Chỉ mục: {stats['index']} ({stats['index_dir']})")
    print(f"Bài viết: {stats['articles']}; đoạn: {stats['chunks']}")
    print(f"Nguồn: {', '.join(stats['sources']) or '(không rõ)'}")
    print(
        f"Khoảng thời gian: {dr[0]} → {dr[1]}" if dr else "Khoảng thời gian: (chưa có ngày đầy đủ)"
    )
    print(f"Mô hình nhúng: {stats['embedding_model']} ({stats['dim']} chiều)")
    print(f"Kho vectơ: {stats['store']}; dung lượng: {stats['index_size_bytes'] / 1e6:.1f} MB")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    services = _services(args)
    try:
        article = services.catalog.get_article(args.article_id)
        chunks = services.catalog.chunks_of(article.id) if article else []
    finally:
        services.close()
    if article is None:
        print(f"Không có bài viết có mã {args.article_id!r} trong chỉ mục.", file=sys.stderr)
        return EXIT_FAILURE
    data = {
        "id": article.id,
        "title": article.title,
        "date": article.date,
        "date_precision": article.date_precision,
        "source": article.source,
        "author": article.author,
        "places": list(article.places),
        "url": article.url,
        "path": article.path,
        "removed_lines": list(article.removed_lines),
        "chunks": [{"id": c.id, "start": c.start, "end": c.end, "text": c.text} for c in chunks],
    }
    if args.json:
        _print_json(data)
        return EXIT_OK
    print(f"{article.title}\n")
    for key, label in (
        ("date", "Ngày"),
        ("date_precision", "Độ chính xác ngày"),
        ("source", "Nguồn"),
        ("author", "Tác giả"),
        ("url", "URL"),
        ("path", "Tệp"),
    ):
        if data[key]:
            print(f"{label}: {data[key]}")
    if article.places:
        print(f"Địa danh: {', '.join(article.places)}")
    print(f"Dòng rác đã loại: {len(article.removed_lines)}")
    for c in chunks:
        print(f"\n--- {c.id} [{c.start}:{c.end}]\n{c.text}")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    from rag.index.ingest import delete_articles

    services = _services(args)
    settings = services.settings
    deleted = delete_articles(args.ids, settings, services.embedder.model_id, _waiting(settings))
    missing = [i for i in args.ids if i not in deleted]
    if args.json:
        _print_json({"deleted": deleted, "not_found": missing})
    else:
        if deleted:
            print(f"Đã xoá {len(deleted)} bài: {', '.join(deleted)}")
        for i in missing:
            print(f"Không có bài viết có mã {i!r}.", file=sys.stderr)
    if not deleted:
        return EXIT_FAILURE
    return EXIT_PARTIAL if missing else EXIT_OK


def _filters(args: argparse.Namespace) -> Filters:
    from rag.types import Filters

    return Filters(
        sources=tuple(args.source),
        article_ids=tuple(args.article),
        places=tuple(args.place),
        since=args.since,
        until=args.until,
    )


def _assistant(args: argparse.Namespace) -> Assistant:
    from rag.assistant import Assistant

    return Assistant(_settings(args))


def _streamer(assistant: Assistant) -> Callable[[str], None] | None:
    """Print LLM tokens as they arrive; the extractive answer is printed whole afterwards."""
    if not assistant.services.uses_llm:
        return None

    def on_token(tok: str) -> None:
        print(tok, end="", flush=True)

    return on_token


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.answer.render import answer_to_dict, format_answer

    assistant = _assistant(args)
    if args.json:
        _print_json(answer_to_dict(assistant.ask(args.question, filters=_filters(args))))
        return EXIT_OK
    stream = _streamer(assistant)
    answer = assistant.ask(args.question, filters=_filters(args), on_token=stream)
    if stream is not None:
        print()
    print(format_answer(answer, with_text=stream is None or answer.notice is not None))
    return EXIT_OK


def cmd_chat(args: argparse.Namespace) -> int:
    from rag.answer.question import QuestionError
    from rag.answer.render import format_answer
    from rag.types import Turn

    assistant = _assistant(args)
    history: list[Turn] = []
    print(
        "Hỏi đáp về các tài liệu đã nạp. Gõ /moi để bắt đầu cuộc trò chuyện mới, /thoat để thoát."
    )
    while True:
        try:
            question = input("\nBạn: ").strip()
        except EOFError:
            print()
            return EXIT_OK
        if question in ("/thoat", "/quit", "/exit"):
            return EXIT_OK
        if question in ("/moi", "/new"):
            history.clear()
            print("Đã bắt đầu cuộc trò chuyện mới.")
            continue
        if not question:
            continue
        try:
            stream = _streamer(assistant)
            print("hoidap: ", end="", flush=True)
            answer = assistant.ask(
                question, history=history, filters=_filters(args), on_token=stream
            )
        except QuestionError as exc:
            print(exc.user_message)
            continue
        if stream is not None:
            print()
        if answer.standalone_query and answer.standalone_query != " ".join(question.split()):
            print(f"(hiểu là: {answer.standalone_query})")
        print(format_answer(answer, with_text=stream is None or answer.notice is not None))
        history.append(Turn(question, answer.text))


def cmd_batch(args: argparse.Namespace) -> int:
    from rag.answer.question import QuestionError
    from rag.answer.render import answer_to_dict
    from rag.types import Turn

    assistant = _assistant(args)
    filters = _filters(args)
    errors = done = 0
    with (
        open(args.input, encoding="utf-8-sig") as src,
        open(args.output, "w", encoding="utf-8") as out,
    ):
        for lineno, line in enumerate(src, 1):
            if not line.strip():
                continue
            item_id: Any = None
            try:
                item = json.loads(line)
                if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                    raise ValueError('needs an object with a "question" string')
                item_id = item.get("id", f"line-{lineno}")
                history = [
                    Turn(str(h["question"]), str(h["answer"])) for h in item.get("history") or []
                ]
                answer = assistant.ask(item["question"], history=history, filters=filters)
                out.write(
                    json.dumps(answer_to_dict(answer, item_id=str(item_id)), ensure_ascii=False)
                    + "\n"
                )
                done += 1
            except (ValueError, KeyError, TypeError, QuestionError) as exc:
                errors += 1
                print(f"Dòng {lineno}: bỏ qua ({exc})", file=sys.stderr)
                out.write(
                    json.dumps(
                        {"id": item_id, "line": lineno, "error": str(exc)}, ensure_ascii=False
                    )
                    + "\n"
                )
            out.flush()
    print(f"Đã trả lời {done} câu hỏi; {errors} dòng lỗi. Kết quả: {args.output}", file=sys.stderr)
    if done == 0 and errors:
        return EXIT_FAILURE
    return EXIT_PARTIAL if errors else EXIT_OK


def cmd_brief(args: argparse.Namespace) -> int:
    from rag.briefing import BriefingBuilder, to_markdown, write_briefing
    from rag.briefing.export import BRIEFING_SUFFIXES

    if args.out and Path(args.out).suffix.lower() not in BRIEFING_SUFFIXES:
        print("Lỗi: --out phải là tệp .docx hoặc .md", file=sys.stderr)
        return EXIT_USAGE
    briefing = BriefingBuilder(_assistant(args).services).build(args.topic, _filters(args))
    if not briefing.found:
        print(f"{briefing.summary} {briefing.notice or ''}".strip(), file=sys.stderr)
        return EXIT_FAILURE
    if not args.out:
        print(to_markdown(briefing))
        return EXIT_OK
    write_briefing(briefing, args.out)
    print(f"Đã ghi {args.out}: {len(briefing.key_points)} ý chính, {len(briefing.sources)} nguồn.")
    return EXIT_OK


def cmd_users(args: argparse.Namespace) -> int:
    """``hoidap users add|remove|list|passwd|role`` (``rag.web.users_cli``)."""
    from rag.web.users_cli import users_command

    return users_command(args, _settings(args))


def _backup_report(rep: Any, verb: str, as_json: bool) -> None:
    if as_json:
        _print_json(
            {
                "path": str(rep.archive),
                "files": rep.files,
                "bytes": rep.bytes,
                "seconds": round(rep.seconds, 2),
                "indexes": [vars(s) for s in rep.indexes],
                "moved_aside": str(rep.moved_aside) if rep.moved_aside else None,
            }
        )
        return
    from corpus.formats import human_size

    print(
        f"Đã {verb} {rep.archive}: {rep.files} tệp, {human_size(rep.bytes)}, "
        f"{rep.seconds:.1f} giây."
    )
    for s in rep.indexes:
        print(f"  {s.path}: {s.articles} bài, {s.chunks} đoạn (lần ghi thứ {s.generation})")
    if rep.moved_aside:
        print(f"Dữ liệu cũ đã được chuyển sang {rep.moved_aside}.")


def cmd_backup(args: argparse.Namespace) -> int:
    from rag.index.backup import backup_home

    settings = _settings(args)
    rep = backup_home(
        settings, Path(args.archive), include_cache=not args.no_cache, on_wait=_waiting(settings)
    )
    _backup_report(rep, "ghi bản sao lưu", args.json)
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from rag.index.backup import restore_home

    settings = _settings(args)
    rep = restore_home(Path(args.archive), settings.home, force=args.force)
    _backup_report(rep, "khôi phục vào", args.json)
    return EXIT_OK


COMMANDS = {
    "backup": cmd_backup,
    "restore": cmd_restore,
    "users": cmd_users,
    "ingest": cmd_ingest,
    "stats": cmd_stats,
    "show": cmd_show,
    "delete": cmd_delete,
    "ask": cmd_ask,
    "chat": cmd_chat,
    "batch": cmd_batch,
    "brief": cmd_brief,
}


def report_error(exc: HoidapError) -> int:
    """What a person sees when a known error stops a command: its heading and Vietnamese
    message on one stderr line, no traceback; returns the exit code its class declares
    (``EXIT_USAGE`` for a setting, question or filter to fix, else ``EXIT_FAILURE``)."""
    print(f"{exc.heading}: {exc.user_message}", file=sys.stderr)
    return exc.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["eval"]:  # own parser: "hoidap eval TESTSET ..." and "eval compare A B"
            from evals.cli import main as eval_main

            return eval_main(argv[1:])
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except HoidapError as exc:  # the one place a known error becomes a message
        return report_error(exc)
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print("Đã dừng. Chỉ mục vẫn dùng được; chạy lại để nạp tiếp.", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
