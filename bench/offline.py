"""Imported first (for its effect) by the benchmarks that load the models in their own
process (``answers.py``, ``ingest.py``, ``retrieval.py``), before numpy, torch or Chroma
are imported: no Hugging Face downloads, one OpenBLAS thread, no Chroma telemetry.
Values already set in the environment are kept."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
