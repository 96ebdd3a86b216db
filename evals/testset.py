"""Test sets for ``hoidap eval``: reading, validating and importing them.

Four formats are read (``load_qa_set`` picks by name):

* **JSONL** (``*.jsonl``): one object per line,
  ``{"id", "question", "answers": [...], "gold_articles": [...]?, "answerable"?,
  "history": [{"question", "answer"}]?}``;
* **CSV** (``*.csv``, UTF-8, header row): the same columns; a list cell is a JSON array
  (``["151", "151 cơ quan"]``) or values separated by ``|``; ``history`` is a JSON array;
  ``answerable`` is true/false (also 1/0, yes/no, có/không); empty cells mean "not given";
* **SQuAD-style JSON** (``*.json``): ``{"data": [{"title", "paragraphs": [{"context",
  "qas": [{"id", "question", "answers": [{"text"}], "is_impossible"?}]}]}]}``;
* **shared QA files**: ``<name>.jsonl`` (``{"id", "question", "answers", "context_id"}``)
  next to ``<name>.contexts.jsonl`` (``{"context_id", "title", "text"}``); pass either file
  or the common prefix ``<name>``.

SQuAD and shared sets bring their own passages (``QASet.passages``): each passage becomes one
article of a named index, and its id is the question's gold article. Defaults: ``answers``
and ``gold_articles`` empty, ``answerable`` true, no history; an ``id`` that is missing
becomes ``line-N``.

A malformed row (bad JSON, no question, a field of the wrong type, a duplicate id) does not
stop the run: it is kept in ``QASet.errors`` with its line number (for SQuAD JSON, its
position ``data[i].paragraphs[j].qas[k]``) and a message in Vietnamese, and the other rows
are read. A file that cannot be read at all raises ``QASetError``.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "demo.jsonl"
>>> _ = p.write_text('{"id": "q1", "question": "Ai?", "answers": ["Lan"]}\\n{"id": 3}\\n')
>>> qs = load_qa_set(p)
>>> [i.id for i in qs.items], [(e.line, e.message) for e in qs.errors]
(['q1'], [(2, 'thiếu "question" (chuỗi không rỗng)')])
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus.errors import EXIT_USAGE, HoidapError
from rag.types import Turn

__all__ = ["Passage", "QAItem", "QASet", "QASetError", "RowError", "load_qa_set"]


class QASetError(HoidapError, ValueError):
    """The test set cannot be read at all (missing file, unknown format, broken JSON)."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class QAItem:
    """One test question. ``gold_articles`` are article ids of the index (or passage ids)."""

    id: str
    question: str
    answers: tuple[str, ...] = ()
    gold_articles: tuple[str, ...] = ()
    answerable: bool = True
    history: tuple[Turn, ...] = ()
    line: int = 0  # where it was read (0 = no line, e.g. SQuAD JSON)


@dataclass(frozen=True)
class RowError:
    """A row that was skipped. ``line`` is 1-based; ``where`` names the file or position."""

    line: int | None
    message: str
    where: str = ""

    def describe(self) -> str:
        """'Dòng 5 (x.csv): ...' for people."""
        place = f"Dòng {self.line}" if self.line is not None else "Vị trí"
        suffix = f" ({self.where})" if self.where else ""
        return f"{place}{suffix}: {self.message}"


@dataclass(frozen=True)
class Passage:
    """A context of an imported set; it becomes the article ``id`` of the set's index."""

    id: str
    title: str
    text: str


@dataclass(frozen=True)
class QASet:
    name: str  # also the index name for sets with passages
    path: Path
    format: str  # "jsonl", "csv", "squad", "shared"
    items: tuple[QAItem, ...]
    errors: tuple[RowError, ...]
    passages: tuple[Passage, ...]
    fingerprint: str  # sha256 of the input file(s): a changed test set is a different run

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "format": self.format,
            "questions": len(self.items),
            "answerable": sum(i.answerable for i in self.items),
            "unanswerable": sum(not i.answerable for i in self.items),
            "passages": len(self.passages),
            "skipped_rows": [
                {"line": e.line, "where": e.where, "error": e.message} for e in self.errors
            ],
            "fingerprint": self.fingerprint,
        }


_TRUE = {"true", "1", "yes", "y", "có", "co", "đúng", "x"}
_FALSE = {"false", "0", "no", "n", "không", "khong", "sai"}


class _Rows:
    """Builds QAItems from records, checking types and ids; collects RowErrors."""

    def __init__(self, where: str = "") -> None:
        self.items: list[QAItem] = []
        self.errors: list[RowError] = []
        self.where = where
        self._ids: set[str] = set()

    def error(self, line: int | None, message: str, where: str | None = None) -> None:
        self.errors.append(RowError(line, message, self.where if where is None else where))

    def add(self, rec: Any, line: int | None, *, where: str | None = None) -> None:
        try:
            item = _item(rec, line or 0)
        except ValueError as exc:
            self.error(line, str(exc), where)
            return
        if item.id in self._ids:
            self.error(line, f"mã câu hỏi {item.id!r} bị trùng, bỏ qua dòng này", where)
            return
        self._ids.add(item.id)
        self.items.append(item)


def _strings(value: Any, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return tuple(str(v) for v in value if str(v).strip())
    raise ValueError(f'"{field}" phải là danh sách chuỗi')


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f'"{field}" phải là true hoặc false, không phải {value!r}')


def _history(value: Any) -> tuple[Turn, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError('"history" phải là danh sách {"question", "answer"}')
    turns = []
    for i, h in enumerate(value, 1):
        if not (
            isinstance(h, dict)
            and isinstance(h.get("question"), str)
            and isinstance(h.get("answer"), str)
        ):
            raise ValueError(f'"history" lượt {i}: cần {{"question": "...", "answer": "..."}}')
        turns.append(Turn(h["question"], h["answer"]))
    return tuple(turns)


def _item(rec: Any, line: int) -> QAItem:
    if not isinstance(rec, dict):
        raise ValueError("mỗi dòng phải là một đối tượng JSON {...}")
    q = rec.get("question")
    if not isinstance(q, str) or not q.strip():
        raise ValueError('thiếu "question" (chuỗi không rỗng)')
    raw_id = rec.get("id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        item_id = f"line-{line}"
    elif isinstance(raw_id, str | int) and not isinstance(raw_id, bool):
        item_id = str(raw_id).strip()
    else:
        raise ValueError('"id" phải là chuỗi hoặc số')
    gold = rec.get("gold_articles")
    if gold is None and rec.get("context_id") is not None:
        gold = [rec["context_id"]]
    answerable = rec.get("answerable")
    if answerable is None and rec.get("is_impossible") is not None:
        answerable = not _bool(rec["is_impossible"], "is_impossible")
    return QAItem(
        id=item_id,
        question=q,
        answers=_strings(rec.get("answers"), "answers"),
        gold_articles=_strings(gold, "gold_articles"),
        answerable=True if answerable is None else _bool(answerable, "answerable"),
        history=_history(rec.get("history")),
        line=line,
    )


def _jsonl_records(data: bytes) -> Iterator[tuple[int, Any | ValueError]]:
    """(line number, parsed object or the error) for every non-blank line."""
    for n, raw in enumerate(data.split(b"\n"), 1):
        raw = raw.rstrip(b"\r")
        if n == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        if not raw.strip():
            continue
        try:
            yield n, json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            yield n, ValueError("không phải UTF-8")
        except json.JSONDecodeError as exc:
            yield n, ValueError(f"JSON lỗi: {exc.msg} (cột {exc.colno})")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise QASetError(f"không đọc được {path}: {exc.strerror or exc}") from exc


def _index_name(stem: str) -> str:
    """A valid index name (see rag.settings) from a file name."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-._") or "eval"
    return name[:63]


def _load_jsonl(path: Path, data: bytes) -> _Rows:
    rows = _Rows(path.name)
    for line, rec in _jsonl_records(data):
        if isinstance(rec, ValueError):
            rows.error(line, str(rec))
        else:
            rows.add(rec, line)
    return rows


def _csv_list(cell: str) -> list[str] | Any:
    cell = cell.strip()
    if not cell:
        return None
    if cell.startswith("["):
        try:
            return json.loads(cell)
        except json.JSONDecodeError as exc:
            raise ValueError(f"ô danh sách không phải mảng JSON hợp lệ: {exc.msg}") from exc
    return [p.strip() for p in cell.split("|") if p.strip()]


def _load_csv(path: Path, data: bytes) -> _Rows:
    rows = _Rows(path.name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise QASetError(f"{path}: tệp CSV không phải UTF-8") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or "question" not in [f.strip() for f in reader.fieldnames]:
        raise QASetError(f'{path}: dòng tiêu đề phải có cột "question"')
    reader.fieldnames = [f.strip() for f in reader.fieldnames]
    line = 1
    for row in reader:
        start, line = line + 1, reader.line_num
        if None in row:
            rows.error(start, "dòng có nhiều ô hơn dòng tiêu đề")
            continue
        if not any((v or "").strip() for v in row.values()):
            continue
        try:
            rec: dict[str, Any] = {k: v for k, v in row.items() if v is not None and v.strip()}
            for key in ("answers", "gold_articles"):
                if key in rec:
                    rec[key] = _csv_list(rec[key])
            if "history" in rec:
                try:
                    rec["history"] = json.loads(rec["history"])
                except json.JSONDecodeError as exc:
                    raise ValueError(f'"history" không phải JSON hợp lệ: {exc.msg}') from exc
        except ValueError as exc:
            rows.error(start, str(exc))
            continue
        rows.add(rec, start)
    return rows


def _context_id(name: str, text: str) -> str:
    return f"{name}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}"


def _load_squad(path: Path, data: bytes, name: str) -> tuple[_Rows, list[Passage]]:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise QASetError(f"{path}: không đọc được JSON ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise QASetError(f'{path}: tệp kiểu SQuAD phải có "data": [...]')
    rows = _Rows(path.name)
    passages: dict[str, Passage] = {}
    for i, art in enumerate(doc["data"]):
        title = str(art.get("title") or "") if isinstance(art, dict) else ""
        paragraphs = art.get("paragraphs") if isinstance(art, dict) else None
        if not isinstance(paragraphs, list):
            rows.error(None, 'thiếu "paragraphs"', f"data[{i}]")
            continue
        for j, para in enumerate(paragraphs):
            where = f"data[{i}].paragraphs[{j}]"
            context = para.get("context") if isinstance(para, dict) else None
            if not isinstance(context, str) or not context.strip():
                rows.error(None, 'thiếu "context"', where)
                continue
            pid = _context_id(name, context)
            passages.setdefault(pid, Passage(pid, title, context))
            for k, qa in enumerate(para.get("qas") or []):
                if not isinstance(qa, dict):
                    rows.error(None, "câu hỏi phải là đối tượng JSON", f"{where}.qas[{k}]")
                    continue
                answers = qa.get("answers") or []
                texts = [a.get("text") if isinstance(a, dict) else a for a in answers]
                rec = {**qa, "answers": texts, "gold_articles": [pid]}
                rows.add(rec, None, where=f"{where}.qas[{k}]")
    return rows, list(passages.values())


def _load_shared(prefix: Path) -> tuple[_Rows, list[Passage], bytes]:
    qpath = prefix.with_name(prefix.name + ".jsonl")
    cpath = prefix.with_name(prefix.name + ".contexts.jsonl")
    cdata, qdata = _read(cpath), _read(qpath)
    rows = _Rows(qpath.name)
    passages: dict[str, Passage] = {}
    for line, rec in _jsonl_records(cdata):
        if isinstance(rec, ValueError):
            rows.error(line, str(rec), cpath.name)
            continue
        if not (
            isinstance(rec, dict)
            and isinstance(rec.get("context_id"), str)
            and isinstance(rec.get("text"), str)
            and rec["text"].strip()
        ):
            rows.error(line, 'cần {"context_id", "text"}', cpath.name)
            continue
        cid = rec["context_id"]
        passages.setdefault(cid, Passage(cid, str(rec.get("title") or ""), rec["text"]))
    for line, rec in _jsonl_records(qdata):
        if isinstance(rec, ValueError):
            rows.error(line, str(rec))
            continue
        if isinstance(rec, dict) and rec.get("context_id") not in passages:
            rows.error(line, f"context_id {rec.get('context_id')!r} không có trong {cpath.name}")
            continue
        rows.add(rec, line)
    return rows, list(passages.values()), qdata + b"\0" + cdata


def _shared_prefix(path: Path) -> Path | None:
    """The ``<name>`` prefix if ``path`` is one of the shared pair (or the prefix itself)."""
    name = path.name
    if name.endswith(".contexts.jsonl"):
        prefix = path.with_name(name[: -len(".contexts.jsonl")])
    elif name.endswith(".jsonl"):
        prefix = path.with_name(name[: -len(".jsonl")])
    elif not path.exists():
        prefix = path
    else:
        return None
    both = all(prefix.with_name(prefix.name + s).is_file() for s in (".jsonl", ".contexts.jsonl"))
    return prefix if both else None


def load_qa_set(path: str | Path) -> QASet:
    """Read a test set in any of the formats of the module docstring."""
    path = Path(path)
    prefix = _shared_prefix(path)
    passages: list[Passage] = []
    if prefix is not None:
        name, fmt = prefix.name, "shared"
        rows, passages, data = _load_shared(prefix)
        path = prefix
    else:
        if not path.is_file():
            raise QASetError(f"không tìm thấy tệp {path}")
        data = _read(path)
        suffix = path.suffix.lower()
        name = _index_name(path.stem)
        if suffix == ".jsonl":
            fmt, rows = "jsonl", _load_jsonl(path, data)
        elif suffix == ".csv":
            fmt, rows = "csv", _load_csv(path, data)
        elif suffix == ".json":
            fmt = "squad"
            rows, passages = _load_squad(path, data, name)
        else:
            raise QASetError(
                f"{path}: định dạng {suffix or '(không đuôi)'} không hỗ trợ; "
                "dùng .jsonl, .csv, .json (SQuAD) hoặc cặp <tên>.jsonl + <tên>.contexts.jsonl"
            )
    return QASet(
        name=_index_name(name),
        path=path,
        format=fmt,
        items=tuple(rows.items),
        errors=tuple(rows.errors),
        passages=tuple(passages),
        fingerprint=hashlib.sha256(data).hexdigest(),
    )


def passages_jsonl(passages: Iterable[Passage]) -> bytes:
    """The passages as a hoidap JSONL corpus (one article per passage)."""
    lines = [
        json.dumps({"id": p.id, "title": p.title, "text": p.text}, ensure_ascii=False)
        for p in passages
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def write_corpus(qa: QASet, folder: Path) -> Path:
    """``folder/<name>.jsonl`` holding the set's passages; rewritten only when its content
    would change, so ingesting it again finds every article unchanged."""
    data = passages_jsonl(qa.passages)
    out = folder / f"{qa.name}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.is_file() or out.read_bytes() != data:
        out.write_bytes(data)
    return out


def item_to_dict(item: QAItem) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.id,
        "question": item.question,
        "answers": list(item.answers),
        "gold_articles": list(item.gold_articles),
        "answerable": item.answerable,
    }
    if item.history:
        out["history"] = [{"question": t.question, "answer": t.answer} for t in item.history]
    return out
