"""Two ``python app.py`` replicas, each with its own home, on one Chroma server and one
PostgreSQL catalog (real servers on loopback, the real bundled embedder): an upload on one
is answered by the other, a delete disappears from both, a restarted replica catches up.
"""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.pg import postgres_server
from tests.test_chroma_server import free_port, start_server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TEXT = (
    "Xã Hòa Bình tổ chức hội nghị đối thoại với nhân dân\n\n"
    "Ngày 5/11/2026, Ủy ban nhân dân xã Hòa Bình tổ chức hội nghị đối thoại với 212 hộ dân "
    "về dự án đường liên thôn. Chủ tịch UBND xã Hòa Bình là ông Lê Văn Khải.\n"
)
QUESTION = "Xã Hòa Bình đối thoại với bao nhiêu hộ dân?"
TEXT2 = (
    "Phường An Lạc lấy ý kiến nhân dân về quy chế dân chủ\n\n"
    "Tháng 10/2026, phường An Lạc lấy ý kiến của 1.480 cử tri về dự thảo quy chế dân chủ ở "
    "cơ sở, tổ chức 14 hội nghị ở các khu phố.\n"
)
QUESTION2 = "Phường An Lạc lấy ý kiến của bao nhiêu cử tri?"


class Replica:
    def __init__(self, home: Path, chroma_url: str, catalog_url: str) -> None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "settings.toml").write_text(
            f'chroma_url = "{chroma_url}"\ncatalog_url = "{catalog_url}"\n', encoding="utf-8"
        )
        self.home, self.port = home, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        self.log = open(self.home / "app.log", "ab")  # noqa: SIM115 - closed in stop()
        cmd = [sys.executable, "app.py", "--home", str(self.home), "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/", timeout=5):
                    break
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError((self.home / "app.log").read_text()[-2000:]) from None
                time.sleep(1)
        else:
            raise RuntimeError(f"app on {self.port} did not start")
        from gradio_client import Client

        self.client = Client(self.url, verbose=False, analytics_enabled=False)

    def ask(self, question: str) -> str:
        out = self.client.predict(question, [], "", "", api_name="/chat")
        return str(out[0][-1]["content"])

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(30)
            self.log.close()


def answered_within(replica: Replica, question: str, needle: str, seconds: float) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if needle in replica.ask(question):
            return time.monotonic() - t0
        time.sleep(0.5)
    return None


def test_two_app_processes_share_one_corpus(tmp_path):
    from gradio_client import handle_file

    port = free_port()
    chroma = start_server(tmp_path / "chroma-server", port)
    replicas: list[Replica] = []
    with postgres_server() as pg:
        try:
            a, b = (Replica(tmp_path / n, f"http://127.0.0.1:{port}", pg) for n in ("a", "b"))
            replicas += [a, b]
            a.start()
            b.start()
            doc = tmp_path / "hoa-binh.txt"
            doc.write_text(TEXT, encoding="utf-8")
            t0 = time.monotonic()
            a.client.predict([handle_file(str(doc))], api_name="/upload")
            uploaded = time.monotonic() - t0
            seen = answered_within(b, QUESTION, "212", 10)
            assert seen is not None
            print(f"upload on A {uploaded:.1f} s; answered on B {seen:.1f} s after it returned")

            from rag.index.catalog import Catalog
            from rag.index.pg import schema_name

            ids = []
            for folder in (b.home / "indexes" / "default").iterdir():
                cat = Catalog(folder / "x", url=pg, schema=schema_name("default", folder.name))
                ids += cat.article_ids()
                cat.close()
            assert len(ids) == 1
            b.client.predict(ids[0], api_name="/delete")
            assert "212" not in a.ask(QUESTION)

            b.stop()  # b is down while a takes another article; restarted, it catches up
            doc2 = tmp_path / "an-lac.txt"
            doc2.write_text(TEXT2, encoding="utf-8")
            a.client.predict([handle_file(str(doc2))], api_name="/upload")
            b.start()
            assert "1.480" in b.ask(QUESTION2)
            assert "212" not in b.ask(QUESTION)
        finally:
            for r in replicas:
                r.stop()
            chroma.terminate()
            chroma.wait(20)
