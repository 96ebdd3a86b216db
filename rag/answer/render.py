"""Answers as plain text (terminal) and as JSON-ready dicts (``--json``, ``batch``)."""

from __future__ import annotations

from typing import Any

from rag.types import Answer


def answer_to_dict(answer: Answer, *, item_id: str | None = None) -> dict[str, Any]:
    """The batch output schema (plus a few extra fields for people reading it)."""
    out: dict[str, Any] = {}
    if item_id is not None:
        out["id"] = item_id
    out.update(
        {
            "question": answer.question,
            "standalone_query": answer.standalone_query,
            "answer": answer.text,
            "refused": answer.refused,
            "answerer": answer.answerer,
            "notice": answer.notice,
            "citations": [
                {
                    "n": c.n,
                    "article_id": c.article_id,
                    "chunk_id": c.chunk_id,
                    "quote": c.quote,
                    "start": c.start,
                    "end": c.end,
                    "title": c.title,
                    "date": c.date,
                    "source": c.source,
                    "url": c.url,
                }
                for c in answer.citations
            ],
            "retrieved": [
                {
                    "article_id": h.chunk.article_id,
                    "chunk_id": h.chunk.id,
                    "score": round(h.score, 6),
                    "bm25_rank": h.bm25_rank,
                    "dense_rank": h.dense_rank,
                }
                for h in answer.retrieved
            ],
            "timings_ms": {k: round(v, 2) for k, v in answer.timings_ms.items()},
        }
    )
    return out


def _date(d: str | None) -> str | None:
    if not d:
        return None
    if d.startswith("--"):
        mm, dd = d[2:].split("-")
        return f"{int(dd)}/{int(mm)} (không rõ năm)"
    parts = d.split("-")
    return "/".join(reversed(parts))


def format_sources(answer: Answer) -> str:
    lines = []
    for c in answer.citations:
        meta = ", ".join(x for x in (_date(c.date), c.source) if x)
        lines.append(f"[{c.n}] {c.title}" + (f" ({meta})" if meta else ""))
        lines.append(f"    «{c.quote}»")
        if c.url:
            lines.append(f"    {c.url}")
    return "\n".join(lines)


def format_answer(answer: Answer, *, with_text: bool = True) -> str:
    parts = [answer.text] if with_text else []
    if answer.notice:
        parts.append(f"(Lưu ý: {answer.notice})")
    if answer.citations:
        parts.append("Nguồn:\n" + format_sources(answer))
    names = {"extractive": "trích xuất ngoại tuyến", "reader": "mô hình đọc hiểu ngoại tuyến"}
    who = names.get(answer.answerer, answer.answerer)
    parts.append(f"[Trả lời bởi: {who}{' — từ chối vì không đủ căn cứ' if answer.refused else ''}]")
    return "\n\n".join(parts)
