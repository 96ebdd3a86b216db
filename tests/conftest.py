from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # tests.seeds is imported in the fixtures, after the settings below
    from tests.seeds import SeedIndex

# No test may reach the network or a model hub, and none may touch the user's index.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


# -- homes indexed from the seed articles (tests/seeds.py) --------------------------------
# Each kind is built once per session. The session fixtures are shared by every test that
# uses them: open them read-only. A test that writes anything into the home (ingest, delete,
# uploads, eval runs, caches) takes the ``*_copy`` fixture, or a module-scoped fixture calls
# ``seed_index.copy_to(tmp_path_factory.mktemp(...) / "home")`` for a copy per module.


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> SeedIndex:
    """The seed articles indexed with the fake HashEmbedder (in process, ~1 s). Shared by
    the whole session: do not change it."""
    from tests.seeds import build_seed_index

    return build_seed_index(tmp_path_factory.mktemp("seed-index"))


@pytest.fixture
def seed_index_copy(seed_index: SeedIndex, tmp_path: Path) -> SeedIndex:
    """A private copy of ``seed_index`` for this test (home copied, fresh HashEmbedder)."""
    return seed_index.copy_to(tmp_path / "seed-home")


@pytest.fixture(scope="session")
def seed_index_e5(tmp_path_factory: pytest.TempPathFactory) -> SeedIndex:
    """The seed articles indexed by ``hoidap ingest`` with the real bundled e5 model (a
    separate process; for slow tests). Shared by the whole session: do not change it."""
    from tests.seeds import build_seed_index

    return build_seed_index(tmp_path_factory.mktemp("seed-index-e5"), e5=True)


@pytest.fixture
def seed_index_e5_copy(seed_index_e5: SeedIndex, tmp_path: Path) -> SeedIndex:
    """A private copy of ``seed_index_e5`` for this test."""
    return seed_index_e5.copy_to(tmp_path / "seed-home-e5")
