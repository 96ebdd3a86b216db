"""Prompts as data: ``rag/answer/prompts/<name>.yaml`` with ``system``, ``user`` and ``inputs``.

Placeholders are ``{name}``; ``{{`` and ``}}`` are literal braces. Rendering is a single pass,
so a value that itself contains ``{question}`` (a passage, say) is never expanded again.

>>> p = load_prompt("condense_vi")
>>> sorted(p.inputs)
['history', 'question']
>>> p.render(history="Người dùng: A?", question="Còn B?").user.splitlines()[-2]
'Câu hỏi tiếp theo: Còn B?'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from corpus.errors import HoidapError

PROMPT_DIR = Path(__file__).resolve().parent
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


class PromptError(HoidapError, ValueError):
    """A prompt file is missing or malformed, or a render call lacks variables."""


def _placeholders(template: str) -> set[str]:
    return {m.group(1) for m in _PLACEHOLDER.finditer(template) if m.group(1)}


def _substitute(template: str, values: dict[str, str]) -> str:
    def repl(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return values[m.group(1)]

    return _PLACEHOLDER.sub(repl, template)


@dataclass(frozen=True)
class Prompt:
    """A system text and a user template; ``render`` fills both (single pass)."""

    system: str
    user: str
    name: str = ""
    inputs: tuple[str, ...] = ()

    def render(self, **variables: object) -> Prompt:
        """A copy with every ``{var}`` filled; a missing or unknown variable raises."""
        needed = _placeholders(self.system) | _placeholders(self.user)
        missing = sorted(needed - variables.keys())
        if missing:
            raise PromptError(
                f"prompt {self.name!r} needs variable(s) {', '.join(missing)} "
                f"(got: {', '.join(sorted(variables)) or 'none'})"
            )
        unknown = sorted(variables.keys() - needed)
        if unknown:
            raise PromptError(f"prompt {self.name!r} has no variable(s) {', '.join(unknown)}")
        values = {k: str(v) for k, v in variables.items()}
        return Prompt(
            _substitute(self.system, values), _substitute(self.user, values), self.name, ()
        )


@lru_cache(maxsize=32)
def load_prompt(name: str) -> Prompt:
    """Load ``rag/answer/prompts/<name>.yaml`` (cached)."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise PromptError(f"invalid prompt name {name!r}")
    path = PROMPT_DIR / f"{name}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PromptError(f"no prompt named {name!r} (looked for {path})") from exc
    except yaml.YAMLError as exc:
        raise PromptError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("user"), str):
        raise PromptError(f"{path}: expected a mapping with 'system' and 'user' strings")
    system = data.get("system") or ""
    if not isinstance(system, str):
        raise PromptError(f"{path}: 'system' must be a string")
    inputs = tuple(data.get("inputs") or ())
    used = _placeholders(system) | _placeholders(data["user"])
    if inputs and used != set(inputs):
        raise PromptError(
            f"{path}: declared inputs {sorted(inputs)} differ from the placeholders {sorted(used)}"
        )
    return Prompt(system=system, user=data["user"], name=name, inputs=inputs or tuple(sorted(used)))
