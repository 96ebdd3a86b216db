"""rag.web.auth: hashed passwords, the users setting, and the rule for public addresses."""

import asyncio
import doctest
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import rag.web.auth as auth
from rag.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_doctests():
    assert doctest.testmod(auth).failed == 0


def test_hashes_are_salted_and_verify_only_the_right_password():
    a, b = auth.hash_password("bí mật 123", n=2**10), auth.hash_password("bí mật 123", n=2**10)
    assert a != b and a.startswith("scrypt$1024$8$1$")
    assert auth.verify_password("bí mật 123", a) and auth.verify_password("bí mật 123", b)
    assert not auth.verify_password("bí mật 124", a)
    assert not auth.verify_password("bí mật 123", "plain-text-password")


def test_users_setting_parses_and_rejects_plain_passwords():
    h = auth.hash_password("x" * 8, n=2**10)
    assert auth.parse_users(f" an:{h},\n binh:{h} ") == {"an": h, "binh": h}
    assert auth.parse_users("") == {} and auth.make_auth("") is None
    with pytest.raises(SettingsError, match="hash-password"):
        auth.parse_users("an:matkhau")
    check = auth.make_auth(f"an:{h}")
    assert check is not None and inspect.iscoroutinefunction(check)  # off the event loop

    def login(name: str, password: str) -> bool:
        return asyncio.run(check(name, password))

    assert login("an", "x" * 8) and not login("an", "y" * 8) and not login("", "")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("192.168.1.10", False),
        ("::", False),
    ],
)
def test_loopback_detection(host, loopback):
    assert auth.is_loopback(host) is loopback


def test_public_bind_needs_login_or_an_explicit_setting(tmp_path):
    s = load_settings(tmp_path, env={})
    assert auth.bind_warning(s, "127.0.0.1") is None
    with pytest.raises(auth.UnsafeBind, match="allow_public_without_login"):
        auth.bind_warning(s, "0.0.0.0")
    s = load_settings(tmp_path, env={"HOIDAP_ALLOW_PUBLIC_WITHOUT_LOGIN": "true"})
    assert "CẢNH BÁO" in auth.bind_warning(s, "0.0.0.0")
    h = auth.hash_password("x" * 8, n=2**10)
    s = load_settings(tmp_path, env={"HOIDAP_WEB_USERS": f"an:{h}"})
    assert auth.bind_warning(s, "0.0.0.0") is None


def _app(*args, home, env=None):
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"HOIDAP_HOME": str(home), "PATH": "/usr/bin:/bin", **(env or {})},
        input="mật khẩu dài\n",
        cwd=ROOT,
    )


def test_app_refuses_a_public_address_without_login(tmp_path):
    proc = _app("--host", "0.0.0.0", "--port", "7999", home=tmp_path)
    assert proc.returncode == 2 and "allow_public_without_login" in proc.stderr


def test_app_rejects_bad_users_and_prints_a_hash_for_the_setting(tmp_path):
    proc = _app(home=tmp_path, env={"HOIDAP_WEB_USERS": "an:plain"})
    assert proc.returncode == 2 and "web_users" in proc.stderr
    proc = _app("--hash-password", home=tmp_path)
    assert proc.returncode == 0
    assert auth.verify_password("mật khẩu dài", proc.stdout.strip())
