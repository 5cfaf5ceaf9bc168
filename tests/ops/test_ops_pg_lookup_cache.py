"""The KDC's principal lookups on PostgreSQL are cached only while nothing changed: the
triggers of migrations 0004 and 0005 NOTIFY every change and the store LISTENs
(kdc/pg_changes.py). Whatever another process commits — a new principal, a deleted or
disabled one, a new key, a Kerberos key, a group — is what the very next lookup returns; a
lost listening connection or a schema without the triggers drops the cache rather than
serve a stale entry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from ops_support import admin, needs_pg, ok, pg_execute, pg_schema
from sqlalchemy import inspect
from support import REALM, Realm, open_store

import kdc
from kdc.pg_changes import PostgresChanges
from kdc.store import NewPrincipal, PrincipalChanges, Store, make_engine
from orthrus.enctypes import enctype
from orthrus.principal import Principal

pytestmark = needs_pg

ALICE = Principal.parse(f"alice@{REALM}")
SVC = Principal.parse(f"HTTP/pgcache.example.test@{REALM}")


@pytest.fixture(scope="module")
def pg_realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    with pg_schema("lookup") as db_url:
        directory = tmp_path_factory.mktemp("pg-lookup") / "kdc"
        Realm.create(directory, "--db-url", db_url)
        yield directory, db_url.rpartition("%3D")[2]


@pytest.fixture(params=[False, True], ids=["per-name", "whole-table"])
def kdc_store(pg_realm: tuple[Path, str], request: pytest.FixtureRequest) -> Iterator[Store]:
    with open_store(pg_realm[0], hide_unknown_principals=request.param) as store:
        yield store


def test_a_change_through_another_kdc_process_is_seen_by_the_next_lookup(
    pg_realm: tuple[Path, str], kdc_store: Store
) -> None:
    directory = pg_realm[0]
    assert kdc_store.lookup(SVC) is None
    ok(admin(directory, "addprinc", "--randkey", str(SVC)))
    entry = kdc_store.lookup(SVC)
    assert entry is not None and entry.kvno == 1 and entry.allow_tickets
    assert kdc_store.lookup(SVC) is entry  # nothing changed: served from the cache

    ok(admin(directory, "cpw", "--randkey", str(SVC)))
    rekeyed = kdc_store.lookup(SVC)
    assert rekeyed is not None and rekeyed.kvno == 2 and sorted(rekeyed.keys) == [1, 2]
    assert rekeyed.current_key != entry.current_key

    ok(admin(directory, "modprinc", "--disallow-tickets", str(SVC)))
    disabled = kdc_store.lookup(SVC)
    assert disabled is not None and not disabled.allow_tickets

    ok(admin(directory, "delprinc", "--force", str(SVC)))
    assert kdc_store.lookup(SVC) is None


def test_changes_through_another_store_are_seen(
    pg_realm: tuple[Path, str], kdc_store: Store
) -> None:
    """Two stores in one process are two sets of connections, as two KDC workers are."""
    with open_store(pg_realm[0]) as other:
        assert kdc_store.lookup(ALICE) is None
        other.add_principal(NewPrincipal(ALICE, groups=("staff",)))
        entry = kdc_store.lookup(ALICE)
        assert entry is not None and entry.groups == ("staff",)
        other.modify(ALICE, PrincipalChanges(add_groups=["admins"]))
        regrouped = kdc_store.lookup(ALICE)
        assert regrouped is not None and regrouped.groups == ("admins", "staff")
        other.delete_principal(ALICE)
        assert kdc_store.lookup(ALICE) is None


def test_kerberos_keys_changed_through_another_store_are_seen(
    pg_realm: tuple[Path, str], kdc_store: Store
) -> None:
    """A cpw gives new Kerberos keys; a change to the kerberos_keys table alone (0005's
    trigger) is seen too."""
    directory, schema = pg_realm
    with open_store(directory) as other:
        other.add_principal(NewPrincipal(ALICE, "alice-first-pass"))
        try:
            entry = kdc_store.lookup(ALICE)
            assert entry is not None and [k.kvno for k in entry.kerberos_keys] == [1, 1]
            assert kdc_store.lookup(ALICE) is entry
            other.change_key(ALICE, "alice-second-pass")
            rekeyed = kdc_store.lookup(ALICE)
            assert rekeyed is not None
            assert [(k.kvno, k.enctype) for k in rekeyed.kerberos_keys] == [
                (2, 20),
                (2, 18),
                (1, 20),
                (1, 18),
            ]
            new = rekeyed.kerberos_key(18)
            assert new is not None
            assert new.key == enctype(18).string_to_key(
                "alice-second-pass", b"EXAMPLE.TESTalice", (1000).to_bytes(4, "big")
            )
            pg_execute(f'DELETE FROM "{schema}".kerberos_keys WHERE kvno = 1')
            pruned = kdc_store.lookup(ALICE)
            assert pruned is not None and [k.kvno for k in pruned.kerberos_keys] == [2, 2]
        finally:
            other.delete_principal(ALICE)


def test_a_lost_listening_connection_drops_the_cache(
    pg_realm: tuple[Path, str], kdc_store: Store
) -> None:
    """Notifications sent while nobody listened are lost: the cache must not outlive them."""
    with open_store(pg_realm[0]) as other:
        other.add_principal(NewPrincipal(ALICE))
        try:
            assert kdc_store.lookup(ALICE) is kdc_store.lookup(ALICE)
            listener = kdc_store.lookups._changes._conn  # type: ignore[union-attr]
            pg_execute("SELECT pg_terminate_backend(%s)", listener.info.backend_pid)
            other.modify(ALICE, PrincipalChanges(allow_tickets=False))  # heard by nobody
            entry = kdc_store.lookup(ALICE)
            assert entry is not None and not entry.allow_tickets
        finally:
            other.delete_principal(ALICE)


def test_a_schema_without_the_triggers_is_never_cached(pg_realm: tuple[Path, str]) -> None:
    """A database not yet upgraded to 0004 sends no notification (nor one to 0005 for every
    table): no cache, nothing stale."""
    directory, schema = pg_realm
    triggers = ("principals", "keys", "groups", "kerberos_keys")
    for table in triggers:
        pg_execute(f'DROP TRIGGER orthrus_{table}_changed ON "{schema}"."{table}"')
    try:
        with open_store(directory) as store, open_store(directory) as other:
            other.add_principal(NewPrincipal(ALICE))
            first = store.lookup(ALICE)
            assert first is not None and store.lookup(ALICE) is not first  # read every time
            other.modify(ALICE, PrincipalChanges(allow_tickets=False))
            entry = store.lookup(ALICE)
            assert entry is not None and not entry.allow_tickets
            other.delete_principal(ALICE)
    finally:
        for table in triggers:
            pg_execute(
                f"CREATE TRIGGER orthrus_{table}_changed AFTER INSERT OR UPDATE OR DELETE "
                f'OR TRUNCATE ON "{schema}"."{table}" FOR EACH STATEMENT '
                f'EXECUTE FUNCTION "{schema}".orthrus_principals_changed()'
            )


def test_upgrade_from_0004_adds_the_kerberos_keys_table_and_its_trigger() -> None:
    """On PostgreSQL 0005 creates kerberos_keys with its NOTIFY trigger: before the upgrade
    the lookup cache is off (not every table notifies), after it on; 0005 can be undone."""
    with pg_schema("upgrade") as db_url:
        engine = make_engine(db_url)
        config = Config()
        config.set_main_option("script_location", str(Path(kdc.__file__).parent / "migrations"))
        try:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "0004")
            changes = PostgresChanges(engine)
            changes.version()
            assert not changes._notified
            changes.close()
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            changes = PostgresChanges(engine)
            changes.version()
            assert changes._notified
            changes.close()
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.downgrade(config, "0004")
                tables = set(inspect(connection).get_table_names())
            assert "kerberos_keys" not in tables and "keys" in tables
        finally:
            engine.dispose()
