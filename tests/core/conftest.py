"""Fixtures for the protocol-core tests: an in-memory realm driven by a fake clock.

The builder lives in :mod:`core_realm` (a uniquely named module, so test files can import
its helpers); the fixtures here give each test a fresh realm, so tests may mutate it.
"""

from __future__ import annotations

import pytest
from core_realm import T0, CoreRealm

from orthrus.credentials import Credential
from orthrus.keys import Key
from orthrus.principal import Principal


@pytest.fixture
def core() -> CoreRealm:
    """EX.TEST with alice (password alice-pass, group admins), bob, and HTTP/web."""
    realm = CoreRealm()
    realm.add_user("alice", "alice-pass", groups=("admins",))
    realm.add_user("bob", "bob-pass")
    realm.add_service("HTTP/web")
    return realm


@pytest.fixture
def alice(core: CoreRealm) -> Principal:
    return core.principal("alice")


@pytest.fixture
def alice_key(core: CoreRealm, alice: Principal) -> Key:
    return core.user_key(alice, "alice-pass")


@pytest.fixture
def http(core: CoreRealm) -> Principal:
    return core.principal("HTTP/web")


@pytest.fixture
def tgt(core: CoreRealm, alice: Principal, alice_key: Key) -> Credential:
    """Alice's TGT issued at T0: 10 h life, renewable for 7 days."""
    return core.login(alice, alice_key, T0, renewable_life=7 * 86400)
