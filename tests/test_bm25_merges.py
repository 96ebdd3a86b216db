"""BM25 merges outside the upload: a cap on what an upload merges inline, and merges made
in the background and then put into whatever uploads and deletes did meanwhile."""

from __future__ import annotations

import json
import random

import pytest

from rag.index.bm25 import BM25Index, Segment
from rag.index.index import PIPELINE_VERSION, Index
from rag.settings import SettingsError, load_settings
from tests.fakes import HashEmbedder
from tests.test_lexical import (
    SENTENCES,
    _article,
    _assert_same_scores,
    _fresh,
    _item,
    _twenty_of_forty,
)


def _segment(prefix: str, n: int, rng: random.Random, name: str) -> Segment:
    ids = [f"{prefix}{i // 3}#{i}" for i in range(n)]  # three chunks per article
    seg = Segment.build(ids, [" ".join(rng.sample(SENTENCES, 2)) for _ in ids], "vi")
    seg.name = name
    return seg


def _index(sizes: list[int], seed: int = 0) -> BM25Index:
    rng = random.Random(seed)
    return BM25Index([_segment(f"s{k}a", n, rng, f"seg{k}") for k, n in enumerate(sizes)])


def _fresh_of(idx: BM25Index) -> BM25Index:
    """The live documents of ``idx`` in one segment (what a rebuild would hold)."""
    return BM25Index([Segment.merge(list(zip(idx.segments, idx.live, strict=True)))])


def test_a_cap_defers_the_large_merges_and_the_scores_stay_the_same():
    idx = _index([40, 30, 20, 12, 6])
    _groups, deferred = idx.merge_plan(max_docs=25)
    assert deferred
    capped = idx.compacted(max_docs=25)
    made = [s for s in capped.segments if s not in idx.segments]
    assert made and all(len(s) <= 25 for s in made)  # 12 + 6 merged, 40 + 30 + 20 not
    full = idx.compacted()
    assert len(full.segments) < len(capped.segments)
    assert idx.merge_plan() == (idx.merge_plan(None)[0], False)
    for got in (capped, full):
        _assert_same_scores(got, idx)


def test_a_merge_made_meanwhile_keeps_later_deletes_and_uploads():
    rng = random.Random(5)
    base = _index([40, 30, 20])
    done = base.merge_groups(base.merge_plan()[0])
    assert done
    # while the merge ran: one article deleted from a merged segment, one uploaded
    new = _segment("new", 6, rng, "seg-new")
    current = base.updated({"s0a2", "s2a1"}, new)
    put = base.merge_onto(done, current)
    assert put is not None
    assert not any(i.startswith(("s0a2#", "s2a1#")) for i in put.live_ids())
    assert new in put.segments
    _assert_same_scores(put, current)
    _assert_same_scores(put, _fresh_of(current))
    # another writer merged the same segments first: the merge is not put in
    assert base.merge_onto(done, current.compacted()) is None


def test_uploads_defer_large_merges_to_a_background_thread_that_keeps_every_change(tmp_path):
    settings = load_settings(tmp_path / "home", env={}, bm25_inline_merge_docs=8)
    rng = random.Random(11)
    idx, emb, ids = _twenty_of_forty(settings, rng)
    for step in range(40):  # uploads, replacements and deletes while merges run
        if step % 5 == 4:
            idx.delete([rng.choice(ids)])
        else:
            idx.write([_item(_article(rng.choice(ids), rng), emb)], PIPELINE_VERSION)
        idx.refresh_bm25()
    idx.close()  # waits for the background merges
    assert idx._merging, "no merge was deferred to the background"
    for analyzer in ("vi", "ascii"):
        got = idx.bm25(analyzer)
        _assert_same_scores(got, _fresh(idx, analyzer))
        assert not any(g.merges for g in got.merge_plan()[0])  # nothing left to merge
        again = Index(settings, emb.model_id, emb.dim).bm25(analyzer)  # as on disk
        _assert_same_scores(again, _fresh(idx, analyzer))
        folder = idx._bm25_folder(analyzer)
        manifest = json.loads((folder / "CURRENT").read_text(encoding="utf-8"))
        on_disk = {p.name for p in folder.glob("bm25-*.npz")}
        assert on_disk == {e["file"] for e in manifest["segments"]}  # no orphans


def test_an_upload_merges_only_up_to_the_cap_and_merge_bm25_does_the_rest(tmp_path, monkeypatch):
    settings = load_settings(tmp_path / "home", env={}, bm25_inline_merge_docs=8)
    scheduled: list[str] = []
    monkeypatch.setattr(Index, "_merge_in_background", lambda self, a: scheduled.append(a))
    rng = random.Random(2)
    emb = HashEmbedder()
    idx = Index(settings, emb.model_id, emb.dim)
    for i in range(30):
        idx.write([_item(_article(f"a{i}", rng), emb)], PIPELINE_VERSION)
        idx.refresh_bm25()
    bm = idx.bm25()
    assert "vi" in scheduled and "ascii" in scheduled
    # a segment over the cap is one upload's article, never a merge made inline
    assert all(len(s) <= 8 or len(s.articles) == 1 for s in bm.segments)
    assert any(g.merges for g in bm.merge_plan()[0])
    assert idx.merge_bm25("vi") is True
    merged = idx.bm25("vi")
    assert len(merged.segments) < len(bm.segments)
    _assert_same_scores(merged, _fresh(idx, "vi"))
    assert idx.merge_bm25("vi") is False  # nothing left
    idx.close()


def test_the_inline_merge_cap_must_not_be_negative(tmp_path):
    with pytest.raises(SettingsError, match="bm25_inline_merge_docs"):
        load_settings(tmp_path, env={}, bm25_inline_merge_docs=-1)
    assert load_settings(tmp_path, env={}).bm25_inline_merge_docs == 20000
