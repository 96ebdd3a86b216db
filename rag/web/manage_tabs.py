"""The corpus and evaluation tabs (Gradio wiring; logic in ``rag.web.corpus`` and
``rag.web.evaluation``). Every handler asks ``rag.web.tabs.guard`` first, as the chat and
briefing tabs do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr  # at module level: handlers are annotated with gr.Request

from corpus.formats import SUPPORTED_SUFFIXES
from rag.web.errors import error_html
from rag.web.tabs import SUFFIXES, guard


@dataclass
class CorpusTab:
    table: Any
    choice: Any


def corpus_tab(app: Any, stats: Any, source_dropdowns: list[Any]) -> CorpusTab:

    from rag.web import corpus as cp
    from rag.web.assets import CONFIRM_DELETE_JS
    from rag.web.render import notice_html, upload_report_html

    s = app.settings
    gr.HTML(
        f"<p>Tải lên tệp {', '.join(SUPPORTED_SUFFIXES)} (tối đa {s.max_upload_mb} MB "
        "mỗi tệp). Tệp được lưu vào thư mục tài liệu của chỉ mục rồi nạp ngay; tải lại tệp "
        "cùng tên sẽ cập nhật bài viết đó.</p>"
    )
    upload = gr.UploadButton(
        "Chọn tệp để tải lên và nạp",
        file_count="multiple",
        file_types=SUFFIXES,
        variant="primary",
        elem_id="hd-upload",
    )
    result = gr.HTML(elem_id="hd-upload-result")
    headers = ["Mã bài", "Tiêu đề", "Ngày", "Nguồn", "Số đoạn"]
    table = gr.Dataframe(
        value=cp.article_rows(app.catalog),
        headers=headers,
        interactive=False,
        wrap=True,
        max_height=520,
        buttons=[],  # their tooltips are English-only
        label="Các bài viết trong chỉ mục",
        elem_id="hd-articles",
    )
    with gr.Row():
        choice = gr.Dropdown(
            choices=delete_choices(app),
            value=None,
            label="Chọn bài để xoá",
            scale=4,
            elem_id="hd-delete-choice",
            # another process (a replica, `hoidap ingest`) may have added the article since
            # this page's list was made; on_delete checks the id against the catalog
            allow_custom_value=True,
        )
        delete = gr.Button("Xoá bài đã chọn", variant="stop", scale=1, elem_id="hd-delete")
    reindex = gr.Button("Làm mới chỉ mục (đọc lại các tệp nguồn)", elem_id="hd-reindex")

    def refreshed() -> tuple[Any, ...]:
        choices = app.sources()
        return (
            cp.article_rows(app.catalog),
            gr.update(choices=delete_choices(app), value=None),
            app.stats_html(),
            *(gr.update(choices=choices) for _ in source_dropdowns),
        )

    def on_upload(
        files: Any,
        request: gr.Request,
        progress: Any = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, ...]:
        caller = guard(app, request, "upload")
        paths = [files] if isinstance(files, str) else list(files or [])
        progress(0, desc="Đang lưu tệp…")
        report = cp.save_uploads(paths, cp.upload_dir(s), max_bytes=s.max_upload_mb * 1024 * 1024)
        try:
            progress(0.02, desc="Đang đọc và tách đoạn…")
            services = app.assistant.services
            report = cp.ingest_uploads(
                report,
                s,
                services.embedder,
                lambda f, d: progress(f, desc=d),
                index=services.index,
            )
        except Exception as exc:  # shown on the page, logged
            app.security.record(
                "upload", caller, files=[x.name for x in report.saved], error=type(exc).__name__
            )
            return (error_html(exc), *refreshed())
        app.security.record(
            "upload",
            caller,
            files=[x.name for x in report.saved],
            added=len(report.added),
            updated=len(report.updated),
            unchanged=report.unchanged,
            refused=len(report.errors),
        )
        html = upload_report_html(
            [x.name for x in report.saved],
            report.errors,
            added=len(report.added),
            updated=len(report.updated),
            unchanged=report.unchanged,
            chunks=report.chunks,
            seconds=report.seconds,
        )
        return (html, *refreshed())

    def on_delete(article_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        caller = guard(app, request, "delete")
        if not article_id:
            return (notice_html("Chưa chọn bài nào.", kind="warn"), *refreshed())
        try:
            services = app.assistant.services
            ok = cp.delete_article(s, services.embedder.model_id, article_id, services.index)
        except Exception as exc:  # shown on the page, logged
            app.security.record("delete", caller, article=article_id, error=type(exc).__name__)
            return (error_html(exc), *refreshed())
        app.security.record("delete", caller, article=article_id, deleted=ok)
        msg = f"Đã xoá bài {article_id}." if ok else f"Không có bài {article_id}."
        return (notice_html(msg, kind="ok" if ok else "warn"), *refreshed())

    def on_reindex(
        request: gr.Request,
        progress: Any = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, ...]:
        caller = guard(app, request, "reindex")
        progress(0, desc="Đang đọc lại các tệp nguồn…")
        try:
            services = app.assistant.services
            r = cp.reindex(
                s, services.embedder, lambda f, d: progress(f, desc=d), index=services.index
            )
        except Exception as exc:  # shown on the page, logged
            app.security.record("reindex", caller, error=type(exc).__name__)
            return (error_html(exc), *refreshed())
        app.security.record(
            "reindex",
            caller,
            added=r["added"],
            updated=r["updated"],
            unchanged=r["unchanged"],
            pruned=len(r["pruned"]),  # type: ignore[arg-type]
        )
        msg = (
            f"Đã làm mới: {r['added']} bài mới, {r['updated']} bài cập nhật, "
            f"{r['unchanged']} bài không đổi, {len(r['pruned'])} bài đã xoá vì tệp không còn."  # type: ignore[arg-type]
        )
        skipped = [(x["path"], x["reason"]) for x in r["skipped"]]  # type: ignore[attr-defined]
        html = notice_html(msg, kind="ok")
        if skipped:
            html += upload_report_html(
                [], skipped, added=0, updated=0, unchanged=0, chunks=0, seconds=0
            )
        return (html, *refreshed())

    outs = [result, table, choice, stats, *source_dropdowns]
    lane: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "corpus"}
    upload.upload(on_upload, [upload], outs, api_name="upload", **lane)
    delete.click(on_delete, [choice], outs, api_name="delete", js=CONFIRM_DELETE_JS, **lane)
    reindex.click(on_reindex, None, outs, api_name="reindex", **lane)
    return CorpusTab(table, choice)


def delete_choices(app: Any) -> list[tuple[str, str]]:
    metas = sorted(app.catalog.article_meta().values(), key=lambda m: m.title)
    return [(f"{m.title[:90]} — {m.id}", m.id) for m in metas]


# ---------------------------------------------------------------------------- evaluation


def eval_tab(app: Any) -> None:

    from rag.web.evaluation import TESTSET_SUFFIXES, run_testset
    from rag.web.render import notice_html

    gr.HTML(
        "<p>Tải lên một bộ câu hỏi kiểm thử (.jsonl, .csv hoặc SQuAD .json; xem "
        "docs/EVALUATION.md), chạy nó qua hoidap và xem các chỉ số. Bộ có sẵn đoạn văn riêng "
        "(SQuAD) được nạp vào một chỉ mục riêng, không đụng đến kho tài liệu.</p>"
    )
    chosen = gr.State(None)
    with gr.Row():
        pick = gr.UploadButton(
            "Chọn bộ câu hỏi kiểm thử",
            file_types=list(TESTSET_SUFFIXES),
            file_count="single",
            elem_id="hd-eval-file",
            scale=2,
        )
        baselines = gr.Checkbox(label="So sánh với các phương pháp cơ sở", value=False, scale=1)
        run = gr.Button("Chạy đánh giá", variant="primary", elem_id="hd-eval-run", scale=1)
    picked = gr.HTML(notice_html("Chưa chọn bộ câu hỏi."), elem_id="hd-eval-picked")

    def on_pick(path: Any, request: gr.Request) -> tuple[Any, str]:
        guard(app, request, "evaluate")
        name = Path(str(path)).name if path else ""
        return path, notice_html(f"Đã chọn: {name}" if name else "Chưa chọn bộ câu hỏi.")

    pick.upload(on_pick, [pick], [chosen, picked], api_visibility="private", queue=False)
    status = gr.HTML(elem_id="hd-eval-status")
    tables = gr.Markdown(elem_id="hd-eval-tables")
    plots = gr.Gallery(
        label="Biểu đồ", columns=2, height=460, object_fit="contain", elem_id="hd-eval-plots"
    )
    with gr.Row():
        results = gr.DownloadButton(
            "Tải kết quả từng câu (results.jsonl)", interactive=False, elem_id="hd-eval-dl"
        )
        files = gr.File(label="Các tệp của lần chạy", file_count="multiple", interactive=False)

    def on_run(
        path: Any,
        with_baselines: bool,
        request: gr.Request,
        progress: Any = gr.Progress(),  # noqa: B008
    ) -> Any:
        caller = guard(app, request, "evaluate")
        off = gr.update(value=None, interactive=False)
        if not path:
            return notice_html("Chưa chọn bộ câu hỏi.", kind="warn"), "", [], off, None
        progress(0, desc="Đang chuẩn bị chỉ mục…")

        def step(done: int, total: int) -> None:
            progress(done / max(total, 1), desc=f"Đã chấm {done}/{total} câu")

        try:
            r = run_testset(
                Path(path), app.settings, app.assistant, baselines=with_baselines, progress=step
            )
        except Exception as exc:  # shown on the page (rag.web.errors), logged
            app.security.record(
                "evaluate", caller, testset=Path(path).name, error=type(exc).__name__
            )
            return error_html(exc), "", [], off, None
        app.security.record(
            "evaluate",
            caller,
            testset=Path(path).name,
            baselines=with_baselines,
            questions=r.summary["questions"],
            scored=r.summary["scored"],
            run=r.out_dir.name,
        )
        note = f"Xong: {r.summary['scored']}/{r.summary['questions']} câu; kết quả ở {r.out_dir}."
        return (
            notice_html(note, kind="ok"),
            r.tables_md,
            [str(p) for p in r.plots],
            gr.update(value=str(r.results) if r.results else None, interactive=bool(r.results)),
            [str(f) for f in r.files],
        )

    run.click(
        on_run,
        [chosen, baselines],
        [status, tables, plots, results, files],
        api_name="evaluate",
        concurrency_limit=1,
        concurrency_id="eval",
    )
