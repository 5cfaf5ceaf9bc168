"""Shared fixtures: a session-wide realm with a running KDC, and per-test users."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import REALM, Realm, User


@pytest.fixture(scope="session", autouse=True)
def state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Services keep their default state (the replay cache file) here, never in the home
    directory of whoever runs the tests; subprocesses inherit it."""
    directory = tmp_path_factory.mktemp("state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(directory))
        yield directory


@pytest.fixture(scope="session")
def realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Realm]:
    """EXAMPLE.TEST with alice (group admins), bob, and HTTP/localhost in a keytab."""
    directory = tmp_path_factory.mktemp("realm") / "kdc"
    realm = Realm.create(directory)
    realm.add_user(f"alice@{REALM}", "alice-pass", "--group", "admins")
    realm.add_user(f"bob@{REALM}", "bob-pass")
    realm.add_service(f"HTTP/localhost@{REALM}", directory.parent / "http.keytab")
    yield realm
    realm.stop_all()


@pytest.fixture(scope="session")
def kdc_url(realm: Realm) -> str:
    return realm.serve()


@pytest.fixture
def user(kdc_url: str, tmp_path: Path) -> User:
    """A user with an empty credential cache of its own."""
    return User(kdc_url, tmp_path / "ccache")


@pytest.fixture
def http_keytab(realm: Realm) -> Path:
    return realm.directory.parent / "http.keytab"
