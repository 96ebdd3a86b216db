"""The four tabs' components and events (Gradio wiring; logic lives elsewhere).

Every handler is a small function that calls a plain module and maps its result onto
components. Long work reports progress through ``gr.Progress``. Every handler that does
something first asks ``app.security`` whether the caller's role allows it (``guard``):
a refusal is a ``gr.Error`` with a Vietnamese message (a toast on the page, an error for an
API client), it is recorded in the audit log and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr  # at module level: handlers are annotated with gr.Request

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


def guard(app: Any, request: gr.Request | None, action: str) -> Any:
    """The caller (``rag.web.access.Caller``) when its role allows ``action``; else raise."""
    caller = app.security.caller(request)
    refused = app.security.check(caller, action)
    if refused:
        raise gr.Error(refused, title="Không có quyền")
    return caller


def role_view(app: Any) -> Any:
    """The page-load handler that shows who is logged in and only the tabs of their role."""
    from rag.web.access import tabs_for
    from rag.web.render import esc
    from rag.web.users import ROLE_LABELS

    def on_role(request: gr.Request) -> tuple[Any, ...]:
        caller = app.security.caller(request)
        shown = tabs_for(caller.role)
        label = ROLE_LABELS.get(caller.role or "", "không rõ")
        who = (
            f'<span class="hd-badge" id="hd-whoami">Đăng nhập: {esc(caller.user or "")} '
            f"({esc(label)})</span>"
        )
        return (who, *(gr.update(visible=t in shown) for t in ("chat", "brief", "corpus", "eval")))

    return on_role


# ------------------------------------------------------------------------------- chat


@dataclass
class ChatTab:
    sources: Any


def chat_tab(app: Any) -> ChatTab:

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

    def on_ask(q: str, sess: Any, src: Any, since: Any, until: Any, request: gr.Request) -> Any:
        caller = guard(app, request, "ask")
        if app.security.audit.questions:
            app.security.record("ask", caller, question=q)
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

    def on_build(t: str, src: Any, since: Any, until: Any, request: gr.Request) -> Any:
        caller = guard(app, request, "brief")
        guard(app, request, "export")
        if app.security.audit.questions:
            app.security.record("brief", caller, topic=t)
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
