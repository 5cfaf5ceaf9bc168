"""Shared fixtures: a session-wide realm with a running KDC, and per-test users."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import REALM, Realm, User

#: The suite's long modules first, in this order: end-to-end suites that start realms, KDCs,
#: services and MIT's programs (docs/performance.md, "`make test` time"). `make test` runs
#: ``--dist loadscope --no-loadscope-reorder``: each worker takes the next module in this
#: order when it runs low, so the short in-process modules come last and fill the gaps,
#: rather than one worker starting a minutes-long module while the other has nothing left.
#: (xdist's own reorder sorts by number of tests, which puts the long modules, with few
#: tests, last.) A module missing here only runs later; the order is no test's premise.
LONG_FIRST = (
    "tests/test_attacks.py",
    "tests/httpclient/test_docs_examples.py",
    "tests/httpclient/test_demo_story.py",
    "tests/labs/",
    "tests/peers/",
    "tests/ops/",
    "tests/crossrealm/",
    "tests/kdc/test_kdc_remote_admin.py",
    "tests/service_demo/",
    "tests/client/",
    "tests/kdc/",
    "tests/httpclient/",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long modules first (:data:`LONG_FIRST`); the sort is stable, so each module's tests
    keep their order."""

    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, prefix in enumerate(LONG_FIRST) if item.nodeid.startswith(prefix)),
            len(LONG_FIRST),
        )

    items.sort(key=rank)


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
