"""Run an ingest in a child process so tests can kill it with SIGKILL at any moment.

usage: python -m tests.ingest_worker HOME CORPUS DELAY_S
The fake embedder sleeps DELAY_S per batch so that kills land mid-ingest.
"""

import sys
import time

from rag.index.ingest import ingest
from rag.settings import load_settings
from tests.fakes import HashEmbedder


class SlowHashEmbedder(HashEmbedder):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def embed_documents(self, texts):
        time.sleep(self.delay)
        return super().embed_documents(texts)


if __name__ == "__main__":
    home, corpus, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
    settings = load_settings(home, env={}, embed_batch_size=2)
    rep = ingest([corpus], settings, embedder=SlowHashEmbedder(delay))
    print("DONE", len(rep.added) + len(rep.updated), flush=True)
