"""Fixtures for the demo service: an in-memory realm, its keytab, the app or a real server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The in-memory realm helpers live with the service_lib tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "service_lib"))

from realm_helpers import MiniRealm


@pytest.fixture(scope="module")
def demo_realm() -> MiniRealm:
    """SVC.TEST with HTTP/localhost, alice (admins) and bob."""
    realm = MiniRealm()
    realm.add_service()
    realm.add_user("alice", ("admins",))
    realm.add_user("bob")
    return realm
