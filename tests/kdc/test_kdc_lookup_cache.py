"""The KDC's principal lookups on SQLite are cached only while the database is unchanged:
whatever another process commits — a new principal, a deleted or disabled one, a new key —
is what the very next lookup returns. Both caches: one name at a time, and the whole table
(with ``hide_unknown_principals``)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import BIN, FAST_KDF, REALM, clean_env, open_store

from kdc.store import NewPrincipal, PrincipalChanges, Store
from orthrus.principal import Principal

ALICE = Principal.parse(f"alice@{REALM}")
SVC = Principal.parse(f"HTTP/cache.example.test@{REALM}")


def admin(directory: Path, *args: str, stdin: str = "") -> None:
    """``orthrus-kdc`` in another process: its commits come from another connection."""
    result = subprocess.run(
        [str(BIN / "orthrus-kdc"), "--dir", str(directory), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def realm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("lookup-cache") / "kdc"
    admin(directory, "init", "--realm", REALM, *FAST_KDF)
    return directory


@pytest.fixture(params=[False, True], ids=["per-name", "whole-table"])
def kdc_store(realm_dir: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    with open_store(realm_dir, hide_unknown_principals=request.param) as store:
        yield store


def test_another_process_sees_every_change_at_once(realm_dir: Path, kdc_store: Store) -> None:
    assert kdc_store.lookup(SVC) is None
    admin(realm_dir, "addprinc", "--randkey", str(SVC))
    entry = kdc_store.lookup(SVC)
    assert entry is not None and entry.kvno == 1 and entry.allow_tickets
    assert kdc_store.lookup(SVC) is entry  # unchanged database: served from the cache

    admin(realm_dir, "cpw", "--randkey", str(SVC))
    rekeyed = kdc_store.lookup(SVC)
    assert rekeyed is not None and rekeyed.kvno == 2 and sorted(rekeyed.keys) == [1, 2]
    assert rekeyed.current_key != entry.current_key

    admin(realm_dir, "modprinc", "--disallow-tickets", str(SVC))
    disabled = kdc_store.lookup(SVC)
    assert disabled is not None and not disabled.allow_tickets

    admin(realm_dir, "delprinc", "--force", str(SVC))
    assert kdc_store.lookup(SVC) is None


def test_changes_through_another_store_are_seen(realm_dir: Path, kdc_store: Store) -> None:
    """Two stores in one process are two sets of connections, as two KDC workers are."""
    with open_store(realm_dir) as other:
        assert kdc_store.lookup(ALICE) is None
        other.add_principal(NewPrincipal(ALICE, groups=("staff",)))
        entry = kdc_store.lookup(ALICE)
        assert entry is not None and entry.groups == ("staff",)
        other.modify(ALICE, PrincipalChanges(add_groups=["admins"]))
        regrouped = kdc_store.lookup(ALICE)
        assert regrouped is not None and regrouped.groups == ("admins", "staff")
        other.delete_principal(ALICE)
        assert kdc_store.lookup(ALICE) is None


def test_disposing_of_the_engine_closes_the_change_detector(realm_dir: Path) -> None:
    with open_store(realm_dir) as store:
        store.lookup(ALICE)
        changes = store.lookups._changes
        assert changes is not None and changes._conn is not None
    assert changes._conn is None
