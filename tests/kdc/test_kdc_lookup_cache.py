"""The KDC's principal lookups on SQLite are cached only while the database is unchanged:
whatever another process commits — a new principal, a deleted or disabled one, a new key —
is what the very next lookup returns. Both caches: one name at a time, and the whole table
(with ``hide_unknown_principals``). Through the exchange runner, a request asks the database
for changes once, however many principals it looks up, and the next request sees them."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from krb_wire_support import Recorder
from support import BIN, FAST_KDF, REALM, clean_env, open_store

from kdc.app import make_runner
from kdc.backends import make_backends
from kdc.exchanges import Arrival
from kdc.store import NewPrincipal, PrincipalChanges, Store
from orthrus import codec
from orthrus.as_exchange import ASOptions, make_as_req, read_as_rep
from orthrus.der import decode_as_rep
from orthrus.kerberos.client import as_request, read_kdc_rep, tgs_request
from orthrus.kerberos.kdc import answer
from orthrus.messages import ASRep
from orthrus.principal import Principal, krbtgt
from orthrus.realm import PrincipalEntry
from orthrus.tgs_exchange import make_tgs_req
from orthrus_io.errors import UNAVAILABLE

ALICE = Principal.parse(f"alice@{REALM}")
SVC = Principal.parse(f"HTTP/cache.example.test@{REALM}")
CAROL = Principal.parse(f"carol@{REALM}")
WEB = Principal.parse(f"HTTP/scope.example.test@{REALM}")
AES256 = 18  # aes256-cts-hmac-sha1-96


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


def _arrival(transport: str) -> Arrival:
    return Arrival(transport, "127.0.0.1", None, time.perf_counter(), time.time())  # type: ignore[arg-type]


class Counts:
    """The change checks (``version()`` of the lookups' change detector) and the lookups
    made since :meth:`take` was last called."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.checks = self.lookups = 0
        changes = store.lookups._changes
        assert changes is not None
        read_version, look_up = changes.version, store.lookups.lookup

        def version() -> int:
            self.checks += 1
            return read_version()

        def lookup(principal: Principal) -> PrincipalEntry | None:
            self.lookups += 1
            return look_up(principal)

        monkeypatch.setattr(changes, "version", version)
        # Before the runner is made: its context takes store.lookups.lookup then.
        monkeypatch.setattr(store.lookups, "lookup", lookup)

    def take(self) -> tuple[int, int]:
        counts = self.checks, self.lookups
        self.checks = self.lookups = 0
        return counts


def test_one_change_check_per_request_and_the_next_request_sees_a_change(
    realm_dir: Path, kdc_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_store(realm_dir) as other:
        other.add_principal(NewPrincipal(CAROL))
        other.add_principal(NewPrincipal(WEB))
        try:
            _one_check_per_request(kdc_store, other, monkeypatch)
        finally:
            other.delete_principal(CAROL)
            other.delete_principal(WEB)


def _one_check_per_request(kdc_store: Store, other: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    carol = kdc_store.lookup(CAROL)
    assert carol is not None
    aes = carol.kerberos_key(AES256)
    assert aes is not None
    counts = Counts(kdc_store, monkeypatch)
    events = Recorder()
    settings = kdc_store.settings
    runner = make_runner(settings, kdc_store, make_backends(settings), events, kerberos=answer)

    def json_tgs() -> int:
        request = make_tgs_req(tgt, WEB, time.time(), os.urandom).message
        return runner.run_json(
            runner.routes["/v1/tgs"], codec.encode(request), _arrival("http")
        ).status

    def der_tgs() -> bytes | None:
        request = tgs_request(der_tgt, WEB, time.time(), os.urandom).encode()
        return runner.run_kerberos(request, _arrival("udp"), 4096)

    # The JSON API: the AS looks up the client and krbtgt, the TGS three principals.
    as_req = make_as_req(CAROL, time.time(), os.urandom, ASOptions(), carol.current_key)
    reply = runner.run_json(runner.routes["/v1/as"], codec.encode(as_req), _arrival("http"))
    assert reply.status == 200, reply.body
    assert counts.take()[0] == 1
    tgt = read_as_rep(codec.decode(reply.body, ASRep), as_req, carol.current_key, time.time())
    assert json_tgs() == 200
    assert counts.take() == (1, 3)

    # Kerberos DER: the same.
    request = as_request(CAROL, krbtgt(REALM), (AES256,), time.time(), os.urandom, aes.key)
    der_reply = runner.run_kerberos(request.encode(), _arrival("udp"), 4096)
    assert der_reply is not None and der_reply[:1] == b"\x6b"  # [APPLICATION 11] AS-REP
    assert counts.take()[0] == 1
    der_tgt = read_kdc_rep(decode_as_rep(der_reply), request, aes.key)
    assert (der_tgs() or b"")[:1] == b"\x6d"  # [APPLICATION 13] TGS-REP
    assert counts.take() == (1, 3)

    # Outside a request (the admin CLI, tests), every lookup asks, as it always did.
    for _ in range(3):
        assert kdc_store.lookup(WEB) is not None
    assert counts.take() == (3, 3)

    # A change committed between two requests (by other connections) is seen by the next.
    other.modify(WEB, PrincipalChanges(allow_tickets=False))
    assert json_tgs() == 403
    assert counts.take()[0] == 1
    assert (der_tgs() or b"")[:1] == b"\x7e"  # [APPLICATION 30] KRB-ERROR
    assert counts.take()[0] == 1
    refused = [(e.exchange, e.server, e.error) for e in events.events[-2:]]
    assert refused == [("TGS", str(WEB), "KDC_ERR_POLICY")] * 2
    other.modify(WEB, PrincipalChanges(allow_tickets=True))
    assert json_tgs() == 200
    assert (der_tgs() or b"")[:1] == b"\x6d"
    assert counts.take()[0] == 2


def test_a_database_down_in_a_request_is_still_unavailable(
    kdc_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The change check of a request's scope fails where a lookup's did: inside the runner's
    handling of ``Unavailable`` (503, or no answer over Kerberos, and an event); a request
    that looks nothing up is answered as before."""
    changes = kdc_store.lookups._changes
    assert changes is not None

    def down() -> int:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(changes, "version", down)
    events = Recorder()
    settings = kdc_store.settings
    runner = make_runner(settings, kdc_store, make_backends(settings), events, kerberos=answer)
    as_req = make_as_req(CAROL, time.time(), os.urandom, ASOptions())
    reply = runner.run_json(runner.routes["/v1/as"], codec.encode(as_req), _arrival("http"))
    assert reply.status == 503 and UNAVAILABLE.encode() in reply.body
    request = as_request(CAROL, krbtgt(REALM), (AES256,), time.time(), os.urandom)
    assert runner.run_kerberos(request.encode(), _arrival("udp"), 4096) is None
    assert [(e.exchange, e.error) for e in events.events] == [("AS", UNAVAILABLE)] * 2
    assert runner.run_json(runner.routes["/v1/as"], b"not json", _arrival("http")).status == 400
