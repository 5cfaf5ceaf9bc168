"""A running service_demo (2 workers) behind the session realm's keytab, and logged-in users."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import REALM, User, clean_env, free_port, stop, wait_http


@pytest.fixture(scope="module")
def service_url(http_keytab: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    work = tmp_path_factory.mktemp("service")
    process = subprocess.Popen(
        [sys.executable, "-m", "service_demo", "--keytab", str(http_keytab), "--port", str(port),
         "--workers", "2", "--db", str(work / "notes.sqlite"),
         "--principal", f"HTTP/localhost@{REALM}"],
        stdout=open(work / "service.log", "wb"),  # noqa: SIM115 - closed with the process
        stderr=subprocess.STDOUT,
        env=clean_env(),
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/livez", process)
        yield f"http://localhost:{port}"
    finally:
        stop(process)


@pytest.fixture(scope="module")
def http_keytab(realm) -> Path:  # type: ignore[no-untyped-def]
    return Path(realm.directory.parent / "http.keytab")


@pytest.fixture
def alice(user: User) -> User:
    """Alice logged in (``orthrus kinit`` in-process: these tests are about what comes after)."""
    user.login(f"alice@{REALM}", "alice-pass")
    return user


@pytest.fixture
def bob(kdc_url: str, tmp_path: Path) -> User:
    bob = User(kdc_url, tmp_path / "bob.cc")
    bob.login(f"bob@{REALM}", "bob-pass")
    return bob
