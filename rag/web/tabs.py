"""The four tabs' components and events (Gradio wiring; logic lives elsewhere).

Every handler is a small function that calls a plain module and maps its result onto
components. Long work reports progress through ``gr.Progress``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus.errors import HoidapError
from corpus.formats import SUPPORTED_SUFFIXES
from rag.briefing.model import Briefing
from rag.web.errors import error_html

# Gradio's file picker matches the last suffix only: ".jsonl.gz" is offered as ".gz"
SUFFIXES = list(dict.fromkeys("." + s.rsplit(".", 1)[-1] for s in SUPPORTED_SUFFIXES))
DATE_HINT = "YYYY, YYYY-MM hoặc YYYY-MM-DD"


@dataclass
class FilterBox:
    sources: Any
    since: Any
    until: Any


def _filters(app: Any, prefix: str) -> FilterBox:
    import gradio as gr

    with gr.Accordion("Bộ lọc (nguồn, khoảng thời gian)", open=False):
        sources = gr.Dropdown(
            choices=app.sources(),
            multiselect=True,
            label="Nguồn",
            info="Để trống: tất cả các nguồn",
            elem_id=f"{prefix}-sources",
        )
        with gr.Row():
            since = gr.Textbox(label="Từ ngày", placeholder=DATE_HINT, elem_id=f"{prefix}-since")
            until = gr.Textbox(label="Đến ngày", placeholder=DATE_HINT, elem_id=f"{prefix}-until")
    return FilterBox(sources, since, until)


# ------------------------------------------------------------------------------- chat


@dataclass
class ChatTab:
    sources: Any


def chat_tab(app: Any) -> ChatTab:
    import gradio as gr

    from rag.web.assets import COPY_JS
    from rag.web.chat import new_chat, respond
    from rag.web.examples import example_questions
    from rag.web.render import sources_panel_html

    session = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(
                label="Hội thoại",
                buttons=["copy_all"],
                height=520,
                latex_delimiters=[],
                feedback_options=None,
                group_consecutive_messages=False,
                placeholder="Hãy đặt câu hỏi về các tài liệu đã nạp.",
                elem_id="hd-chat",
            )
            with gr.Row():
                question = gr.Textbox(
                    label="Câu hỏi",
                    placeholder="Ví dụ: Năm 2021 đã kiểm tra bao nhiêu cơ quan, đơn vị?",
                    lines=1,
                    max_lines=4,
                    scale=5,
                    elem_id="hd-question",
                )
                ask = gr.Button("Hỏi", variant="primary", scale=1, elem_id="hd-ask")
            with gr.Row():
                new = gr.Button("Cuộc trò chuyện mới", size="sm", elem_id="hd-new")
                copy = gr.Button("Sao chép câu trả lời kèm nguồn", size="sm", elem_id="hd-copy-btn")
                gr.HTML('<span id="hd-copy-done"></span>')
            status = gr.HTML(elem_id="hd-status")
            filters = _filters(app, "hd-chat")
            examples = example_questions(app.catalog.article_meta())
            if examples:
                gr.Examples(
                    [[q] for q in examples],
                    inputs=[question],
                    label="Câu hỏi mẫu (từ bộ tài liệu)",
                    examples_per_page=8,
                )
            with gr.Accordion("Câu trả lời kèm nguồn, dạng văn bản", open=False):
                copy_box = gr.Textbox(
                    label="Văn bản để sao chép",
                    lines=8,
                    interactive=False,
                    buttons=["copy"],
                    elem_id="hd-copy",
                )
        with gr.Column(scale=2):
            gr.HTML("<h3>Nguồn trích dẫn</h3>")
            sources = gr.HTML(sources_panel_html([]), elem_id="hd-sources")

    # The chat's outputs only ever get plain values, never gr.update(): once a component
    # has had a property update in a session, Gradio 6.31 stores one more copy of it in
    # that session every time it is then used as an input or given a value — a leak of
    # one component per question (found by the soak benchmark; test_web_api checks that
    # a session stays the same size). So the question box is "kept" by sending it back.

    def on_ask(q: str, sess: Any, src: Any, since: Any, until: Any) -> Any:
        shown = sess if sess is not None else new_chat().session

        def unchanged(status_html: str) -> tuple[Any, ...]:
            """The page as it was (conversation and question kept) with a new status."""
            return (
                shown.messages(),
                shown.sources_html(),
                shown.copy_text(),
                status_html,
                sess,
                q,
            )

        try:
            f = app.filters(src, since, until)
            app.assistant.services.retriever.allowed_articles(f)  # checks the dates before asking
        except HoidapError as exc:  # a bad date: the conversation is kept
            yield unchanged(error_html(exc))
            return
        try:
            for view in respond(app.assistant, app.catalog, sess, q, f):
                yield (
                    view.messages,
                    view.sources_html,
                    view.copy_text,
                    view.status_html,
                    view.session,
                    "" if view.done and view.session.turns else q,
                )
        except Exception as exc:  # shown on the page, logged; the conversation is kept
            yield unchanged(error_html(exc))

    outputs = [chatbot, sources, copy_box, status, session, question]
    inputs = [question, session, filters.sources, filters.since, filters.until]
    lane: dict[str, Any] = {
        "concurrency_limit": app.settings.web_concurrency,
        "concurrency_id": "chat",
    }
    ask.click(on_ask, inputs, outputs, api_name="chat", **lane)
    question.submit(on_ask, inputs, outputs, api_visibility="private", **lane)

    def on_new() -> Any:
        v = new_chat()
        return v.messages, v.sources_html, v.copy_text, v.status_html, v.session, ""

    new.click(on_new, None, outputs, api_name="new_chat", queue=False)
    chatbot.clear(on_new, None, outputs, api_visibility="private", queue=False)  # the bin icon
    copy.click(None, [copy_box], None, js=COPY_JS)
    return ChatTab(filters.sources)


# ------------------------------------------------------------------------------ briefing


@dataclass
class BriefTab:
    sources: Any


def briefing_tab(app: Any) -> BriefTab:
    import gradio as gr

    from rag.web.assets import PRINT_JS
    from rag.web.render import briefing_html, notice_html

    gr.HTML(
        "<p>Nhập một chủ đề để soạn tài liệu tóm tắt cho buổi tập huấn: tổng quan, các ý chính "
        "có trích dẫn, số liệu chính, dòng thời gian và danh sách nguồn.</p>"
    )
    with gr.Row():
        topic = gr.Textbox(
            label="Chủ đề",
            placeholder="Ví dụ: kiểm tra thực hiện Quy chế dân chủ ở cơ sở",
            scale=5,
            elem_id="hd-topic",
        )
        build = gr.Button("Soạn tài liệu", variant="primary", scale=1, elem_id="hd-build")
    filters = _filters(app, "hd-brief")
    status = gr.HTML(elem_id="hd-brief-status")
    with gr.Row():
        md = gr.DownloadButton("Tải Markdown (.md)", interactive=False, elem_id="hd-dl-md")
        docx = gr.DownloadButton("Tải Word (.docx)", interactive=False, elem_id="hd-dl-docx")
        printer = gr.Button("In tài liệu", interactive=False, elem_id="hd-print")
    result = gr.HTML(elem_id="hd-briefing")

    def on_build(t: str, src: Any, since: Any, until: Any) -> Any:
        off = gr.update(value=None, interactive=False)
        try:
            b: Briefing = app.briefer.build(t, app.filters(src, since, until))
        except Exception as exc:  # shown on the page (rag.web.errors), logged
            return error_html(exc), "", off, off, gr.update(interactive=False)
        if not b.found:
            return (
                notice_html(b.summary + " " + (b.notice or ""), kind="warn"),
                briefing_html(b),
                off,
                off,
                gr.update(interactive=False),
            )
        md_path, docx_path = app.brief_files(b)
        note = f"Đã soạn xong: {len(b.key_points)} ý chính, {len(b.key_figures)} số liệu, "
        note += f"{len(b.timeline)} mốc thời gian, {len(b.sources)} nguồn."
        return (
            notice_html(note, kind="ok"),
            briefing_html(b),
            gr.update(value=str(md_path), interactive=True),
            gr.update(value=str(docx_path), interactive=True),
            gr.update(interactive=True),
        )

    lane: dict[str, Any] = {
        "concurrency_limit": app.settings.web_concurrency,
        "concurrency_id": "brief",
    }
    args = (on_build, [topic, filters.sources, filters.since, filters.until])
    outs = [status, result, md, docx, printer]
    build.click(*args, outs, api_name="brief", **lane)
    topic.submit(*args, outs, api_visibility="private", **lane)
    printer.click(None, None, None, js=PRINT_JS)
    return BriefTab(filters.sources)


# -------------------------------------------------------------------------------- corpus


@dataclass
class CorpusTab:
    table: Any
    choice: Any


def corpus_tab(app: Any, stats: Any, source_dropdowns: list[Any]) -> CorpusTab:
    import gradio as gr

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

    def on_upload(files: Any, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        paths = [files] if isinstance(files, str) else list(files or [])
        progress(0, desc="Đang lưu tệp…")
        report = cp.save_uploads(paths, cp.upload_dir(s), max_bytes=s.max_upload_mb * 1024 * 1024)
        try:
            progress(0.02, desc="Đang đọc và tách đoạn…")
            report = cp.ingest_uploads(
                report, s, app.assistant.services.embedder, lambda f, d: progress(f, desc=d)
            )
        except Exception as exc:  # shown on the page, logged
            return (error_html(exc), *refreshed())
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

    def on_delete(article_id: str | None) -> tuple[Any, ...]:
        if not article_id:
            return (notice_html("Chưa chọn bài nào.", kind="warn"), *refreshed())
        try:
            ok = cp.delete_article(s, app.assistant.services.embedder.model_id, article_id)
        except Exception as exc:  # shown on the page, logged
            return (error_html(exc), *refreshed())
        msg = f"Đã xoá bài {article_id}." if ok else f"Không có bài {article_id}."
        return (notice_html(msg, kind="ok" if ok else "warn"), *refreshed())

    def on_reindex(progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        progress(0, desc="Đang đọc lại các tệp nguồn…")
        try:
            r = cp.reindex(s, app.assistant.services.embedder, lambda f, d: progress(f, desc=d))
        except Exception as exc:  # shown on the page, logged
            return (error_html(exc), *refreshed())
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
    import gradio as gr

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

    def on_pick(path: Any) -> tuple[Any, str]:
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

    def on_run(path: Any, with_baselines: bool, progress: Any = gr.Progress()) -> Any:  # noqa: B008
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
            return error_html(exc), "", [], off, None
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
