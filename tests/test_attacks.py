"""One named test per published attack on Kerberos-like systems (GitHub issue 8).

Each test mounts one attack, asserts the specific Kerberos error (RFC 4120 §7.5.9) it gets,
and asserts that nothing changed: replay caches, the principal database, lockout counters,
credential caches. Each was checked to fail with its defence switched off
(``scripts/attack_mutations.py`` repeats that check in a scratch copy of the tree).
docs/security.md lists every attack with its defence and the name of its test.

Most attacks run against the protocol core with a fake clock (``tests/core/core_realm.py``)
or against the KDC and service apps in-process; those that need a real server (slow bodies,
huge headers, several processes) run ``orthrus-kdc serve`` under gunicorn on 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from flask import Flask
from flask.testing import FlaskClient
from support import FAST_KDF, REALM, Realm

sys.path.insert(0, str(Path(__file__).with_name("core")))
from core_realm import T0, CoreRealm  # noqa: E402

from kdc.app import create_app  # noqa: E402
from kdc.backends import Backends, make_backends  # noqa: E402
from kdc.config import KDCSettings, load_settings  # noqa: E402
from kdc.store import Store  # noqa: E402
from orthrus import codec  # noqa: E402
from orthrus.as_exchange import read_as_rep  # noqa: E402
from orthrus.credentials import Credential  # noqa: E402
from orthrus.errors import ProtocolError  # noqa: E402
from orthrus.keys import Key  # noqa: E402
from orthrus.messages import ASRep, ASReq, TGSRep  # noqa: E402
from orthrus.principal import Principal  # noqa: E402
from orthrus.tgs_exchange import make_tgs_req, read_tgs_rep  # noqa: E402

ALICE_PASS = "alice-attack-pass"
BOB_PASS = "bob-attack-pass"
HTTP_NAME = f"HTTP/localhost@{REALM}"


# -- helpers ---------------------------------------------------------------------------------


def refused(call: Callable[..., Any], *args: Any, **kwargs: Any) -> ProtocolError:
    """The :class:`ProtocolError` ``call`` raises (the test fails if it raises none)."""
    with pytest.raises(ProtocolError) as caught:
        call(*args, **kwargs)
    return caught.value


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The JSON error of a refused HTTP answer, checked for its status and shape."""
    assert response.status_code == status, (response.status_code, response.get_data())
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert "Traceback" not in response.get_data(as_text=True)
    error: dict[str, Any] = body["error"]
    return error


def db_snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a SQLite database, read-only (for before/after checks)."""
    import sqlite3

    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {
            table: sorted(connection.execute(f'SELECT * FROM "{table}"'), key=repr)
            for table in tables
        }
    finally:
        connection.close()


# -- the in-memory realm of the core (fake clock) --------------------------------------------


@pytest.fixture
def core() -> CoreRealm:
    """EX.TEST: alice (admins), bob, carol (no pre-authentication), HTTP/web, HTTP/other."""
    realm = CoreRealm()
    realm.add_user("alice", "alice-pass", groups=("admins",))
    realm.add_user("bob", "bob-pass")
    realm.add_user("carol", "carol-pass", requires_preauth=False)
    realm.add_service("HTTP/web")
    realm.add_service("HTTP/other")
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
    """Alice's TGT at T0: 10 h, renewable for a day."""
    return core.login(alice, alice_key, T0, renewable_life=86400)


# -- a KDC realm on disk, served in-process (Flask test client) ------------------------------


@pytest.fixture(scope="module")
def kdc_realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Realm]:
    """EXAMPLE.TEST made by ``orthrus-kdc init``: alice (admins), bob, HTTP/localhost."""
    directory = tmp_path_factory.mktemp("attacks") / "kdc"
    realm = Realm.create(directory)
    realm.add_user(f"alice@{REALM}", ALICE_PASS, "--group", "admins")
    realm.add_user(f"bob@{REALM}", BOB_PASS)
    realm.add_service(HTTP_NAME, directory.parent / "http.keytab")
    yield realm
    realm.stop_all()


class KDC:
    """A KDC app in-process over the realm's database, with its back ends at hand."""

    def __init__(self, realm: Realm, **overrides: Any) -> None:
        settings = msgspec.structs.replace(load_settings(realm.directory, env={}), **overrides)
        self.settings: KDCSettings = settings
        self.backends: Backends = make_backends(settings)
        self.store = Store.open(settings)
        self.app: Flask = create_app(settings, self.store, self.backends)
        self.client: FlaskClient = self.app.test_client()
        self.db = realm.directory / "principal.db"

    def post(self, path: str, body: bytes | object) -> Any:
        data = body if isinstance(body, bytes) else codec.encode(body)
        return self.client.post(path, data=data, content_type="application/json")


@pytest.fixture
def kdc(kdc_realm: Realm) -> KDC:
    return KDC(kdc_realm)


# == Parsers ================================================================================


def test_invalid_utf8_in_a_string_is_generic_error_not_500(kdc: KDC) -> None:
    """Malformed UTF-8 inside a JSON string (RFC 8259 §8.1) crashed the decoder with an
    exception no handler expected: a 500 and a traceback in the log for one bad byte."""
    before = db_snapshot(kdc.db)
    for path in ("/v1/as", "/v1/tgs", "/v1/kpasswd"):
        answer = kdc.post(path, b'{"type":"AS-REQ","client":"\xf4lice@EXAMPLE.TEST"}')
        assert error_of(answer, 400)["name"] == "KRB_ERR_GENERIC"
    assert refused(codec.decode, b'"\xc3\x28"', str).name == "KRB_ERR_GENERIC"
    assert db_snapshot(kdc.db) == before


# == Forged or altered KDC replies (RFC 4120 §3.1.5, RFC 6806 §11) ==========================


def test_as_req_body_changed_in_transit_is_noticed_by_the_client(
    core: CoreRealm, alice: Principal, alice_key: Key
) -> None:
    """The AS-REQ body travels in clear and unprotected (RFC 4120 §5.4.1): a man in the
    middle changes the renewable life; the KDC answers the changed request; the client must
    refuse the reply, whose checksum binds the request the KDC read (RFC 6806 §11)."""
    req = core.as_req(alice, alice_key, T0, renewable_life=3600)
    longer = msgspec.structs.replace(
        req, body=msgspec.structs.replace(req.body, renew_till=int(T0) + 7 * 86400)
    )
    rep = core.as_exchange(longer, T0)
    error = refused(read_as_rep, rep, req, alice_key, T0)
    assert error.name == "KRB_AP_ERR_MODIFIED"
    assert "does not match the request" in error.message


def test_ticket_swapped_in_a_kdc_reply_is_noticed_by_the_client(
    core: CoreRealm, alice: Principal, alice_key: Key, tgt: Credential, http: Principal
) -> None:
    """Cut and paste between replies: the client cannot open the ticket, so a MITM swaps
    it for another ticket of the same server (RFC 4120 §3.1.5 checks only the names). The
    reply's checksum covers the ticket, so both AS-REP and TGS-REP are refused."""
    req = core.as_req(alice, alice_key, T0)
    rep, other = core.as_exchange(req, T0), core.as_exchange(core.as_req(alice, alice_key, T0))
    swapped = msgspec.structs.replace(rep, ticket=other.ticket)
    assert refused(read_as_rep, swapped, req, alice_key, T0).name == "KRB_AP_ERR_MODIFIED"

    request = make_tgs_req(tgt, http, T0, os.urandom)
    tgs_rep = core.tgs_exchange(request, T0)
    another = core.tgs_exchange(make_tgs_req(tgt, http, T0, os.urandom), T0)
    swapped_tgs = msgspec.structs.replace(tgs_rep, ticket=another.ticket)
    assert refused(read_tgs_rep, swapped_tgs, request, T0).name == "KRB_AP_ERR_MODIFIED"
    assert read_tgs_rep(tgs_rep, request, T0).server == http  # the genuine one still reads


_ = (ASRep, ASReq, TGSRep, FAST_KDF)
