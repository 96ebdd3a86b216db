"""Sentences every answerer says the same way (Vietnamese, shown to the user), written once.

``REFUSAL``: what hoidap answers when the loaded documents do not hold the answer. The
extractive answerer (``rag.answer.extractive.REFUSAL``) and the LLM answerer
(``rag.answer.llm.REFUSAL_TEXT``, which also recognises it in a model's reply) import it;
the LLM prompt (``prompts/answer_vi.yaml``) quotes it, and ``tests/test_llm.py`` checks
that the prompt still does.
"""

from __future__ import annotations

__all__ = ["REFUSAL"]

REFUSAL = "Không tìm thấy thông tin này trong các tài liệu đã nạp."
