"""Fixtures for the service-side tests: an in-memory realm and verifiers over its keytab."""

from __future__ import annotations

from pathlib import Path

import pytest
from realm_helpers import Clock, MakeVerifier, MiniRealm

from orthrus.replay import MemoryReplayCache
from service_lib import KeytabSource, Verifier, VerifierSettings


@pytest.fixture
def realm() -> MiniRealm:
    """SVC.TEST with HTTP/localhost, HTTP/other, alice (admins) and bob."""
    realm = MiniRealm()
    realm.add_service()
    realm.add_service("HTTP/other@SVC.TEST")
    realm.add_user("alice", ("admins", "staff"))
    realm.add_user("bob")
    return realm


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keytab_file(realm: MiniRealm, tmp_path: Path) -> Path:
    return realm.write_keytab(tmp_path / "http.keytab")


@pytest.fixture
def make_verifier(realm: MiniRealm, clock: Clock) -> MakeVerifier:
    """A verifier of HTTP/localhost's keytab (in memory), with the test clock."""

    def make(**options: object) -> Verifier:
        jwks = bool(options.pop("jwks", True))
        source = KeytabSource.from_keytab(realm.keytab(jwks=jwks))
        return Verifier(
            source,
            MemoryReplayCache(),
            VerifierSettings(**options),
            clock=clock,  # type: ignore[arg-type]
        )

    return make


@pytest.fixture
def verifier(make_verifier: MakeVerifier) -> Verifier:
    return make_verifier()
