"""A real PostgreSQL server on loopback for the tests (Debian's initdb and pg_ctl in a
temporary folder; as the ``postgres`` user when the tests run as root, which initdb
refuses). ``scripts/install_postgres.sh`` installs the package."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.test_chroma_server import free_port


def _bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )
    if found is None:
        raise RuntimeError(f"{name} not found: run scripts/install_postgres.sh")
    return found


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a fresh server; yields its URL (user ``hoidap``, database ``postgres``)."""
    folder = Path(tempfile.mkdtemp(prefix="hoidap-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    subprocess.run(
        [*run_as, _bin("initdb"), "-D", str(data), "-A", "trust", "-U", "hoidap", "-E", "UTF8",
         "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip
    ctl = [*run_as, _bin("pg_ctl"), "-D", str(data)]
    opts = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*ctl, "-o", opts, "-l", str(folder / "log"), "-w", "start"], check=True,
                   capture_output=True)  # fmt: skip
    try:
        yield f"postgresql://hoidap@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
