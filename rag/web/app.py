"""The Gradio page: a thin adapter over one ``Assistant`` (wiring only; the logic lives in
``rag.web.chat``, ``rag.web.corpus``, ``rag.web.render`` and ``rag.briefing``).

What ``python app.py`` does (it serves until stopped)::

    app = WebApp(Assistant(load_settings()))
    app.launch()

Tabs: Hỏi đáp (chat), Soạn tài liệu tóm tắt (briefing), Kho tài liệu (corpus),
Đánh giá (evaluation). The queue serves ``web_concurrency`` chat/briefing requests at once;
ingest, re-index and evaluation each run one at a time in their own queue lanes, so they
never hold up the chat. Per-session data lives in ``gr.State`` only.

With the login on (``rag.web.security``) the page shows who is logged in, with a logout
button, and only the tabs the user's role may use (the handlers check the role again on
the server: hiding a tab is a convenience, not the protection).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.index.catalog import Catalog

if TYPE_CHECKING:
    from rag.assistant import Assistant
    from rag.briefing import BriefingBuilder
    from rag.briefing.model import Briefing
from rag.types import Filters

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

TITLE = "hoidap — Hỏi đáp tài liệu công tác dân vận"
# Temporary files (Gradio's copies of uploads and downloads, briefing exports) are swept
# every TEMP_SWEEP_S and removed once older than TEMP_MAX_AGE_S.
TEMP_SWEEP_S = 3600
TEMP_MAX_AGE_S = 86400


def _slug(text: str) -> str:
    from corpus.text import strip_diacritics

    s = re.sub(r"[^a-z0-9]+", "-", strip_diacritics(text).lower()).strip("-")
    return s[:50] or "tom-tat"


class WebApp:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.settings = assistant.settings
        self._briefer: BriefingBuilder | None = None
        self._lock = threading.Lock()
        self.demo: Any = None  # the gr.Blocks once launched (demo.close() stops it)
        self._exports: Path | None = None
        from rag.web.security import Security

        self.security = Security(self.settings)

    def _export_root(self) -> Path:
        """This app's folder for briefing exports; exports older than a day are removed."""
        import shutil
        import time

        with self._lock:
            if self._exports is None:
                self._exports = Path(tempfile.mkdtemp(prefix="hoidap-exports-"))
            root = self._exports
        cutoff = time.time() - TEMP_MAX_AGE_S
        for old in root.iterdir():
            try:
                if old.stat().st_mtime < cutoff:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                continue
        return root

    # -- helpers over the index ---------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        return self.assistant.services.catalog

    @property
    def briefer(self) -> BriefingBuilder:
        with self._lock:
            if self._briefer is None:
                from rag.briefing import BriefingBuilder

                self._briefer = BriefingBuilder(self.assistant.services)
            return self._briefer

    def warm_up(self) -> None:
        """Load the embedder, BM25 and the answerer now, not on the first question."""
        services = self.assistant.services
        _ = services.answerer
        services.retriever.retrieve("công tác dân vận", k=1)

    def sources(self) -> list[str]:
        return list(self.catalog.summary()["sources"])

    def stats_html(self) -> str:
        from rag.web.render import answerer_label, date_label, esc

        s = self.catalog.summary()
        dr = s["date_range"]
        dates = f", từ {date_label(dr[0])} đến {date_label(dr[1])}" if dr else ""
        return (
            f'<span class="hd-badge">Chỉ mục: {esc(self.settings.index)}</span>'
            f'<span class="hd-badge">{s["articles"]} bài, {s["chunks"]} đoạn{esc(dates)}</span>'
            f'<span class="hd-badge" id="hd-answerer">Trả lời bởi: '
            f"{esc(answerer_label(self.assistant.services.answerer_label))}</span>"
        )

    # -- building the page ------------------------------------------------------------
    def build(self) -> Any:
        import gradio as gr

        from rag.web import manage_tabs, tabs

        # Gradio keeps a copy of every uploaded and downloaded file in its temporary folder;
        # without delete_cache those copies stay until the disk is full.
        with gr.Blocks(
            title=TITLE,
            analytics_enabled=False,
            fill_width=True,
            delete_cache=(TEMP_SWEEP_S, TEMP_MAX_AGE_S),
        ) as demo:
            gr.HTML(
                f'<div class="hd-header"><h1>{TITLE}</h1><div class="hd-sub">'
                "Trả lời dựa trên tài liệu đã nạp, mỗi ý có trích dẫn [n]; bấm [n] để xem đoạn "
                "nguồn.</div></div>"
            )
            login = self.security.login_on
            who = None
            if login:
                with gr.Row(elem_id="hd-topbar"):
                    who = gr.HTML("", elem_id="hd-user")
                    # this session only: Gradio's /logout ends it and shows the login form
                    gr.Button(
                        "Đăng xuất",
                        link="logout?all_session=false",
                        size="sm",
                        scale=0,
                        elem_id="hd-logout",
                    )
            stats = gr.HTML(self.stats_html(), elem_id="hd-stats")
            # with the login on, tabs a role may not use stay hidden until the page knows
            # who is looking (tabs.on_role); the handlers refuse them anyway
            with gr.Tabs():
                with gr.Tab("Hỏi đáp", id="chat", visible=not login) as t_chat:
                    chat = tabs.chat_tab(self)
                with gr.Tab("Soạn tài liệu tóm tắt", id="brief", visible=not login) as t_brief:
                    brief = tabs.briefing_tab(self)
                with gr.Tab("Kho tài liệu", id="corpus", visible=not login) as t_corpus:
                    corpus = manage_tabs.corpus_tab(self, stats, [chat.sources, brief.sources])
                with gr.Tab("Đánh giá", id="eval", visible=not login) as t_eval:
                    manage_tabs.eval_tab(self)
            if login:
                demo.load(
                    tabs.role_view(self),
                    outputs=[who, t_chat, t_brief, t_corpus, t_eval],
                    queue=False,
                )
            # what a page shows is read when it loads, not when the app started
            demo.load(
                self._on_load,
                outputs=[stats, chat.sources, brief.sources, corpus.table, corpus.choice],
                queue=False,
            )
        return demo

    def _on_load(self) -> tuple[Any, ...]:
        import gradio as gr

        from rag.web.corpus import article_rows
        from rag.web.manage_tabs import delete_choices

        choices = self.sources()
        return (
            self.stats_html(),
            gr.update(choices=choices),
            gr.update(choices=choices),
            article_rows(self.catalog),
            gr.update(choices=delete_choices(self), value=None),
        )

    # -- actions (called from rag.web.tabs) -----------------------------------------------
    def filters(self, sources: Any, since: Any, until: Any) -> Filters:
        from rag.web.chat import parse_filters

        return parse_filters(sources, since, until)

    def brief_files(self, briefing: Briefing) -> tuple[Path, Path]:
        from rag.briefing import write_briefing

        folder = Path(tempfile.mkdtemp(prefix="hoidap-brief-", dir=self._export_root()))
        stem = f"tom-tat-{_slug(briefing.topic)}"
        return (
            write_briefing(briefing, folder / f"{stem}.md"),
            write_briefing(briefing, folder / f"{stem}.docx"),
        )

    def launch(self, *, host: str | None = None, port: int | None = None, **kwargs: Any) -> Any:
        """Start serving (blocks unless ``prevent_thread_lock=True``)."""
        import gradio as gr

        from rag.web.assets import CSS, ON_LOAD_JS, PRINT_HEAD

        s = self.settings
        demo = self.demo = self.build()
        demo.queue(default_concurrency_limit=s.web_concurrency, max_size=256)
        theme = gr.themes.Default(
            font=["system-ui", "Segoe UI", "Roboto", "Noto Sans", "Arial", "sans-serif"],
            font_mono=["ui-monospace", "Consolas", "monospace"],
        )
        auth = self.security.auth()
        for warning in self.security.warnings():
            print(warning, file=sys.stderr)
        options: dict[str, Any] = {
            "server_name": host or s.web_host,
            "server_port": port or s.web_port,
            "auth": auth,
            "auth_message": self.security.login_message() if auth else None,
            # sessions that expire, the client address for the login throttle (rag.web.gate)
            "app_kwargs": {"middleware": [self.security.middleware()]},
            "max_file_size": f"{s.max_upload_mb}mb",
            "theme": theme,
            "css": CSS,
            "js": ON_LOAD_JS,
            "head": PRINT_HEAD,
            "footer_links": [],
            "show_error": False,
            "ssr_mode": False,
            "pwa": False,
            "mcp_server": False,
            # Gradio 6 would keep every question and answer in the browser (and offer to
            # upload them to a Hugging Face bucket); the next user of that browser sees them.
            "run_history": False,
        }
        return demo.launch(**{**options, **kwargs})
