"""One settings object, read once: defaults < ``$HOIDAP_HOME/settings.toml`` < environment
< explicit overrides (CLI flags).

>>> s = load_settings(home="/tmp/hoidap-doc", env={})
>>> s.index, s.embedding_model
('default', 'e5-small')

The home folder holds everything hoidap writes: ``settings.toml`` (optional),
``indexes/<index>/<model>/`` (catalog, BM25, local Chroma) and ``cache/`` (embeddings).
Several homes can coexist (``--home`` / ``HOIDAP_HOME``); tests always use a temporary one.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from corpus.errors import EXIT_USAGE, HoidapError

DEFAULT_HOME = Path("~/.hoidap")


class SettingsError(HoidapError, ValueError):
    """A setting has an invalid value; the message names the setting and the source."""

    heading = "Lỗi cấu hình"
    exit_code = EXIT_USAGE


OFFLINE_ANSWERERS = ("reader", "extractive")
OLLAMA_BASE_URL = "http://127.0.0.1:11434"  # default llm_base_url when answerer = "ollama"


@dataclass(frozen=True)
class Settings:
    home: Path
    index: str = "default"
    # Embedder name for embeddings.registry.load_embedder: "e5-small" (bundled, offline),
    # "e5-small-c", "minilm-bundled", a sentence-transformers hub id or a local folder.
    embedding_model: str = "e5-small"
    embedding_threads: int = 0  # 0 = all cores
    embed_batch_size: int = 64
    # Chunking, in tokens (syllables, numbers and punctuation marks; see corpus.text.count_tokens).
    chunk_tokens: int = 160
    chunk_overlap: int = 32
    # Boilerplate: a line seen in at least this many documents of one source is dropped.
    repeat_min_docs: int = 3
    max_file_mb: int = 50
    # Ingest stops between batches when less than this would stay free on the index's disk.
    min_free_mb: int = 100
    # A second ingest/delete of the same index waits this long for the first, then gives up.
    ingest_wait_s: float = 600.0
    # BM25 segment merges larger than this many chunks run in a background thread after an
    # upload instead of inside it (rag.index.index.Index.merge_bm25).
    bm25_inline_merge_docs: int = 20000
    # Chroma server ("http://127.0.0.1:8000"); empty = local PersistentClient in the index folder.
    chroma_url: str = ""
    # PostgreSQL for the catalog ("postgresql://USER@HOST:5432/DB"; needs chroma_url): replicas
    # on several machines share one corpus (docs/DEPLOY.md). Empty = catalog.sqlite in the home.
    catalog_url: str = ""
    # Retrieval: passages given to the answerer; candidates per retriever before fusion.
    top_k: int = 5
    retrieval_candidates: int = 50
    fusion: str = "zscore"  # "zscore" (score fusion, default) or "rrf" (reciprocal rank)
    rrf_k: int = 60
    per_article: int = 2
    # Optional cross-encoder reranker: hub id or local folder (sentence-transformers CrossEncoder).
    reranker: str = ""
    # Answerer: "reader" (offline, the trained reader model; rule-based fallback),
    # "extractive" (offline, rule-based only) or "openai" / "ollama" (an LLM server, llm_*).
    answerer: str = "reader"
    # With answerer = "reader": also answer factoid questions with the reader (default: the
    # reader answers open questions; factoid ones keep the rule-based answer, which is
    # better on the seed set, docs/BENCHMARKS.md "Reader (issue #12)").
    reader_factoid: bool = False
    # The reader's arithmetic: "auto" (bf16 on CPUs with AVX512-BF16/AMX, else fp32),
    # "bf16", "int8" or "fp32" (rag/answer/reader/reader.py).
    reader_precision: str = "auto"
    llm_base_url: str = "http://127.0.0.1:8080/v1"  # answerer=ollama: OLLAMA_BASE_URL
    llm_model: str = ""
    llm_temperature: float = 0.1
    llm_timeout_s: float = 60.0
    llm_api_key: str = ""
    llm_max_tokens: int = 512
    llm_max_passages: int = 5  # x llm_max_passage_chars must fit the server's context (n_ctx)
    llm_max_passage_chars: int = 1500
    # The LLM is shown the passages in the reader's order (the windows an open question's
    # list reads; a factoid question's likeliest to answer first); false: retrieval order
    llm_reader_passages: bool = True
    max_question_chars: int = 2000
    # Web app (python app.py). Login is on when web_users is set: "name:hash" pairs separated
    # by commas or white space, hashes from `python app.py --hash-password`. A host other
    # than loopback without login also needs allow_public_without_login (it prints a warning).
    web_host: str = "127.0.0.1"
    web_port: int = 7860
    web_users: str = ""
    allow_public_without_login: bool = False
    max_upload_mb: int = 20
    web_concurrency: int = 4  # chat and briefing requests served at once (Gradio queue)
    upload_dir: str = ""  # where web uploads are saved; empty = <home>/corpus/<index>
    # Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For names
    # the real client: the login throttle and the audit log then see the user's address,
    # not the proxy's (docs/DEPLOY.md). Empty: the address is the one that connected.
    trusted_proxies: str = ""
    # Login limits (rag/web/limits.py): after login_free_failures wrong passwords for one
    # name (three times as many from one address) each try waits 2, 4, 8 ... 60 s; after
    # login_lockout_failures the name (address) is locked for login_lockout_s.
    login_free_failures: int = 3
    login_lockout_failures: int = 10
    login_lockout_s: float = 900.0
    # Sessions end after this long without a request, and this long after the login.
    session_idle_s: float = 1800.0
    session_max_s: float = 43200.0
    # Audit log ($HOIDAP_HOME/audit/audit.jsonl, rag/web/audit.py): question text only with
    # audit_questions; rotated at audit_max_mb, keeping audit_backups old files.
    audit_questions: bool = False
    audit_max_mb: float = 10.0
    audit_backups: int = 5

    @property
    def index_root(self) -> Path:
        return self.home / "indexes" / self.index

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["home"] = str(self.home)
        return d

    def validate(self) -> Settings:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", self.index):
            raise SettingsError(
                f"index name {self.index!r}: use 1-63 letters, digits, '_', '-', '.'"
            )
        if self.chunk_tokens < 16:
            raise SettingsError("chunk_tokens must be at least 16")
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise SettingsError("chunk_overlap must be >= 0 and less than half of chunk_tokens")
        if self.embed_batch_size < 1 or self.max_file_mb < 1 or self.repeat_min_docs < 2:
            raise SettingsError(
                "embed_batch_size and max_file_mb must be >= 1, repeat_min_docs >= 2"
            )
        if self.answerer not in (*OFFLINE_ANSWERERS, "openai", "ollama"):
            raise SettingsError(
                f"answerer {self.answerer!r}: use reader, extractive, openai or ollama"
            )
        if self.reader_precision not in ("auto", "bf16", "int8", "fp32"):
            raise SettingsError(
                f"reader_precision {self.reader_precision!r}: use auto, bf16, int8 or fp32"
            )
        if self.answerer not in OFFLINE_ANSWERERS and not self.llm_model:
            raise SettingsError(
                f"answerer {self.answerer!r} needs llm_model (the served model's name)"
            )
        if self.fusion not in ("zscore", "rrf"):
            raise SettingsError(f"fusion {self.fusion!r}: use zscore or rrf")
        if self.top_k < 1 or self.retrieval_candidates < self.top_k or self.per_article < 1:
            raise SettingsError("need top_k >= 1, retrieval_candidates >= top_k, per_article >= 1")
        if self.llm_max_tokens < 1 or self.llm_max_passages < 1 or self.llm_max_passage_chars < 100:
            raise SettingsError(
                "llm_max_tokens and llm_max_passages must be >= 1, llm_max_passage_chars >= 100"
            )
        if self.min_free_mb < 0 or self.ingest_wait_s < 0 or self.bm25_inline_merge_docs < 0:
            raise SettingsError(
                "min_free_mb, ingest_wait_s and bm25_inline_merge_docs must be >= 0"
            )
        if self.llm_timeout_s <= 0 or self.max_question_chars < 10:
            raise SettingsError("llm_timeout_s must be > 0 and max_question_chars >= 10")
        if not 0 < self.web_port < 65536 or self.max_upload_mb < 1 or self.web_concurrency < 1:
            raise SettingsError("web_port must be 1-65535, max_upload_mb and web_concurrency >= 1")
        if not 1 <= self.login_free_failures < self.login_lockout_failures:
            raise SettingsError("need 1 <= login_free_failures < login_lockout_failures")
        if self.login_lockout_s <= 0 or self.session_idle_s <= 0 or self.session_max_s <= 0:
            raise SettingsError("login_lockout_s, session_idle_s and session_max_s must be > 0")
        if self.audit_max_mb <= 0 or self.audit_backups < 0:
            raise SettingsError("audit_max_mb must be > 0 and audit_backups >= 0")
        try:
            proxy_networks(self.trusted_proxies)
        except ValueError as exc:
            raise SettingsError(f"trusted_proxies {self.trusted_proxies!r}: {exc}") from None
        if self.chroma_url and not re.fullmatch(r"https?://[^/\s:]+(:\d+)?/?", self.chroma_url):
            raise SettingsError(f"chroma_url {self.chroma_url!r}: expected http://HOST:PORT")
        if self.catalog_url and not re.match(r"postgres(ql)?://", self.catalog_url):
            raise SettingsError("catalog_url: expected postgresql://USER@HOST:PORT/DATABASE")
        if self.catalog_url and not self.chroma_url:
            raise SettingsError(
                "catalog_url needs chroma_url: a shared catalog with vectors in one replica's"
                " home would list chunks the other replicas cannot search"
            )
        return self


def proxy_networks(spec: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``"127.0.0.1, 10.0.0.0/8"`` -> networks (ValueError on a bad entry)."""
    return [ipaddress.ip_network(p, strict=False) for p in re.split(r"[,\s]+", spec) if p]


_FIELDS = {f.name: f for f in fields(Settings)}


def _coerce(name: str, value: Any, origin: str) -> Any:
    kind = _FIELDS[name].type
    try:
        if kind in ("bool", bool):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(text)
            return text in ("1", "true", "yes", "on")
        if kind in ("int", int):
            return int(value)
        if kind in ("float", float):
            return float(value)
        if kind in ("Path", Path):
            return Path(str(value)).expanduser()
        return str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{name} from {origin}: {value!r} is not a valid {kind}") from exc


def load_settings(
    home: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings; ``env`` defaults to ``os.environ``; None overrides are ignored."""
    env = os.environ if env is None else env
    home_path = Path(home or env.get("HOIDAP_HOME") or DEFAULT_HOME).expanduser().resolve()
    values: dict[str, Any] = {}
    file = home_path / "settings.toml"
    if file.is_file():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{file}: {exc}") from exc
        for key, value in data.items():
            if key not in _FIELDS or key == "home":
                raise SettingsError(f"{file}: unknown setting {key!r}")
            values[key] = _coerce(key, value, str(file))
    for name in _FIELDS:
        env_key = "HOIDAP_" + name.upper()
        if name != "home" and env_key in env:
            values[name] = _coerce(name, env[env_key], env_key)
    for name, value in overrides.items():
        if name not in _FIELDS:
            raise SettingsError(f"unknown setting {name!r}")
        if value is not None:
            values[name] = _coerce(name, value, "command line")
    if values.get("answerer") == "ollama" and "llm_base_url" not in values:
        values["llm_base_url"] = OLLAMA_BASE_URL  # the native API, not the OpenAI-style /v1
    return replace(Settings(home=home_path), **values).validate()
