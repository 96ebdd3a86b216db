"""One error base (corpus.errors.HoidapError), its mapping in the faces, and constants that
are defined once."""

from __future__ import annotations

import ast
import importlib
import logging
from pathlib import Path

import pytest

from corpus.errors import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, HoidapError
from tests.layers import project_modules

ROOT = Path(__file__).resolve().parent.parent


def _exception_classes_in_source() -> dict[str, list[str]]:
    """Module -> names of its top-level classes with a base (read with ``ast``), so a new
    error class is found without being listed anywhere."""
    found: dict[str, list[str]] = {}
    for module, path in project_modules(ROOT).items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.bases:
                found.setdefault(module, []).append(node.name)
    return found


def _project_exception_classes() -> list[type[BaseException]]:
    classes = []
    for module, names in _exception_classes_in_source().items():
        mod = importlib.import_module(module)
        for name in names:
            obj = getattr(mod, name, None)
            if (
                isinstance(obj, type)
                and issubclass(obj, BaseException)
                and obj.__module__ == mod.__name__
            ):
                classes.append(obj)
    return classes


def test_every_project_error_subclasses_hoidap_error():
    classes = _project_exception_classes()
    names = {c.__name__ for c in classes}
    # the walk finds them (a sample from each layer), so the check below means something
    assert {"DecodeError", "EmbedderUnavailable", "IndexBusy", "LLMError", "EvalError"} <= names
    assert {"UploadRejected", "UnsafeBind", "QuestionError", "FilterError"} <= names
    missing = sorted(
        f"{c.__module__}.{c.__name__}" for c in classes if not issubclass(c, HoidapError)
    )
    assert not missing, f"error classes without the HoidapError base: {missing}"


def test_imported_subclasses_of_the_base_are_all_project_errors():
    _project_exception_classes()  # imports every module

    def walk(cls: type) -> list[type]:
        return [cls] + [s for sub in cls.__subclasses__() for s in walk(sub)]

    subclasses = [c for c in walk(HoidapError)[1:] if c.__module__.split(".")[0] != "tests"]
    prefixes = ("corpus", "embeddings", "rag", "evals", "app")
    assert subclasses and all(c.__module__.startswith(prefixes) for c in subclasses)


def test_old_bases_are_kept():
    from corpus.formats import LoadError
    from rag.index.index import IndexBusy
    from rag.settings import SettingsError

    assert issubclass(IndexBusy, RuntimeError) and issubclass(SettingsError, ValueError)
    assert issubclass(LoadError, Exception)
    assert str(LoadError("hỏng")) == "hỏng" and LoadError("hỏng").reason == "hỏng"


def test_user_message_heading_and_exit_code():
    from rag.answer.question import QuestionError
    from rag.index.index import DiskFull, IndexMismatch
    from rag.retrieval.retrieve import FilterError
    from rag.settings import SettingsError
    from rag.web.auth import UnsafeBind

    assert DiskFull("Không đủ chỗ\n trống.").user_message == "Không đủ chỗ trống."
    assert DiskFull().user_message == "DiskFull"
    assert DiskFull("x").exit_code == EXIT_FAILURE and DiskFull.heading == "Lỗi"
    for cls in (SettingsError, QuestionError, FilterError, UnsafeBind):
        assert cls.exit_code == EXIT_USAGE
    assert SettingsError.heading == UnsafeBind.heading == "Lỗi cấu hình"
    msg = IndexMismatch("/x was built with 'a', not 'b'").user_message
    assert msg.startswith("Chỉ mục này được tạo với một mô hình nhúng khác") and "/x" in msg


class _Boom(HoidapError, RuntimeError):
    """A project-style error raised from a command in the tests."""

    exit_code = EXIT_USAGE


def test_cli_maps_a_hoidap_error_to_its_message_and_exit_code(monkeypatch, capsys):
    from rag import cli

    def command(args):
        raise _Boom("Không làm được việc này.")

    monkeypatch.setitem(cli.COMMANDS, "stats", command)
    assert cli.main(["stats"]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.err == "Lỗi: Không làm được việc này.\n" and captured.out == ""

    def failing(args):
        from rag.index.index import IndexBusy

        raise IndexBusy("Một lần nạp khác đang chạy.")

    monkeypatch.setitem(cli.COMMANDS, "stats", failing)
    assert cli.main(["stats"]) == EXIT_FAILURE
    assert capsys.readouterr().err == "Lỗi: Một lần nạp khác đang chạy.\n"


def test_cli_lets_other_exceptions_through(monkeypatch):
    from rag import cli

    def command(args):
        raise KeyError("bug")

    monkeypatch.setitem(cli.COMMANDS, "stats", command)
    with pytest.raises(KeyError):
        cli.main(["stats"])


def test_eval_errors_are_reported_by_the_same_mapping(tmp_path, capsys):
    from rag.cli import main

    assert main(["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("Lỗi: ") and err.count("\n") == 1


def test_web_shows_the_user_message_or_a_logged_failure(caplog):
    from rag.index.index import IndexMismatch
    from rag.web.errors import error_html, error_text

    with caplog.at_level(logging.INFO, logger="hoidap.web"):
        assert error_text(_Boom("Hãy thử lại.")) == "Hãy thử lại."
        assert error_text(IndexMismatch("x")).startswith("Chỉ mục này")
        assert error_text(ValueError("hỏng")) == "Lỗi: hỏng"
        assert error_text(ValueError()) == "Lỗi: ValueError"
    assert [r.levelno for r in caplog.records] == [logging.INFO] * 2 + [logging.ERROR] * 2
    assert "Hãy thử lại." in error_html(_Boom("Hãy thử lại."))


# -- constants defined once ------------------------------------------------------------------
def test_exit_codes_are_single_sourced():
    import evals.cli
    import rag.cli
    import rag.index.ingest

    assert (EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_PARTIAL) == (0, 1, 2, 3)
    for mod in (rag.cli, rag.index.ingest, evals.cli):
        for name in ("EXIT_OK", "EXIT_FAILURE", "EXIT_PARTIAL"):
            assert getattr(mod, name) is getattr(importlib.import_module("corpus.errors"), name)
    for path in ("rag/cli.py", "rag/index/ingest.py", "evals/cli.py"):
        assert "EXIT_OK, EXIT_FAILURE" not in (ROOT / path).read_text(encoding="utf-8")


def test_refusal_sentence_is_single_sourced():
    from rag.answer import extractive, llm, texts

    assert extractive.REFUSAL is texts.REFUSAL and llm.REFUSAL_TEXT is texts.REFUSAL
    # the sentence as a string constant of its own (docstrings may quote it)
    where = [
        str(path.relative_to(ROOT))
        for path in project_modules(ROOT).values()
        if any(
            isinstance(node, ast.Constant) and node.value == texts.REFUSAL
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )
    ]
    assert where == ["rag/answer/texts.py"], where


def test_supported_suffixes_are_single_sourced():
    import corpus.formats
    import corpus.loaders
    import rag.web.corpus
    from rag.web.tabs import SUFFIXES

    one = corpus.formats.SUPPORTED_SUFFIXES
    assert corpus.loaders.SUPPORTED_SUFFIXES is one and rag.web.corpus.SUPPORTED_SUFFIXES is one
    assert ".jsonl.gz" in one and ".gz" in SUFFIXES and ".jsonl.gz" not in SUFFIXES
    assert len(SUFFIXES) == len(one)


def test_metric_names_are_single_sourced():
    from evals import metrics, report, scoring

    names = scoring.metric_names(scoring.SYSTEM)
    assert names[0] == "article_hit@1" and "passage_ndcg@10" in names
    assert set(metrics.ANSWER_METRICS) <= set(names)
    assert set(report.ANSWER_KEYS) == set(metrics.ANSWER_METRICS) | set(metrics.REFUSAL_METRICS)
    assert set(report.RETRIEVAL_KEYS) <= {n for n, _, _ in metrics.RETRIEVAL_METRICS}
    assert report.SYSTEM is scoring.SYSTEM
    for path in ("evals/scoring.py", "evals/report.py", "evals/aggregate.py", "evals/compare.py"):
        text = (ROOT / path).read_text(encoding="utf-8")
        assert '"hit@1"' not in text and '"refusal_recall")' not in text, path


def test_what_opens_an_index_closes_it(tmp_path):
    from rag.index.index import Index
    from rag.settings import load_settings
    from rag.web.corpus import delete_article

    settings = load_settings(tmp_path, env={})
    with Index(settings, "toy") as index:
        index.catalog.states()
        assert index.catalog.open_connections() == 1
    assert index.catalog.open_connections() == 0
    assert delete_article(settings, "toy", "nothing") is False
