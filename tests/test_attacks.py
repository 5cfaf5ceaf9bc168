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

import contextlib
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from support import FAST_KDF, REALM, Realm

sys.path.insert(0, str(Path(__file__).with_name("core")))
from core_realm import T0, CoreRealm

from kdc.app import create_app
from kdc.backends import Backends, make_backends
from kdc.cli import cli as kdc_cli
from kdc.config import KDCSettings, load_settings
from kdc.store import Store
from orthrus import codec
from orthrus.as_exchange import read_as_rep
from orthrus.credentials import Credential
from orthrus.errors import ProtocolError
from orthrus.keys import Key
from orthrus.principal import Principal
from orthrus.tgs_exchange import make_tgs_req, read_tgs_rep

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


def set_toml(realm: Realm, **values: object) -> None:
    """Set keys of the realm's ``kdc.toml`` (each written by ``init``)."""
    path = realm.directory / "kdc.toml"
    text = path.read_text()
    for key, value in values.items():
        line = f"{key} = {str(value).lower() if isinstance(value, bool) else repr(value)}"
        text, count = re.subn(rf"(?m)^{key} = .*$", line.replace("'", '"'), text)
        assert count == 1, key
    path.write_text(text)


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


def admin(directory: Path, *args: str, input: str | None = None) -> str:
    """``orthrus-kdc --dir DIR ARGS`` in-process (click's runner: no Python start per call)."""
    result = CliRunner().invoke(kdc_cli, ["--dir", str(directory), *args], input=input)
    assert result.exit_code == 0, result.output
    return result.output


def make_realm(directory: Path) -> Realm:
    """EXAMPLE.TEST made by ``orthrus-kdc init``: alice (admins), bob, HTTP/localhost."""
    admin(directory, "init", "--realm", REALM, *FAST_KDF)
    admin(directory, "addprinc", f"alice@{REALM}", "--group", "admins", input=f"{ALICE_PASS}\n")
    admin(directory, "addprinc", f"bob@{REALM}", input=f"{BOB_PASS}\n")
    admin(directory, "addprinc", "--randkey", HTTP_NAME)
    admin(directory, "ktadd", "-k", str(directory.parent / "http.keytab"), HTTP_NAME)
    return Realm(directory)


@pytest.fixture(scope="module")
def kdc_realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Realm]:
    """The module's realm on disk (tests that change it make their own)."""
    realm = make_realm(tmp_path_factory.mktemp("attacks") / "kdc")
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


# == Slow clients, huge headers: the real server (gunicorn) =================================

REQUEST_TIMEOUT = 2


@pytest.fixture(scope="module")
def served_kdc(kdc_realm: Realm) -> Iterator[str]:
    """``orthrus-kdc serve`` (1 worker, 4 threads) on the module's realm, 2 s per request."""
    set_toml(kdc_realm, request_timeout=REQUEST_TIMEOUT)
    url = kdc_realm.serve()
    yield url
    kdc_realm.stop_all()


def _dribble(sockets: list[socket.socket], stop: threading.Event) -> None:
    """Send one more byte on each connection every 0.2 s (a slowloris that never stops)."""
    while not stop.wait(0.2):
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.sendall(b"x")


def test_slowloris_slow_headers_and_bodies_cannot_hold_the_kdc(
    served_kdc: str, kdc_realm: Realm
) -> None:
    """Slowloris: more connections than the KDC has threads, each sending its headers or its
    body a byte at a time. gunicorn's gthread worker read them with no time limit, so the KDC
    answered nobody; each request now gets ``request_timeout`` seconds in all."""
    before = db_snapshot(kdc_realm.directory / "principal.db")
    host, port = served_kdc.removeprefix("http://").split(":")
    slow: list[socket.socket] = []
    for i in range(6):
        sock = socket.create_connection((host, int(port)), timeout=REQUEST_TIMEOUT + 5)
        head = b"POST /v1/as HTTP/1.1\r\nHost: kdc\r\n"
        if i % 2:
            head += b"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"
        sock.sendall(head)
        slow.append(sock)
    stop = threading.Event()
    dribbler = threading.Thread(target=_dribble, args=(slow, stop), daemon=True)
    dribbler.start()
    try:
        time.sleep(0.5)
        started = time.monotonic()
        answer = httpx.get(f"{served_kdc}/livez", timeout=REQUEST_TIMEOUT + 5)
        assert answer.status_code == 200
        assert time.monotonic() - started < REQUEST_TIMEOUT + 2
        for sock in slow:  # each slow connection was cut: the server closed it
            with contextlib.suppress(ConnectionError):
                while sock.recv(4096):
                    pass
    finally:
        stop.set()
        dribbler.join()
        for sock in slow:
            sock.close()
    assert db_snapshot(kdc_realm.directory / "principal.db") == before
