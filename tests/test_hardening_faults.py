"""Faults (issue #6): a damaged BM25 file, a full disk during ingest.

kill -9 during ingest is in test_crash; the Chroma server going away and coming back in
test_chroma_server.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag.index.bm25 import BM25Index, file_sha256
from rag.index.index import PIPELINE_VERSION, Index
from rag.settings import load_settings
from tests.fakes import HashEmbedder
from tests.test_index import A1, A2, item

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ damaged BM25 file


def _damage_flip(folder: Path) -> None:
    npz = next(folder.glob("bm25-*.npz"))
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, in the middle of the arrays
    npz.write_bytes(bytes(data))


def _damage_truncate_manifest(folder: Path) -> None:
    current = folder / "CURRENT"
    current.write_bytes(current.read_bytes()[:10])


def _damage_delete_data(folder: Path) -> None:
    next(folder.glob("bm25-*.npz")).unlink()


def _damage_swap_ids(folder: Path) -> None:
    """A well-formed segment for other chunks, its checksum updated in the manifest: only
    the manifest's ids digest can tell."""
    current = json.loads((folder / "CURRENT").read_text(encoding="utf-8"))
    entry = current["segments"][0]
    other = BM25Index.build(["x#1", "y#1"], ["một", "hai"])
    other.save(folder / "tmp-other", current["generation"])
    foreign = next((folder / "tmp-other").glob("bm25-*.npz"))
    shutil.copy(foreign, folder / entry["file"])
    shutil.rmtree(folder / "tmp-other")
    entry["sha256"] = file_sha256(folder / entry["file"])
    entry["n_docs"] = 2
    (folder / "CURRENT").write_text(json.dumps(current), encoding="utf-8")


@pytest.mark.parametrize(
    "damage",
    [_damage_flip, _damage_truncate_manifest, _damage_delete_data, _damage_swap_ids],
    ids=["bit-flip", "truncated-manifest", "data-file-gone", "wrong-chunks"],
)
def test_a_damaged_bm25_file_is_detected_and_rebuilt_with_a_warning(tmp_path, caplog, damage):
    settings = load_settings(tmp_path / "home", env={})
    emb = HashEmbedder()
    idx = Index(settings, emb.model_id, emb.dim)
    idx.write([item(A1, emb), item(A2, emb)], PIPELINE_VERSION)
    idx.refresh_bm25()
    before = idx.bm25().search("cây ăn quả 151", 5)
    damage(idx.bm25_dir)
    fresh = Index(settings, emb.model_id, emb.dim)  # a new process would see the same
    with caplog.at_level(logging.WARNING, logger="hoidap.index"):
        assert fresh.bm25().search("cây ăn quả 151", 5) == before
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "rebuilding it from the catalog" in warnings[0].getMessage()
    loaded, gen, _ = BM25Index.load(idx.bm25_dir)  # the rebuilt file is sound again
    assert gen == idx.catalog.generation and loaded.ids == fresh.bm25().ids


def test_an_out_of_date_bm25_file_is_rebuilt_without_a_warning(tmp_path, caplog):
    settings = load_settings(tmp_path / "home", env={})
    emb = HashEmbedder()
    idx = Index(settings, emb.model_id, emb.dim)
    idx.write([item(A1, emb)], PIPELINE_VERSION)
    idx.refresh_bm25()
    idx.write([item(A2, emb)], PIPELINE_VERSION)  # the file is now one generation behind
    with caplog.at_level(logging.WARNING, logger="hoidap.index"):
        assert Index(settings, emb.model_id).bm25().search("cây ăn quả", 1)[0][0].startswith("a2")
    assert not caplog.records


# --------------------------------------------------------------------------- full disk


def _run_on_tmpfs(size: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Mount a tmpfs of ``size`` and run tests.disk_full_worker on it.

    As root: mount, run, unmount. Otherwise in a user+mount namespace (``unshare -rm``),
    where an unprivileged user may mount a tmpfs. Skips when neither is allowed.
    """
    mount = tmp_path / "disk"
    mount.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = [sys.executable, "-m", "tests.disk_full_worker", str(mount)]
    tmpfs = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)]
    if os.geteuid() == 0 and shutil.which("mount"):
        mounted = subprocess.run(tmpfs, capture_output=True, text=True)
        if mounted.returncode == 0:
            try:
                return subprocess.run(
                    worker, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
                )
            finally:
                subprocess.run(["umount", "-l", str(mount)], capture_output=True)
    if shutil.which("unshare"):
        script = " ".join(tmpfs) + " && exec " + " ".join(worker)
        probe = subprocess.run(
            ["unshare", "-rm", "sh", "-c", " ".join(tmpfs)], capture_output=True, text=True
        )
        if probe.returncode == 0:
            return subprocess.run(
                ["unshare", "-rm", "sh", "-c", script],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
    pytest.skip("cannot mount a small tmpfs here (not root, no user namespaces)")


@pytest.mark.slow
def test_a_full_disk_stops_ingest_cleanly_and_the_old_index_still_serves(tmp_path):
    """A real 40 MB tmpfs (mount, or unshare -rm when not root): see tests.disk_full_worker."""
    proc = _run_on_tmpfs("40m", tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(out, ensure_ascii=False, indent=1)[:4000])
    answer = out["answer_before"]
    assert out["seed_added"] == 5 and answer.startswith("151 cơ quan")

    # the guard stopped the run between batches, with one Vietnamese message
    assert out["guarded_error"].startswith("Không đủ chỗ trống trên đĩa")
    assert "chỉ mục hiện có vẫn dùng được" in out["guarded_error"]
    assert 5 < out["articles_after_guard"] < 305  # some batches made it, not all
    assert out["answer_guarded_same_process"] == answer
    assert out["answer_guarded_fresh_process"] == answer
    cli = out["cli_guarded"]
    assert cli["rc"] == 1 and "Traceback" not in cli["stderr"]
    assert cli["stderr"].startswith("Lỗi: Không đủ chỗ trống trên đĩa")
    assert cli["stderr"].count("\n") == 1  # one line

    # without the reserve the disk fills inside SQLite or Chroma: still one clear error
    assert out["unguarded_error"].startswith("Hết chỗ trống trên đĩa khi đang nạp")
    cli = out["cli_unguarded"]
    assert cli["rc"] == 1 and "Traceback" not in cli["stderr"]
    assert cli["stderr"].startswith("Lỗi: ") and cli["stderr"].count("\n") == 1
    assert "trên đĩa" in cli["stderr"]

    # space freed: the index answers and the next ingest completes
    assert out["answer_after_free_fresh_process"] == answer
    assert out["final_articles"] == 305
    assert out["final_store_matches_catalog"] is True
    assert out["answer_after_fresh_process"] == answer
    assert out["tmp_leftovers"] == []
