"""The web app (Gradio): ``rag.web.app.WebApp`` builds and serves it; ``python app.py``
launches it. Pure, testable parts: ``render`` (escaped HTML), ``chat`` (a session and a
streamed turn), ``corpus`` (safe uploads, ingest, delete, re-index), ``auth`` (login and
the bind check), ``examples``. ``tabs`` is the Gradio wiring."""
