"""One named test per published attack on Kerberos-like systems (GitHub issue 8).

Each test mounts one attack, asserts the specific Kerberos error (RFC 4120 §7.5.9) it gets,
and asserts that nothing changed: replay caches, the principal database, lockout counters,
credential caches. Each was checked to fail with its defence switched off
(``scripts/attack_mutations.py`` repeats that check in a scratch copy of the tree).
docs/security.md lists every attack with its defence and the name of its test.

Most attacks run against the protocol core with a fake clock (``tests/core/core_realm.py``)
or against the KDC and service apps in-process; those that need a real server (slow bodies,
huge headers, several processes) run ``orthrus-kdc serve`` (kdc.server) on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import logging
import os
import re
import socket
import sqlite3
import stat
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jwt
import msgspec
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event
from support import (
    BIN,
    FAST_KDF,
    REALM,
    Realm,
    clean_env,
    fake_kdc,
    free_port,
    open_store,
    sqlite_snapshot,
    stop,
    wait_http,
)

sys.path.insert(0, str(Path(__file__).with_name("core")))
from core_realm import T0, CoreRealm, wire
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_server_double import connect
from kerberos_realm import ITERATIONS, KerberosRealm, random_keys
from krb_wire_support import AS_TAG, closed_by_kdc, serve_kerberos, tcp_exchange
from two_realms import A, B, TwoRealms

from client_lib.api import Client
from client_lib.ccache import CredentialCache
from client_lib.config import ClientSettings
from client_lib.http_auth import NegotiatePending, TicketAuthenticator
from kdc.app import RUNNER, create_app
from kdc.backends import Backends, make_backends
from kdc.config import KDCSettings, load_settings
from kdc.exchanges import Arrival, ExchangeNames, ExchangeRunner
from kdc.http_server import MAX_HEAD, MAX_PIPELINED
from kdc.kerberos_wire import frame
from kdc.store import PrincipalChanges, Store
from orthrus import codec, der
from orthrus.ap import (
    APRules,
    AuthenticatorFields,
    make_ap_rep,
    make_ap_req,
    open_ticket,
    read_ap_rep,
    seal_ticket,
    verify_ap_req,
)
from orthrus.as_exchange import ASOptions, handle_as_req, make_as_req, read_as_rep
from orthrus.authz import AuthzSigner
from orthrus.b64 import b64u_decode, b64u_encode
from orthrus.codec import body_checksum
from orthrus.credentials import Credential
from orthrus.der import tlv
from orthrus.enctypes import CHECKSUM_TYPES, ENCTYPES, KeyBlock, checksum_type, enctype
from orthrus.errors import APError, ConfigError, ProtocolError
from orthrus.forwarding import seal_forwarded_tgt
from orthrus.httpauth import (
    SESSION_HEADER,
    SESSION_PROOF_HEADER,
    decode_ap_req,
    encode_ap_req,
    http_binding,
)
from orthrus.kadmin import AdminReply, admin_service
from orthrus.kerberos.client import KerberosCredential, KerberosRequest, read_kdc_rep, tgs_request
from orthrus.kerberos.client import as_request as krb_as_request
from orthrus.kerberos.gss import accept_reply, accept_security_context, read_initiator_token
from orthrus.kerberos.kdc import answer as kerberos_answer
from orthrus.kerberos.names import default_salt, principal_name
from orthrus.kerberos.tickets import decrypt, encrypt, open_kerberos_ticket, seal_kerberos_ticket
from orthrus.keys import Key, KeyUsage
from orthrus.keytab import Keytab, KeytabEntry
from orthrus.kpasswd import handle_kpasswd_req, make_kpasswd_req
from orthrus.messages import (
    APRep,
    ASRep,
    ASReq,
    Authenticator,
    EncryptionKey,
    KDCReqBody,
    PAData,
    TGSRep,
    TGSReq,
)
from orthrus.negotiate import negotiate_header, parse_negotiate
from orthrus.principal import Principal, krbtgt
from orthrus.priv import PRIV_CONTENT_TYPE, KrbPriv, PrivChannel, decode_priv, encode_priv
from orthrus.pwkdf import (
    DEFAULT_ITERATIONS,
    DEFAULT_LANES,
    DEFAULT_MEMORY_KIB,
    KDFParams,
    string_to_key,
)
from orthrus.realm import KerberosKey
from orthrus.replay import MemoryReplayCache, ReplayCache
from orthrus.seal import open_sealed, seal
from orthrus.session_proof import ProofTarget, make_session_proof
from orthrus.session_token import SessionClaims, issue_session_token, session_token_key
from orthrus.tgs_exchange import (
    handle_tgs_req,
    make_forward_req,
    make_proxy_req,
    make_tgs_req,
    read_tgs_rep,
)
from orthrus_io.errors import Unavailable
from orthrus_io.files import read_private, write_private
from orthrus_io.redis_replay import RedisReplayCache
from orthrus_io.replay import SQLiteReplayCache
from service_lib import KeytabSource, TicketAuth, Verifier, VerifierSettings, current_identity

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
    """``orthrus-kdc --dir DIR ARGS`` in-process (:meth:`support.Realm.setup`)."""
    return Realm(directory).setup(*args, input=input)


def make_realm(directory: Path, *init_args: str) -> Realm:
    """EXAMPLE.TEST made by ``orthrus-kdc init``: alice (admins), bob, HTTP/localhost."""
    realm = Realm.create(directory, *init_args)
    realm.add_user(f"alice@{REALM}", ALICE_PASS, "--group", "admins")
    realm.add_user(f"bob@{REALM}", BOB_PASS)
    realm.add_service(HTTP_NAME, directory.parent / "http.keytab")
    return realm


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
    before = sqlite_snapshot(kdc.db)
    for path in ("/v1/as", "/v1/tgs", "/v1/kpasswd"):
        answer = kdc.post(path, b'{"type":"AS-REQ","client":"\xf4lice@EXAMPLE.TEST"}')
        assert error_of(answer, 400)["name"] == "KRB_ERR_GENERIC"
    assert refused(codec.decode, b'"\xc3\x28"', str).name == "KRB_ERR_GENERIC"
    assert sqlite_snapshot(kdc.db) == before


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


# == Slow clients, huge headers: the real server (kdc.server) ===============================

REQUEST_TIMEOUT = 2
#: How long the test waits for an answer or a cut. Without the deadline the slow clients hold
#: the KDC for as long as they dribble (for ever), so any bound fails then; a tight one (it
#: was REQUEST_TIMEOUT + 2 s) also failed a loaded machine's slow but right answer.
SLOW_CLIENT_PATIENCE = 60


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
    answered nobody; each request gets ``request_timeout`` seconds in all (kdc.http_server)."""
    before = sqlite_snapshot(kdc_realm.directory / "principal.db")
    host, port = served_kdc.removeprefix("http://").split(":")
    slow: list[socket.socket] = []
    for i in range(6):
        sock = socket.create_connection((host, int(port)), timeout=SLOW_CLIENT_PATIENCE)
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
        answer = httpx.get(f"{served_kdc}/livez", timeout=SLOW_CLIENT_PATIENCE)
        assert answer.status_code == 200
        for sock in slow:  # each slow connection was cut: the server closed it
            with contextlib.suppress(ConnectionError):
                while sock.recv(4096):
                    pass
    finally:
        stop.set()
        dribbler.join()
        for sock in slow:
            sock.close()
    assert sqlite_snapshot(kdc_realm.directory / "principal.db") == before


def _until_closed(sock: socket.socket, trickle: bytes) -> float:
    """Send ``trickle`` every 0.2 s until the server closes the connection; how long that took."""
    started = time.monotonic()
    with contextlib.suppress(OSError):  # reset or broken pipe: closed
        while time.monotonic() - started < SLOW_CLIENT_PATIENCE:
            sock.sendall(trickle)
            time.sleep(0.2)
    return time.monotonic() - started


def test_request_head_dribbled_slowly_is_cut_at_request_timeout(served_kdc: str) -> None:
    """A head that never ends, one octet every 0.2 s (within every size bound for minutes):
    the connection is closed ``request_timeout`` after its first byte, the connection's
    accept, not when the client stops. A loaded machine may close it late, never early."""
    host, port = served_kdc.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=SLOW_CLIENT_PATIENCE) as sock:
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: kdc\r\nX-Slow: ")
        lasted = _until_closed(sock, b"a")
    assert REQUEST_TIMEOUT - 0.5 <= lasted < SLOW_CLIENT_PATIENCE / 2
    assert httpx.get(f"{served_kdc}/livez", timeout=10).status_code == 200


def _refusal(url: str, request: bytes) -> bytes:
    """What the server answers ``request`` with, up to its closing the connection."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=SLOW_CLIENT_PATIENCE) as sock:
        sock.sendall(request)
        answer = b""
        with contextlib.suppress(ConnectionError):
            while chunk := sock.recv(65536):
                answer += chunk
    return answer


def test_oversized_request_heads_are_431_or_414_and_closed(served_kdc: str) -> None:
    """A head over 16 KiB, over 100 fields, a request target over 4094 octets: refused with
    their own status before the app, the connection closed; 100 fields still pass."""
    head = b"GET /livez HTTP/1.1\r\nHost: kdc\r\n"
    fields = b"".join(b"X-Field-%d: v\r\n" % i for i in range(100))
    for request, status in (
        (head + b"X-Big: " + b"a" * 17_000 + b"\r\n\r\n", b"431"),
        (head + fields + b"\r\n", b"431"),
        (b"GET /livez?" + b"q" * 4100 + b" HTTP/1.1\r\nHost: kdc\r\n\r\n", b"414"),
    ):
        answer = _refusal(served_kdc, request)
        assert answer.startswith(b"HTTP/1.1 " + status + b" "), answer[:80]
        assert b"\r\nConnection: close\r\n" in answer
        assert b"KRB_ERR_GENERIC" in answer
    hundred = head + fields[: fields.index(b"X-Field-98")] + b"Connection: close\r\n\r\n"
    assert _refusal(served_kdc, hundred).startswith(b"HTTP/1.1 200 OK\r\n")


SLOW_ROUTE = Path(__file__).with_name("kdc") / "serve_with_slow_route.py"


def test_slow_administration_does_not_hold_the_exchanges(kdc_realm: Realm) -> None:
    """What Flask answers (an administrator's ``cpw`` runs Argon2id for a second) runs in a
    thread of the worker's pool, never on the event loop: an exchange on another connection
    is answered while it runs (one worker, so the same loop)."""
    set_toml(kdc_realm, request_timeout=30)
    port = free_port()
    argv = [sys.executable, str(SLOW_ROUTE), "--dir", str(kdc_realm.directory), "serve"]
    argv += ["--port", str(port), "--workers", "1", "--threads", "2", "--kerberos-port", "0"]
    with open(kdc_realm.directory / f"slow-{port}.log", "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=clean_env())
    url = f"http://127.0.0.1:{port}"
    release = kdc_realm.directory / f"release-{port}"
    try:
        wait_http(f"{url}/livez", process)
        slow_answers: list[int] = []
        slow = threading.Thread(
            target=lambda: slow_answers.append(
                httpx.get(
                    f"{url}/test/slow", params={"until": str(release)}, timeout=90
                ).status_code
            )
        )
        slow.start()
        time.sleep(0.5)
        body = codec.encode(as_req(f"nobody@{REALM}"))
        answer = httpx.post(f"{url}/v1/as", content=body, timeout=10)
        # The administrator's request is still held (it waits for the file): the exchange
        # was answered beside it, not after it.
        assert 400 <= answer.status_code < 500 and slow.is_alive()
        release.touch()
        slow.join(60)
        assert slow_answers == [200]
    finally:
        release.touch()
        stop(process)


# -- a service verifier over the core realm's keys (fake clock) ------------------------------


class Clock:
    """A clock the test sets."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def test_a_client_that_leaves_its_answers_unread_is_read_no_further() -> None:
    """Pipelined requests whose answers wait (Flask busy), or a write buffer the client does
    not empty, stop the reading: one connection cannot fill the worker's memory."""
    release = threading.Event()

    def slow_app(environ: dict[str, object], start_response: Any) -> list[bytes]:
        release.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    async def scenario() -> None:
        with ThreadPoolExecutor(1) as pool:
            connection, transport = connect(slow_app, pool)
            request = b"GET /slow HTTP/1.1\r\nHost: kdc\r\n\r\n"
            connection.data_received(request * (MAX_PIPELINED - 1))
            assert transport.reading
            connection.data_received(request * 4)
            assert not transport.reading
            release.set()
            for _ in range(200):
                await asyncio.sleep(0.05)
                if transport.written.count(b"HTTP/1.1 200") == MAX_PIPELINED + 3:
                    break
            assert transport.written.count(b"HTTP/1.1 200") == MAX_PIPELINED + 3
            assert transport.reading
            connection.pause_writing()
            assert not transport.reading
            connection.resume_writing()
            assert transport.reading
            connection.connection_lost(None)

    asyncio.run(scenario())


def test_a_head_that_never_ends_is_431_once_past_16_kib() -> None:
    """A head sent in pieces and never finished is counted as it arrives (httptools keeps
    the unfinished field): past MAX_HEAD it is 431 and the connection ends, so it cannot
    fill the worker's memory."""

    def app(environ: dict[str, object], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b""]

    async def scenario() -> None:
        with ThreadPoolExecutor(1) as pool:
            connection, transport = connect(app, pool)
            connection.data_received(b"GET /livez HTTP/1.1\r\nX-Big: ")
            for _ in range(MAX_HEAD // 4096 + 2):
                connection.data_received(b"a" * 4096)
            assert transport.written.startswith(b"HTTP/1.1 431 "), bytes(transport.written[:60])
            connection.connection_lost(None)

    asyncio.run(scenario())


def service_keytab(core: CoreRealm, *names: str) -> Keytab:
    """A keytab of ``names`` (default HTTP/web) with the KDC's public signing keys."""
    entries = []
    for name in names or ("HTTP/web",):
        entry = core.entries[core.principal(name)]
        entries += [KeytabEntry(entry.principal, v, k.material) for v, k in entry.keys.items()]
    return Keytab(entries=entries, kdc_jwks=core.signer.jwks())


def make_verifier(
    core: CoreRealm,
    clock: Clock,
    cache: ReplayCache | None = None,
    names: tuple[str, ...] = (),
    **options: Any,
) -> Verifier:
    source = KeytabSource.from_keytab(service_keytab(core, *names))
    cache = MemoryReplayCache() if cache is None else cache
    return Verifier(source, cache, VerifierSettings(**options), clock=clock)


def ap_token(
    cred: Credential,
    now: float,
    binding: tuple[str, str] | None = ("GET", "/notes"),
    **fields: Any,
) -> str:
    """An ``Authorization: Ticket`` token made at ``now``, bound to ``binding``."""
    checksum = http_binding(*binding) if binding else None
    ap_req, _ = make_ap_req(cred, now, os.urandom, AuthenticatorFields(checksum=checksum, **fields))
    return encode_ap_req(ap_req)


def cache_size(cache: ReplayCache) -> int:
    return len(cache)  # type: ignore[arg-type]


@pytest.fixture
def service_cred(core: CoreRealm, tgt: Credential, http: Principal) -> Credential:
    """Alice's ticket for HTTP/web, issued at T0."""
    return core.service_ticket(tgt, http, T0)


def plain_offset(plaintext: bytes, field: str) -> int:
    """Where the first digit of ``"field":<number>`` sits in a sealed part's plaintext."""
    return plaintext.index(f'"{field}":'.encode()) + len(field) + 3


def flip_ciphertext(token: str, offset: int, mask: int = 0x01) -> str:
    """Flip bits of the ciphertext byte that encrypts plaintext byte ``offset``: with a
    stream cipher (GCM is CTR underneath) that flips exactly those plaintext bits."""
    parts = token.split(".")
    body = bytearray(b64u_decode(parts[3]))
    body[offset] ^= mask
    parts[3] = b64u_encode(bytes(body))
    return ".".join(parts)


def with_header(token: str, **changes: Any) -> str:
    """The JWE with its protected header changed (the rest as it was)."""
    parts = token.split(".")
    header = json.loads(b64u_decode(parts[0]))
    header.update(changes)
    parts[0] = b64u_encode(json.dumps(header, separators=(",", ":")).encode())
    return ".".join(parts)


def with_ticket(cred: Credential, **changes: Any) -> Credential:
    return msgspec.structs.replace(cred, ticket=msgspec.structs.replace(cred.ticket, **changes))


# == Replay (RFC 4120 §3.2.3 "replay cache") ================================================


def test_replay_to_the_same_service_is_repeat(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """The same AP-REQ sent twice to one service process: the second is a replay."""
    verifier = make_verifier(core, clock)
    token = ap_token(service_cred, T0)
    verifier.verify(token, "GET", "/notes")
    size = cache_size(verifier.replay_cache)
    assert refused(verifier.verify, token, "GET", "/notes").name == "KRB_AP_ERR_REPEAT"
    assert cache_size(verifier.replay_cache) == size == 1


def test_replay_to_another_worker_is_repeat(
    core: CoreRealm, service_cred: Credential, clock: Clock, tmp_path: Path
) -> None:
    """The same AP-REQ sent to a second worker process of the service: the workers share one
    SQLite replay cache, so the replay is refused there too (an in-process cache would not)."""
    path = tmp_path / "replay.sqlite"
    first = make_verifier(core, clock, SQLiteReplayCache(path, clock=clock))
    second = make_verifier(core, clock, SQLiteReplayCache(path, clock=clock))
    token = ap_token(service_cred, T0)
    first.verify(token, "GET", "/notes")
    rows = sqlite3.connect(path).execute("SELECT count(*) FROM replay").fetchone()
    assert refused(second.verify, token, "GET", "/notes").name == "KRB_AP_ERR_REPEAT"
    assert sqlite3.connect(path).execute("SELECT count(*) FROM replay").fetchone() == rows


def test_tgs_request_replayed_to_another_kdc_worker_is_repeat(
    core: CoreRealm, tgt: Credential, http: Principal, tmp_path: Path
) -> None:
    """A TGS-REQ replayed to another KDC worker (they share the SQLite replay cache)."""
    path = tmp_path / "tgs-replay.sqlite"
    caches = [SQLiteReplayCache(path, clock=lambda: T0) for _ in "ab"]
    workers = [dataclasses.replace(core.ctx, replay_cache=cache) for cache in caches]
    request = make_tgs_req(tgt, http, T0, os.urandom).message
    handle_tgs_req(wire(request, TGSReq), workers[0], T0)
    error = refused(handle_tgs_req, wire(request, TGSReq), workers[1], T0)
    assert error.name == "KRB_AP_ERR_REPEAT"
    assert sqlite3.connect(path).execute("SELECT count(*) FROM replay").fetchone() == (1,)


@pytest.fixture
def redis_client() -> Iterator[Any]:
    url = os.environ.get("ORTHRUS_TEST_REDIS_URL")
    if not url:
        pytest.skip("ORTHRUS_TEST_REDIS_URL is not set (redis://127.0.0.1:6379/0 locally)")
    import redis

    client = redis.Redis.from_url(url)
    prefix = f"orthrus-attacks-{os.getpid()}-{time.monotonic_ns()}"
    client.prefix = prefix  # type: ignore[attr-defined]
    yield client
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def test_replay_to_another_host_through_redis_is_repeat(
    core: CoreRealm, service_cred: Credential, clock: Clock, redis_client: Any
) -> None:
    """Service replicas on several hosts share the replay cache in Redis. The verifiers'
    clock (T0, 2025) is far behind Redis's: entries stored with an absolute expiry (PXAT, by
    Redis's clock) expired at once and every replay was accepted; the TTL is now relative."""
    prefix = redis_client.prefix
    hosts = [
        make_verifier(core, clock, RedisReplayCache(redis_client, prefix, clock)) for _ in "ab"
    ]
    token = ap_token(service_cred, T0)
    hosts[0].verify(token, "GET", "/notes")
    keys = sorted(redis_client.scan_iter(f"{prefix}:rc:*"))
    assert refused(hosts[1].verify, token, "GET", "/notes").name == "KRB_AP_ERR_REPEAT"
    assert sorted(redis_client.scan_iter(f"{prefix}:rc:*")) == keys and len(keys) == 1


def test_refused_request_never_enters_the_replay_cache(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """Replay-cache poisoning: an eavesdropper races the genuine request to another path.
    It is refused (binding) and must not be remembered, or the genuine one would be a
    "replay"; checks run before the cache, which is consulted last (RFC 4120 §3.2.3)."""
    verifier = make_verifier(core, clock)
    token = ap_token(service_cred, T0, ("GET", "/notes"))
    assert refused(verifier.verify, token, "POST", "/notes").name == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == 0
    assert verifier.verify(token, "GET", "/notes").name == f"alice@{core.name}"


def test_authenticator_reused_with_another_ticket_is_modified(
    core: CoreRealm, tgt: Credential, http: Principal, clock: Clock
) -> None:
    """An authenticator lifted from one AP-REQ and pasted onto another ticket of the same
    client: it is sealed under the first ticket's session key, so it does not open."""
    verifier = make_verifier(core, clock)
    first, second = core.service_ticket(tgt, http, T0), core.service_ticket(tgt, http, T0)
    lifted = decode_ap_req(ap_token(first, T0)).authenticator
    pasted = msgspec.structs.replace(decode_ap_req(ap_token(second, T0)), authenticator=lifted)
    error = refused(verifier.verify, encode_ap_req(pasted), "GET", "/notes")
    assert error.name == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == 0


# -- the Dialogue's defences, and the lab switches that take them away ----------------------


def bearer_token(cred: Credential, now: float) -> str:
    """A captured ticket presented with an authenticator of the attacker's own key: who does
    not hold the session key cannot make one (Bryant's *Dialogue*, scene 3)."""
    own = msgspec.structs.replace(cred, key=EncryptionKey.from_key(Key.generate(os.urandom)))
    return ap_token(own, now)


def clear_token(cred: Credential, now: float) -> str:
    """A captured ticket with a fresh authenticator written in the clear, naming its client."""
    clear = Authenticator(
        client=cred.client, ctime=int(now), cusec=0, checksum=http_binding("GET", "/notes")
    )
    ap_req = decode_ap_req(ap_token(cred, now))
    forged = msgspec.structs.replace(ap_req, authenticator=b64u_encode(codec.encode(clear)))
    return encode_ap_req(forged)


def lab_verifier(core: CoreRealm, clock: Clock, monkeypatch: Any, switch: str) -> Verifier:
    """A verifier with one Dialogue switch on, as in a lab realm (whose KDC is not asked)."""
    monkeypatch.setattr("service_lib.verifier.confirm_lab_realm", lambda *_: None)
    return make_verifier(core, clock, **{switch: True})


def test_captured_ticket_with_an_authenticator_of_another_key_is_modified(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """A ticket is not a bearer token: without its session key no authenticator opens."""
    verifier = make_verifier(core, clock)
    error = refused(verifier.verify, bearer_token(service_cred, clock.now), "GET", "/notes")
    assert error.name == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == 0


def test_captured_ticket_with_a_clear_authenticator_is_refused(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """An authenticator not sealed under the ticket's session key is not read at all."""
    verifier = make_verifier(core, clock)
    error = refused(verifier.verify, clear_token(service_cred, clock.now), "GET", "/notes")
    assert error.name in {"KRB_AP_ERR_MODIFIED", "MALFORMED"}
    assert cache_size(verifier.replay_cache) == 0


def test_lab_no_authenticator_lets_a_captured_ticket_through(
    core: CoreRealm, service_cred: Credential, clock: Clock, monkeypatch: Any
) -> None:
    """The lab switch does what it says: the captured ticket alone is alice, the
    defence's absence shown (and only where confirm_lab_realm allowed it)."""
    verifier = lab_verifier(core, clock, monkeypatch, "lab_no_authenticator")
    identity = verifier.verify(bearer_token(service_cred, clock.now), "GET", "/notes")
    assert identity.name == f"alice@{core.name}"


def test_lab_no_session_key_lets_a_clear_authenticator_through(
    core: CoreRealm, service_cred: Credential, clock: Clock, monkeypatch: Any
) -> None:
    """Without the session key's seal, the authenticator's other checks stop nobody: a
    fresh clear one is accepted, and once again it is a replay."""
    verifier = lab_verifier(core, clock, monkeypatch, "lab_no_session_key")
    token = clear_token(service_cred, clock.now)
    assert verifier.verify(token, "GET", "/notes").name == f"alice@{core.name}"
    assert refused(verifier.verify, token, "GET", "/notes").name == "KRB_AP_ERR_REPEAT"
    assert verifier.verify(ap_token(service_cred, clock.now), "GET", "/notes")  # sealed too


def test_lab_no_timestamp_lets_an_old_authenticator_through(
    core: CoreRealm, service_cred: Credential, clock: Clock, monkeypatch: Any
) -> None:
    """An authenticator made an hour ago (captured, the replay cache long past it) is
    accepted when its time is not checked."""
    verifier = lab_verifier(core, clock, monkeypatch, "lab_no_timestamp")
    clock.now = T0 + 5000
    identity = verifier.verify(ap_token(service_cred, clock.now - 3600), "GET", "/notes")
    assert identity.name == f"alice@{core.name}"


# -- replay caches that lost entries (RFC 4120 §3.2.3: refuse what could have been seen) -----


def real_time_service_ticket(core: CoreRealm, alice: Principal, alice_key: Key) -> Credential:
    """Alice's ticket for HTTP/web issued now (for verifiers built by ``from_settings``,
    which run on the real clock)."""
    now = time.time()
    return core.service_ticket(core.login(alice, alice_key, now), core.principal("HTTP/web"), now)


def test_replay_after_a_service_restart_is_repeat(
    core: CoreRealm, alice: Principal, alice_key: Key, tmp_path: Path, monkeypatch: Any
) -> None:
    """An AP-REQ replayed after the service restarted: its default replay cache is a file in
    its state directory (mode 0600) that still holds the entry, where an in-memory cache
    would have forgotten it."""
    from service_lib import VerifierSettings

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    keytab = tmp_path / "http.keytab"
    write_private(keytab, service_keytab(core).to_bytes())
    settings = VerifierSettings(keytab=str(keytab), principals=[f"HTTP/web@{core.name}"])
    service = Verifier.from_settings(settings)
    token = ap_token(real_time_service_ticket(core, alice, alice_key), time.time())
    service.verify(token, "GET", "/notes")
    path = tmp_path / "state" / "orthrus" / "replay.sqlite"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rows = sqlite3.connect(path).execute("SELECT count(*) FROM replay").fetchone()
    restarted = Verifier.from_settings(settings)
    error = refused(restarted.verify, token, "GET", "/notes")
    assert error.name == "KRB_AP_ERR_REPEAT" and "already used" in error.message
    assert sqlite3.connect(path).execute("SELECT count(*) FROM replay").fetchone() == rows == (1,)


def test_authenticator_from_before_an_in_memory_cache_started_is_repeat(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """An in-memory replay cache (asked for) that started at T0 cannot know what the process
    before it accepted: an authenticator made 10 s earlier, within the skew, is refused;
    a fresh one is accepted."""
    from service_lib import VerifierSettings, open_replay_cache

    settings = VerifierSettings(keytab="unused", replay_cache="memory")
    verifier = make_verifier(core, clock, open_replay_cache(settings, clock))
    error = refused(verifier.verify, ap_token(service_cred, T0 - 10), "GET", "/notes")
    assert error.name == "KRB_AP_ERR_REPEAT"
    assert "reset at" in error.message and "fresh authenticator" in error.message
    assert cache_size(verifier.replay_cache) == 0
    assert verifier.verify(ap_token(service_cred, T0), "GET", "/notes").name == f"alice@{core.name}"


def test_replay_after_redis_lost_its_entries_is_repeat(
    core: CoreRealm, service_cred: Credential, clock: Clock, redis_client: Any
) -> None:
    """Redis restarted without persistence (or was flushed) between a request and its replay
    to another replica: the marker key is gone, so the replica notices the loss in the same
    round trip as the store, and refuses what was made before it; a fresh request passes."""
    prefix = redis_client.prefix
    hosts = [
        make_verifier(core, clock, RedisReplayCache(redis_client, prefix, clock)) for _ in "ab"
    ]
    token = ap_token(service_cred, T0)
    hosts[0].verify(token, "GET", "/notes")
    for key in redis_client.scan_iter(f"{prefix}*"):  # FLUSHDB, limited to this test's keys
        redis_client.delete(key)
    clock.now = T0 + 5
    error = refused(hosts[1].verify, token, "GET", "/notes")
    assert error.name == "KRB_AP_ERR_REPEAT" and "reset at" in error.message
    assert float(redis_client.get(f"{prefix}:rc-since")) == T0 + 5
    assert hosts[0].verify(ap_token(service_cred, T0 + 5), "GET", "/notes")


@pytest.mark.parametrize("loss", ["deleted", "damaged"])
def test_replay_after_the_replay_cache_file_was_lost_is_repeat(
    core: CoreRealm, service_cred: Credential, clock: Clock, tmp_path: Path, loss: str
) -> None:
    """The replay cache file deleted or damaged, then the service restarted: the file is made
    again (mode 0600) dated now, so the authenticators it may have held are refused."""
    path = tmp_path / "replay.sqlite"
    cache = SQLiteReplayCache(path, clock=clock)
    token = ap_token(service_cred, T0)
    make_verifier(core, clock, cache).verify(token, "GET", "/notes")
    cache.close()
    if loss == "deleted":
        for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            name.unlink(missing_ok=True)
    else:
        path.write_bytes(b"not a database at all " * 300)
    clock.now = T0 + 5
    restarted = make_verifier(core, clock, SQLiteReplayCache(path, clock=clock))
    error = refused(restarted.verify, token, "GET", "/notes")
    assert error.name == "KRB_AP_ERR_REPEAT" and "reset at" in error.message
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cache_size(restarted.replay_cache) == 0
    assert restarted.verify(ap_token(service_cred, T0 + 5), "GET", "/notes")


def test_tgs_request_replayed_after_the_kdc_restarted_is_repeat(
    core: CoreRealm, alice: Principal, alice_key: Key, http: Principal, tmp_path: Path
) -> None:
    """A TGS-REQ replayed to the KDC after it restarted with a fresh in-memory replay cache
    (one process, no Redis): the cache dates its memory from the start, so the request
    made before is refused, and nothing is stored for it."""
    settings = KDCSettings(realm=core.name, database_url="sqlite://", directory=str(tmp_path))
    before = dataclasses.replace(core.ctx, replay_cache=make_backends(settings).replay_cache)
    now = time.time()
    request = make_tgs_req(core.login(alice, alice_key, now), http, now, os.urandom).message
    handle_tgs_req(wire(request, TGSReq), before, now)
    after = dataclasses.replace(core.ctx, replay_cache=make_backends(settings).replay_cache)
    error = refused(handle_tgs_req, wire(request, TGSReq), after, now)
    assert error.name == "KRB_AP_ERR_REPEAT" and "KDC's replay cache was reset" in error.message
    assert cache_size(after.replay_cache) == 0


# == Clock skew (RFC 4120 §1.6, §3.2.3): ±300 s accepted, ±301 s refused =====================


@pytest.mark.parametrize("offset", [300, -300])
def test_authenticator_exactly_300_s_off_is_accepted(
    core: CoreRealm, service_cred: Credential, clock: Clock, offset: int
) -> None:
    """The boundary itself: a clock exactly max_skew (300 s) ahead or behind is allowed."""
    verifier = make_verifier(core, clock)
    clock.now = T0 + 1000
    identity = verifier.verify(ap_token(service_cred, clock.now + offset), "GET", "/notes")
    assert identity.name == f"alice@{core.name}"


@pytest.mark.parametrize("offset", [301, -301])
def test_authenticator_301_s_off_is_skew(
    core: CoreRealm, service_cred: Credential, clock: Clock, offset: int
) -> None:
    """One second past the boundary, ahead (a pre-made authenticator for later use) or
    behind (a captured one replayed after the cache forgot it): KRB_AP_ERR_SKEW."""
    verifier = make_verifier(core, clock)
    clock.now = T0 + 1000
    error = refused(verifier.verify, ap_token(service_cred, clock.now + offset), "GET", "/notes")
    assert error.name == "KRB_AP_ERR_SKEW"
    assert error.data["max_skew"] == 300
    assert cache_size(verifier.replay_cache) == 0


def test_tgs_authenticator_skew_boundary(core: CoreRealm, tgt: Credential, http: Principal) -> None:
    """At the KDC: a TGS authenticator 300 s off either way is accepted, 301 s is SKEW."""
    now = T0 + 1000
    for offset in (300, -300):
        request = make_tgs_req(tgt, http, now + offset, os.urandom)
        assert handle_tgs_req(wire(request.message, TGSReq), core.ctx, now).ticket.server == http
    size = len(core.replay)
    for offset in (301, -301):
        request = make_tgs_req(tgt, http, now + offset, os.urandom)
        error = refused(handle_tgs_req, wire(request.message, TGSReq), core.ctx, now)
        assert error.name == "KRB_AP_ERR_SKEW"
    assert len(core.replay) == size


def test_preauth_timestamp_skew_boundary(core: CoreRealm, alice: Principal, alice_key: Key) -> None:
    """PA-ENC-TIMESTAMP (RFC 4120 §5.2.7.2) 300 s off is accepted, 301 s is SKEW."""
    now = T0 + 1000
    for offset in (300, -300):
        assert core.as_exchange(core.as_req(alice, alice_key, now + offset), now).client == alice
    for offset in (301, -301):
        error = refused(core.as_exchange, core.as_req(alice, alice_key, now + offset), now)
        assert error.name == "KRB_AP_ERR_SKEW"


# == Tampering with encrypted parts and clear fields ========================================


def test_bit_flip_extending_a_ticket_endtime_is_modified(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """The stream-cipher attack: GCM encrypts by XOR, so flipping a ciphertext bit flips the
    same plaintext bit — here a digit of the ticket's endtime. The tag refuses it (the
    signed authorization data, which carries the times too, is a second line)."""
    web_key = core.key_of(core.principal("HTTP/web"))
    plain = open_sealed(web_key, KeyUsage.TICKET, service_cred.ticket.enc_part, "HTTP/web@EX.TEST")
    forged = flip_ciphertext(service_cred.ticket.enc_part, plain_offset(plain, "endtime"), 0x02)
    verifier = make_verifier(core, clock)
    extended = with_ticket(service_cred, enc_part=forged)
    token = ap_token(extended, T0)
    assert refused(verifier.verify, token, "GET", "/notes").name == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == 0
    assert refused(open_ticket, extended.ticket, web_key).name == "KRB_AP_ERR_MODIFIED"


def test_bit_flip_moving_an_authenticator_time_is_modified(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """Flipping ciphertext bits under a digit of the authenticator's ctime (to reuse a
    captured authenticator later): refused by the tag."""
    ap_req = decode_ap_req(ap_token(service_cred, T0))
    plain = open_sealed(
        service_cred.session_key, KeyUsage.AP_REQ_AUTHENTICATOR, ap_req.authenticator
    )
    forged = flip_ciphertext(ap_req.authenticator, plain_offset(plain, "ctime") + 8, 0x01)
    verifier = make_verifier(core, clock)
    token = encode_ap_req(msgspec.structs.replace(ap_req, authenticator=forged))
    assert refused(verifier.verify, token, "GET", "/notes").name == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == 0


def test_bit_flips_in_every_encrypted_part_are_refused(
    core: CoreRealm, alice: Principal, alice_key: Key, tgt: Credential, http: Principal
) -> None:
    """A digit flipped under the ciphertext of each kind of sealed part: PA-ENC-TIMESTAMP,
    ticket, AS reply part, TGS authenticator, TGS reply part, AP reply, KRB-PRIV."""
    web_key = core.key_of(http)
    # PA-ENC-TIMESTAMP (usage 1): the KDC refuses it.
    req = core.as_req(alice, alice_key, T0)
    stamp = req.padata[0].value
    plain = open_sealed(alice_key, KeyUsage.AS_REQ_PA_ENC_TIMESTAMP, stamp)
    forged = flip_ciphertext(stamp, plain_offset(plain, "patimestamp") + 9)
    bad = msgspec.structs.replace(req, padata=[PAData("enc-timestamp", forged)])
    assert refused(core.as_exchange, bad, T0).name == "KDC_ERR_PREAUTH_FAILED"
    # AS reply part (usage 3): the client refuses it.
    rep = core.as_exchange(req, T0)
    plain = open_sealed(alice_key, KeyUsage.AS_REP_ENC_PART, rep.enc_part)
    forged = flip_ciphertext(rep.enc_part, plain_offset(plain, "endtime") + 9)
    bad_rep = msgspec.structs.replace(rep, enc_part=forged)
    assert refused(read_as_rep, bad_rep, req, alice_key, T0).name == "KRB_AP_ERR_MODIFIED"
    # TGS authenticator (usage 7) and ticket (usage 2): the KDC refuses them.
    request = make_tgs_req(tgt, http, T0, os.urandom)
    ap_req = request.message.ap_req
    plain = open_sealed(tgt.session_key, KeyUsage.TGS_REQ_AUTHENTICATOR, ap_req.authenticator)
    forged = flip_ciphertext(ap_req.authenticator, plain_offset(plain, "ctime") + 9)
    bad_tgs = msgspec.structs.replace(
        request.message, ap_req=msgspec.structs.replace(ap_req, authenticator=forged)
    )
    assert refused(core.tgs_exchange, bad_tgs, T0).name == "KRB_AP_ERR_MODIFIED"
    tgs_key = core.key_of(core.tgs)
    plain = open_sealed(tgs_key, KeyUsage.TICKET, tgt.ticket.enc_part, str(core.tgs))
    forged = flip_ciphertext(tgt.ticket.enc_part, plain_offset(plain, "endtime") + 9)
    bad_tgs = msgspec.structs.replace(
        request.message,
        ap_req=msgspec.structs.replace(
            ap_req, ticket=msgspec.structs.replace(ap_req.ticket, enc_part=forged)
        ),
    )
    assert refused(core.tgs_exchange, bad_tgs, T0).name == "KRB_AP_ERR_MODIFIED"
    # TGS reply part (usage 9): the client refuses it.
    tgs_rep = core.tgs_exchange(request, T0)
    plain = open_sealed(request.subkey, KeyUsage.TGS_REP_ENC_PART_SUBKEY, tgs_rep.enc_part)
    forged = flip_ciphertext(tgs_rep.enc_part, plain_offset(plain, "endtime") + 9)
    bad_tgs_rep = msgspec.structs.replace(tgs_rep, enc_part=forged)
    assert refused(read_tgs_rep, bad_tgs_rep, request, T0).name == "KRB_AP_ERR_MODIFIED"
    # AP reply (usage 12): the client refuses it (mutual authentication fails).
    cred = read_tgs_rep(tgs_rep, request, T0)
    ap_req2, sent = make_ap_req(cred, T0, os.urandom, AuthenticatorFields(mutual=True))
    rules = APRules(replay_cache=MemoryReplayCache())
    verified = verify_ap_req(ap_req2, lambda p: {1: web_key} if p == http else None, T0, rules)
    ap_rep = make_ap_rep(verified, os.urandom)
    plain = open_sealed(cred.session_key, KeyUsage.AP_REP_ENC_PART, ap_rep.enc_part)
    forged = flip_ciphertext(ap_rep.enc_part, plain_offset(plain, "cusec"))
    bad_ap_rep = APRep(forged)
    assert refused(read_ap_rep, bad_ap_rep, cred.session_key, sent).name == "KRB_AP_ERR_MUT_FAIL"
    # KRB-PRIV (usage 13): the peer refuses it and its channel does not advance.
    client = PrivChannel.initiator(os.urandom)
    service = PrivChannel.acceptor(client.key, client.initial_seq)
    message = client.seal(b'{"amount": 100}', T0, os.urandom)
    plain = open_sealed(client.key, KeyUsage.KRB_PRIV_ENC_PART, message.enc_part)
    forged = flip_ciphertext(message.enc_part, plain_offset(plain, "timestamp") + 9)
    assert refused(service.open, KrbPriv(forged), T0).name == "KRB_AP_ERR_MODIFIED"
    assert service.open(message, T0) == b'{"amount": 100}'


@pytest.mark.parametrize(
    "change",
    [{"kid": "2"}, {"usage": 11}, {"ctx": "HTTP/other@EX.TEST"}, {"zip": "DEF"}, {"cty": "JWT"}],
    ids=["kid", "usage", "ctx", "zip", "cty"],
)
def test_clear_jwe_header_field_changed_is_modified(
    core: CoreRealm, service_cred: Credential, clock: Clock, change: dict[str, Any]
) -> None:
    """Each field of a ticket's protected JWE header (RFC 7516 §4) changed or added: the
    header is the AEAD's associated data, so nothing in it can change."""
    verifier = make_verifier(core, clock)
    forged = with_header(service_cred.ticket.enc_part, **change)
    token = ap_token(with_ticket(service_cred, enc_part=forged), T0)
    assert refused(verifier.verify, token, "GET", "/notes").name == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == 0


def test_ticket_relabelled_for_a_service_sharing_its_key_is_modified(
    core: CoreRealm, tgt: Credential, clock: Clock
) -> None:
    """A ticket's clear server name changed to another service holding the same key (an
    alias exported into one keytab): the name is bound as the JWE's ``ctx``. The signed
    authorization data names the server too; the ticket alone must hold without it."""
    web = core.principal("HTTP/web")
    alias = core.principal("HTTP/alias")
    core.entries[alias] = dataclasses.replace(core.entries[web], principal=alias)
    cred = core.service_ticket(tgt, web, T0)
    verifier = make_verifier(core, clock, names=("HTTP/web", "HTTP/alias"))
    relabelled = with_ticket(cred, server=alias)
    token = ap_token(relabelled, T0)
    assert refused(verifier.verify, token, "GET", "/notes").name == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == 0
    error = refused(open_ticket, relabelled.ticket, core.key_of(alias))
    assert error.name == "KRB_AP_ERR_MODIFIED"


def test_ticket_kvno_changed_is_badkeyver(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """The clear key version number changed: the service names both versions and refuses."""
    verifier = make_verifier(core, clock)
    token = ap_token(with_ticket(service_cred, kvno=7), T0)
    error = refused(verifier.verify, token, "GET", "/notes")
    assert error.name == "KRB_AP_ERR_BADKEYVER"
    assert error.data == {"ticket_kvno": 7, "available_kvnos": [1]}
    assert cache_size(verifier.replay_cache) == 0


def test_tgs_request_body_changed_in_transit_is_modified(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    """The TGS-REQ body (the service asked for) changed in transit: the authenticator's
    checksum of the body no longer matches (RFC 4120 §3.3.2); the original still works."""
    request = make_tgs_req(tgt, http, T0, os.urandom)
    other = core.principal("HTTP/other")
    changed = msgspec.structs.replace(
        request.message, body=msgspec.structs.replace(request.message.body, server=other)
    )
    assert refused(core.tgs_exchange, changed, T0).name == "KRB_AP_ERR_MODIFIED"
    assert len(core.replay) == 0
    assert core.tgs_exchange(request, T0).ticket.server == http


def test_ap_req_moved_to_another_method_or_path_is_modified(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """An AP-REQ captured on ``GET /notes`` used for ``POST /notes`` or ``GET /admin``: its
    checksum binds the method and path (docs/http.md)."""
    verifier = make_verifier(core, clock)
    token = ap_token(service_cred, T0, ("GET", "/notes"))
    for method, path in (("POST", "/notes"), ("GET", "/admin/stats"), ("GET", "/notes?all=1")):
        assert refused(verifier.verify, token, method, path).name == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == 0


# == Key usage confusion and cut-and-paste (RFC 4120 §7.5.1) ================================

USAGES = [u for u in KeyUsage if u not in (KeyUsage.MASTER_KEY_WRAP, KeyUsage.SESSION_TOKEN)]


def test_key_usage_confusion_every_usage_refused_at_every_other_place() -> None:
    """Each usage's ciphertext offered at every other place, under the same key, with its
    header as made and relabelled: per-usage keys (HKDF) and the authenticated header."""
    key = Key.generate(os.urandom, 1)
    accepted = []
    for made in USAGES:
        sealed = seal(key, made, b'{"ctime": 1}', os.urandom)
        for place in USAGES:
            if place == made:
                continue
            for token in (sealed, with_header(sealed, usage=int(place))):
                try:
                    open_sealed(key, place, token)
                    accepted.append((made.name, place.name))
                except ProtocolError as exc:
                    assert exc.name == "KRB_AP_ERR_MODIFIED"
    assert accepted == []


def test_ap_authenticator_offered_to_the_kdc_and_tgs_one_to_a_service_are_modified(
    core: CoreRealm, tgt: Credential, http: Principal, service_cred: Credential, clock: Clock
) -> None:
    """The same session key, two places: an AP authenticator (usage 11) in a TGS-REQ, and a
    TGS authenticator (usage 7) sent to a service."""
    kdc_cache_size = len(core.replay)
    request = make_tgs_req(tgt, http, T0, os.urandom)
    ap_fields = AuthenticatorFields(checksum=body_checksum(request.message.body))
    ap_style, _ = make_ap_req(tgt, T0, os.urandom, ap_fields)
    confused = msgspec.structs.replace(request.message, ap_req=ap_style)
    assert refused(core.tgs_exchange, confused, T0).name == "KRB_AP_ERR_MODIFIED"
    verifier = make_verifier(core, clock)
    fields = AuthenticatorFields(usage=KeyUsage.TGS_REQ_AUTHENTICATOR)
    tgs_style, _ = make_ap_req(service_cred, T0, os.urandom, fields)
    error = refused(verifier.verify, encode_ap_req(tgs_style), "GET", "/notes")
    assert error.name == "KRB_AP_ERR_MODIFIED"
    assert len(core.replay) == kdc_cache_size and cache_size(verifier.replay_cache) == 0


def test_cut_and_paste_of_jwe_segments_between_tickets_is_modified(
    core: CoreRealm, tgt: Credential, http: Principal, clock: Clock
) -> None:
    """Segments of two tickets for the same service spliced: header of one with the nonce,
    ciphertext and tag of the other, or the nonce of one with the body of the other."""
    mine = core.service_ticket(tgt, http, T0)
    bob = core.principal("bob")
    theirs = core.service_ticket(core.login(bob, core.user_key(bob, "bob-pass"), T0), http, T0)
    a, b = mine.ticket.enc_part.split("."), theirs.ticket.enc_part.split(".")
    verifier = make_verifier(core, clock)
    splices = [
        [*a[:2], *b[2:]],  # my header (kid, usage, ctx) on bob's body
        [*a[:3], *b[3:]],  # my header and nonce, bob's ciphertext and tag
        [*b[:4], a[4]],  # bob's ticket with my tag
    ]
    for parts in splices:
        spliced = with_ticket(mine, enc_part=".".join(parts))
        token = ap_token(spliced, T0)
        assert refused(verifier.verify, token, "GET", "/notes").name == "KRB_AP_ERR_MODIFIED"
        if parts != b:  # not bob's whole ticket (the headers are equal): the tag refuses it
            error = refused(open_ticket, spliced.ticket, core.key_of(http))
            assert error.name == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == 0


def reseal(cred: Credential, key: Key, **changes: Any) -> Credential:
    """The silver ticket: open a ticket with the stolen service key, change it, seal it."""
    part = open_ticket(cred.ticket, key)
    forged = msgspec.structs.replace(part, **changes)
    return msgspec.structs.replace(
        cred, ticket=seal_ticket(forged, cred.ticket.server, key, os.urandom)
    )


def test_silver_ticket_with_a_stolen_service_key_is_modified(
    core: CoreRealm, tgt: Credential, http: Principal, clock: Clock
) -> None:
    """With the service's key an attacker mints tickets (the "silver ticket"): claiming
    another client, dropping the KDC's signature, signing with a key of its own, or moving
    another ticket's signed authorization data in. The KDC's Ed25519 signature, bound to the
    client, times, service and session key, refuses every one (RFC 4120 §5.2.6)."""
    key = core.key_of(http)
    bob = core.principal("bob")
    bobs = core.service_ticket(core.login(bob, core.user_key(bob, "bob-pass"), T0), http, T0)
    alices = core.service_ticket(tgt, http, T0)
    alice_part = open_ticket(alices.ticket, key)
    rogue = AuthzSigner(Ed25519PrivateKey.generate(), core.signer.kid, core.name)
    bob_part = open_ticket(bobs.ticket, key)
    forgeries = [
        reseal(bobs, key, client=alice_part.client),  # bob's ticket now says alice
        reseal(alices, key, authorization_data=None),  # signature removed
        reseal(bobs, key, authorization_data=rogue.sign(bob_part, http, ("admins",))),
        reseal(bobs, key, authorization_data=alice_part.authorization_data),
    ]
    verifier = make_verifier(core, clock)
    for forged in forgeries:
        token = ap_token(forged, T0)
        assert refused(verifier.verify, token, "GET", "/notes").name == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == 0


def test_silver_ticket_moving_its_auth_or_start_time_is_modified(
    core: CoreRealm, service_cred: Credential, http: Principal, clock: Clock
) -> None:
    """With the service's key an attacker re-seals a genuine ticket, keeping its client,
    session key, end time and signed authorization data, with a later ``authtime`` (a login
    that looks fresh to the application) or an earlier ``starttime``. The KDC signed both
    (``iat``, ``nbf``): each must equal the ticket's, so both are refused."""
    key = core.key_of(http)
    part = open_ticket(service_cred.ticket, key)
    clock.now = T0 + 5 * 3600
    forgeries = [
        reseal(service_cred, key, authtime=int(clock.now)),
        reseal(service_cred, key, starttime=part.starttime - 3600),
    ]
    verifier = make_verifier(core, clock)
    for forged in forgeries:
        error = refused(verifier.verify, ap_token(forged, clock.now), "GET", "/notes")
        assert error.name == "KRB_AP_ERR_MODIFIED"
        assert "belongs to another ticket" in error.message
    assert cache_size(verifier.replay_cache) == 0
    identity = verifier.verify(ap_token(service_cred, clock.now), "GET", "/notes")
    assert (identity.authtime, identity.starttime) == (part.authtime, part.starttime)


def test_downgrade_of_the_signed_authorization_data_is_modified(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """The KDC's signature downgraded: ``alg: none``, or HS256 keyed with the KDC's public
    key (algorithm confusion, CVE-2015-9235 style). The algorithm is pinned to EdDSA."""
    key = core.key_of(core.principal("HTTP/web"))
    part = open_ticket(service_cred.ticket, key)
    claims = jwt.decode(part.authorization_data or "", options={"verify_signature": False})
    claims["groups"] = ["admins", "root"]
    header = {"kid": core.signer.kid}
    public = core.signer.jwks()["keys"][0]["x"].encode()
    unsigned = jwt.encode(claims, None, algorithm="none", headers=header)
    hmac_signed = jwt.api_jws.PyJWS(algorithms=["HS256"]).encode(
        json.dumps(claims).encode(), public, algorithm="HS256", headers=header
    )
    verifier = make_verifier(core, clock)
    for token in (unsigned, hmac_signed):
        forged = reseal(service_cred, key, authorization_data=token)
        error = refused(verifier.verify, ap_token(forged, T0), "GET", "/notes")
        assert error.name == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == 0


@pytest.mark.parametrize(
    "header",
    [{"alg": "none"}, {"alg": "A128KW"}, {"enc": "A128GCM"}, {"enc": "A128CBC-HS256"}],
    ids=["alg-none", "alg-A128KW", "enc-A128GCM", "enc-CBC-HS256"],
)
def test_downgrade_to_a_weaker_jwe_algorithm_is_modified(
    core: CoreRealm, service_cred: Credential, clock: Clock, header: dict[str, str]
) -> None:
    """A sealed part relabelled with a weaker or unauthenticated algorithm: only
    ``dir`` + ``A256GCM`` is accepted, whatever the header says (RFC 7516 §5.2 step 6)."""
    verifier = make_verifier(core, clock)
    forged = with_header(service_cred.ticket.enc_part, **header)
    token = ap_token(with_ticket(service_cred, enc_part=forged), T0)
    error = refused(verifier.verify, token, "GET", "/notes")
    assert error.name == "KRB_AP_ERR_MODIFIED"
    assert "only alg=dir, enc=A256GCM is accepted" in error.message
    assert cache_size(verifier.replay_cache) == 0


# == Ticket times, renewal, the wrong kind of ticket (RFC 4120 §3.2.3, §3.3.3) ==============


def test_expired_service_ticket_is_tkt_expired(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """A captured ticket used after its end time (plus the skew): refused."""
    verifier = make_verifier(core, clock)
    clock.now = service_cred.endtime + 301
    token = ap_token(service_cred, clock.now)
    assert refused(verifier.verify, token, "GET", "/notes").name == "KRB_AP_ERR_TKT_EXPIRED"
    assert cache_size(verifier.replay_cache) == 0


def test_ticket_not_yet_valid_is_tkt_nyv(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """A ticket presented before its start time (minus the skew): KRB_AP_ERR_TKT_NYV."""
    verifier = make_verifier(core, clock)
    clock.now = service_cred.starttime - 301
    token = ap_token(service_cred, clock.now)
    assert refused(verifier.verify, token, "GET", "/notes").name == "KRB_AP_ERR_TKT_NYV"
    assert cache_size(verifier.replay_cache) == 0


def _renewable_tgt(core: CoreRealm, alice: Principal, alice_key: Key) -> Credential:
    """Alice's TGT: 1 h life, renewable until T0 + 1.5 h; renewed at T0 + 50 min, so its end
    time reaches its renew-till."""
    tgt = core.login(alice, alice_key, T0, lifetime=3600, renewable_life=5400)
    body = KDCReqBody(server=core.tgs, nonce=7, till=0, options=["renew"])
    request = make_tgs_req(tgt, core.tgs, T0 + 3000, os.urandom, body)
    return read_tgs_rep(core.tgs_exchange(request, T0 + 3000), request, T0 + 3000)


def test_renewal_past_renew_till_is_tkt_expired(
    core: CoreRealm, alice: Principal, alice_key: Key
) -> None:
    """Renewing after renew-till (still within the skew of the end time): refused."""
    tgt = _renewable_tgt(core, alice, alice_key)
    assert tgt.renew_till is not None and tgt.endtime == tgt.renew_till
    now = tgt.renew_till + 100
    body = KDCReqBody(server=core.tgs, nonce=8, till=0, options=["renew"])
    request = make_tgs_req(tgt, core.tgs, now, os.urandom, body)
    size = len(core.replay)
    assert refused(core.tgs_exchange, request, now).name == "KRB_AP_ERR_TKT_EXPIRED"
    assert len(core.replay) == size


def test_renewal_never_extends_past_renew_till(
    core: CoreRealm, alice: Principal, alice_key: Key
) -> None:
    """Renewal gives the same life again but is cut at renew-till (RFC 4120 §3.3.3.1)."""
    tgt = _renewable_tgt(core, alice, alice_key)
    assert tgt.endtime == int(T0) + 5400 < int(T0) + 3000 + 3600


def test_tgt_offered_to_a_service_is_not_us(core: CoreRealm, tgt: Credential, clock: Clock) -> None:
    """A TGT sent to a service as if it were a service ticket."""
    verifier = make_verifier(core, clock)
    error = refused(verifier.verify, ap_token(tgt, T0), "GET", "/notes")
    assert error.name == "KRB_AP_ERR_NOT_US"
    assert cache_size(verifier.replay_cache) == 0


def test_service_ticket_offered_as_a_tgt_is_not_us(
    core: CoreRealm, service_cred: Credential, http: Principal
) -> None:
    """A service ticket sent to the TGS as if it were a TGT."""
    body = KDCReqBody(server=http, nonce=9, till=0)
    request = make_tgs_req(service_cred, http, T0, os.urandom, body)
    size = len(core.replay)
    assert refused(core.tgs_exchange, request, T0).name == "KRB_AP_ERR_NOT_US"
    assert len(core.replay) == size


def test_ticket_for_service_a_offered_to_service_b_is_not_us(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """A ticket for HTTP/web presented to HTTP/other (which does not hold HTTP/web's key)."""
    verifier = make_verifier(core, clock, names=("HTTP/other",))
    error = refused(verifier.verify, ap_token(service_cred, T0), "GET", "/notes")
    assert error.name == "KRB_AP_ERR_NOT_US"
    assert cache_size(verifier.replay_cache) == 0


def test_ticket_for_another_principal_of_the_same_keytab_is_not_us(
    core: CoreRealm, alice: Principal, alice_key: Key, tmp_path: Path
) -> None:
    """A keytab holding HTTP/<host name> and HTTP/other: the service is HTTP/<host name>
    by default, so a ticket for HTTP/other is refused; accepted only when the service is
    told to accept every principal of its keytab."""
    from service_lib import VerifierSettings

    host = core.add_service(f"HTTP/{socket.gethostname().lower()}")
    keytab = tmp_path / "http.keytab"
    names = (str(host).split("@")[0], "HTTP/other")
    write_private(keytab, service_keytab(core, *names).to_bytes())
    settings = VerifierSettings(keytab=str(keytab), replay_cache="memory")
    verifier = Verifier.from_settings(settings)
    anyone = Verifier.from_settings(
        msgspec.structs.replace(settings, accept_any_keytab_principal=True)
    )
    now = time.time()
    tgt = core.login(alice, alice_key, now)
    other = core.service_ticket(tgt, core.principal("HTTP/other"), now)
    error = refused(verifier.verify, ap_token(other, now), "GET", "/notes")
    assert error.name == "KRB_AP_ERR_NOT_US"
    assert cache_size(verifier.replay_cache) == 0
    mine = core.service_ticket(tgt, host, now)
    assert verifier.verify(ap_token(mine, now), "GET", "/notes").service == host
    assert anyone.verify(ap_token(other, now), "GET", "/notes").name == f"alice@{core.name}"


def test_disabled_client_cannot_use_its_tgt(
    core: CoreRealm, tgt: Credential, alice: Principal, http: Principal
) -> None:
    """A TGT of a client disabled since it was issued: KDC_ERR_CLIENT_REVOKED."""
    core.change(alice, allow_tickets=False)
    size = len(core.replay)
    request = make_tgs_req(tgt, http, T0, os.urandom)
    assert refused(core.tgs_exchange, request, T0).name == "KDC_ERR_CLIENT_REVOKED"
    assert len(core.replay) == size


# == Cross-realm names (RFC 4120 §1.2: no cross-realm trust is configured) ==================


def test_client_of_another_realm_is_wrong_realm(core: CoreRealm, alice_key: Key) -> None:
    """An AS-REQ naming a client of another realm."""
    stranger = Principal.parse("alice@OTHER.TEST")
    error = refused(core.as_exchange, core.as_req(stranger, alice_key, T0), T0)
    assert error.name == "KDC_ERR_WRONG_REALM"


def test_tgt_of_another_realm_is_wrong_realm(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    """A TGT labelled for another realm's TGS (a cross-realm TGT no trust exists for)."""
    foreign = with_ticket(tgt, server=Principal.parse("krbtgt/OTHER.TEST@EX.TEST"))
    request = make_tgs_req(foreign, http, T0, os.urandom)
    size = len(core.replay)
    assert refused(core.tgs_exchange, request, T0).name == "KDC_ERR_WRONG_REALM"
    assert len(core.replay) == size


def test_authenticator_naming_a_client_of_another_realm_is_badmatch(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """The ticket's holder writes an authenticator claiming to be alice of another realm."""
    claimed = msgspec.structs.replace(service_cred, client=Principal.parse("alice@OTHER.TEST"))
    verifier = make_verifier(core, clock)
    error = refused(verifier.verify, ap_token(claimed, T0), "GET", "/notes")
    assert error.name == "KRB_AP_ERR_BADMATCH"
    assert cache_size(verifier.replay_cache) == 0


def test_service_of_another_realm_is_not_issued(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    """A service ticket for a service of another realm, even one the database somehow holds."""
    foreign = Principal.parse("HTTP/web@OTHER.TEST")
    core.entries[foreign] = dataclasses.replace(core.entries[http], principal=foreign)
    request = make_tgs_req(tgt, foreign, T0, os.urandom)
    size = len(core.replay)
    assert refused(core.tgs_exchange, request, T0).name == "KDC_ERR_S_PRINCIPAL_UNKNOWN"
    assert len(core.replay) == size


# == AS-REP roasting, forged KDC replies, mutual authentication =============================


def test_as_rep_roasting_gets_nothing_without_preauth(core: CoreRealm, alice: Principal) -> None:
    """AS-REP roasting: ask for a TGT without pre-authentication and crack the reply part
    (sealed under the user's key) offline. Refused unless the principal is configured
    without pre-authentication (carol here), as an administrator must choose explicitly."""
    error = refused(core.as_exchange, core.as_req(alice, None, T0), T0)
    assert error.name == "KDC_ERR_PREAUTH_REQUIRED"
    assert set(error.data) == {"kvno", "kdf"}  # salt and costs only: nothing sealed
    carol = core.principal("carol")
    assert core.as_exchange(core.as_req(carol, None, T0), T0).client == carol


def test_user_roasting_through_the_tgs_is_must_use_user2user(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    """User roasting: alice asks the TGS for a ticket to bob, a user. It would be sealed
    under bob's password-derived key: a ciphertext to guess his password against offline,
    with no lockout. Refused, nothing stored, until an administrator allows bob as a server
    (allow_svr, as MIT's); refused again when that is undone. Random-key services: issued."""
    bob = core.principal("bob")
    for now, allowed in ((T0, False), (T0 + 1, True), (T0 + 2, False)):
        core.change(bob, allow_svr=allowed)
        request = make_tgs_req(tgt, bob, now, os.urandom)
        size = len(core.replay)
        if allowed:
            assert read_tgs_rep(core.tgs_exchange(request, now), request, now).server == bob
            continue
        error = refused(core.tgs_exchange, request, now)
        assert error.name == "KDC_ERR_MUST_USE_USER2USER"
        assert error.code == 27 and error.http_status == 403
        assert f"orthrus-kdc modprinc --allow-svr {bob}" in error.message
        assert len(core.replay) == size
        assert core.service_ticket(tgt, http, now).server == http


def test_user_roasting_through_the_as_is_must_use_user2user(
    core: CoreRealm, alice: Principal, alice_key: Key
) -> None:
    """The same ticket asked of the AS: alice logs in naming bob as the server (the AS seals
    the ticket under the server's key as the TGS does). Refused as by the TGS."""
    bob = core.principal("bob")
    error = refused(core.as_exchange, core.as_req(alice, alice_key, T0, server=bob), T0)
    assert error.name == "KDC_ERR_MUST_USE_USER2USER"
    core.change(bob, allow_svr=True)
    assert core.as_exchange(core.as_req(alice, alice_key, T0, server=bob), T0).ticket.server == bob


def test_forged_kdc_reply_with_another_nonce_is_modified(
    core: CoreRealm, alice: Principal, alice_key: Key
) -> None:
    """A genuine but older AS-REP replayed to the client for its new request."""
    old = core.as_req(alice, alice_key, T0)
    old_rep = core.as_exchange(old, T0)
    new = core.as_req(alice, alice_key, T0 + 10)
    error = refused(read_as_rep, old_rep, new, alice_key, T0 + 10)
    assert error.name == "KRB_AP_ERR_MODIFIED"
    assert "another nonce" in error.message


def test_forged_kdc_reply_for_another_server_is_modified(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    """A TGS-REP for another service (same nonce) handed to a client that asked for HTTP/web:
    it would send its requests to the wrong service."""
    request = make_tgs_req(tgt, http, T0, os.urandom)
    other = core.principal("HTTP/other")
    body = msgspec.structs.replace(request.message.body, server=other)
    decoy = make_tgs_req(tgt, other, T0, os.urandom, body)
    rep = core.tgs_exchange(decoy, T0)
    redirected = dataclasses.replace(decoy, message=request.message)
    error = refused(read_tgs_rep, rep, redirected, T0)
    assert error.name == "KRB_AP_ERR_MODIFIED"
    assert "names server" in error.message


def test_mutual_authentication_reply_replayed_from_another_exchange_is_mut_fail(
    core: CoreRealm, service_cred: Credential, http: Principal
) -> None:
    """An impostor service replays the AP-REP it saw for an earlier request of the same
    ticket: it answers another authenticator (RFC 4120 §3.2.5)."""
    keys = {1: core.key_of(http)}
    rules = APRules(replay_cache=MemoryReplayCache())
    first, _ = make_ap_req(service_cred, T0, os.urandom, AuthenticatorFields(mutual=True))
    seen = make_ap_rep(verify_ap_req(first, lambda p: keys, T0, rules), os.urandom)
    _, sent = make_ap_req(service_cred, T0 + 1, os.urandom, AuthenticatorFields(mutual=True))
    error = refused(read_ap_rep, seen, service_cred.session_key, sent)
    assert error.name == "KRB_AP_ERR_MUT_FAIL"


# == Password change (RFC 3244), KRB-PRIV (RFC 4120 §3.5) ===================================


def _changepw(core: CoreRealm) -> Principal:
    return core.add_service("kadmin/changepw")


def test_password_change_with_a_ticket_from_the_tgs_is_policy(
    core: CoreRealm, tgt: Credential
) -> None:
    """A stolen TGT used to change the victim's password: the change needs an initial
    ticket (the current password just proven), not one obtained from the TGS."""
    changepw = _changepw(core)
    ticket = core.service_ticket(tgt, changepw, T0)
    req, _ = make_kpasswd_req(ticket, "hijacked-pass", T0, os.urandom)
    changed: list[str] = []
    keys = {1: core.key_of(changepw)}
    rules = APRules(replay_cache=MemoryReplayCache())

    def change(principal: Principal, password: str) -> int:
        changed.append(password)
        return 2

    error = refused(handle_kpasswd_req, req, lambda p: keys, rules, T0, change, os.urandom)
    assert error.name == "KDC_ERR_POLICY"
    assert changed == []


def test_password_change_replayed_is_repeat(
    core: CoreRealm, alice: Principal, alice_key: Key
) -> None:
    """A captured password change replayed (to set the password back after the user changed
    it again): refused by the replay cache; the password changed once."""
    changepw = _changepw(core)
    req = core.as_req(alice, alice_key, T0, server=changepw)
    ticket = read_as_rep(core.as_exchange(req, T0), req, alice_key, T0)
    message, _ = make_kpasswd_req(ticket, "new-pass-1234", T0, os.urandom)
    changed: list[str] = []
    keys = {1: core.key_of(changepw)}
    rules = APRules(replay_cache=MemoryReplayCache())

    def change(principal: Principal, password: str) -> int:
        changed.append(password)
        return 2

    handle_kpasswd_req(message, lambda p: keys, rules, T0, change, os.urandom)
    error = refused(handle_kpasswd_req, message, lambda p: keys, rules, T0, change, os.urandom)
    assert error.name == "KRB_AP_ERR_REPEAT"
    assert changed == ["new-pass-1234"]


def test_krb_priv_reflected_to_its_sender_is_baddirection() -> None:
    """A sealed message sent back to the side that sealed it (reflection)."""
    client = PrivChannel.initiator(os.urandom)
    message = client.seal(b"pay 100", T0, os.urandom)
    assert refused(client.open, message, T0).name == "KRB_AP_ERR_BADDIRECTION"


def test_krb_priv_replayed_within_its_channel_is_repeat() -> None:
    """The same sealed message delivered twice: the second is a replay; the channel holds."""
    client = PrivChannel.initiator(os.urandom)
    service = PrivChannel.acceptor(client.key, client.initial_seq)
    message = client.seal(b"pay 100", T0, os.urandom)
    assert service.open(message, T0) == b"pay 100"
    assert refused(service.open, message, T0).name == "KRB_AP_ERR_REPEAT"
    following = client.seal(b"pay 5", T0, os.urandom)
    assert service.open(following, T0) == b"pay 5"


# == The KDC over HTTP (in-process): enumeration, lockout, limits, names ====================


def as_req(
    name: str, key: Key | None = None, now: float | None = None, server: str | None = None
) -> ASReq:
    options = ASOptions(server=Principal.parse(server) if server else None)
    return make_as_req(Principal.parse(name), now or time.time(), os.urandom, options, key)


def hint_of(kdc: KDC, name: str) -> dict[str, Any]:
    """The PREAUTH_REQUIRED error for ``name`` (the answer to a request without padata)."""
    error = error_of(kdc.post("/v1/as", as_req(name)), 401)
    assert error["name"] == "KDC_ERR_PREAUTH_REQUIRED", error
    return error


def key_from(hint: dict[str, Any], password: str, name: str) -> Key:
    params = msgspec.convert(hint["data"]["kdf"], KDFParams)
    return string_to_key(password, Principal.parse(name), params, hint["data"]["kvno"])


def wrong_guess(kdc: KDC, name: str, key: Key) -> dict[str, Any]:
    answer = kdc.post("/v1/as", as_req(name, key))
    return error_of(answer, answer.status_code)


def test_user_enumeration_unknown_and_known_clients_get_the_same_answers(
    kdc_realm: Realm,
) -> None:
    """User enumeration: with hide_unknown_principals, an unknown name gets what a real user
    gets: PREAUTH_REQUIRED with a salt that is stable across probes, then PREAUTH_FAILED."""
    kdc = KDC(kdc_realm, hide_unknown_principals=True)
    before = sqlite_snapshot(kdc.db)
    known, unknown = f"alice@{REALM}", f"mallory@{REALM}"
    hints = {name: hint_of(kdc, name) for name in (known, unknown)}
    assert hint_of(kdc, unknown) == hints[unknown]  # the same salt every time
    assert hint_of(kdc, f"eve@{REALM}")["data"]["kdf"]["salt"] != hints[unknown]["data"]["kdf"]
    shape = {n: (h["data"].keys(), h["data"]["kdf"].keys()) for n, h in hints.items()}
    assert shape[known] == shape[unknown]
    assert hints[unknown]["message"] == hints[known]["message"].replace(known, unknown)
    failed = {
        name: wrong_guess(kdc, name, key_from(hints[name], "guess-1", name)) for name in hints
    }
    assert {e["name"] for e in failed.values()} == {"KDC_ERR_PREAUTH_FAILED"}
    assert failed[unknown]["message"] == failed[known]["message"].replace(known, unknown)
    assert sqlite_snapshot(kdc.db) == before


def stable_fields(answer: Any, name: str) -> dict[str, Any]:
    """Every field of an AS answer that is the same from one request to the next (all but
    ``X-Request-Id``), with the client's ``name`` and its salt (stable per name) replaced by
    placeholders: what must not tell one name from another."""
    text = answer.get_data(as_text=True)
    assert int(answer.headers["Content-Length"]) == len(answer.get_data())
    salt = answer.get_json().get("error", {}).get("data", {}).get("kdf", {}).get("salt")
    if salt:
        text = text.replace(salt, f"<salt of {len(salt)} characters>")
    text = text.replace(name, "<name>")
    return {
        "status": answer.status_code,
        "headers": {k: v for k, v in answer.headers.items() if k != "X-Request-Id"}
        | {"Content-Length": len(text)},  # checked above; here the placeholders' length
        "body": json.loads(text),
    }


def test_user_enumeration_answers_match_in_every_field_for_users_unknown_names_and_services(
    kdc_realm: Realm,
) -> None:
    """User enumeration, every field: with hide_unknown_principals a user, a name nobody has
    and a random-key service answer alike (status, headers, code, message, kvno, every KDF
    parameter, a salt of the same size and stable per name), without pre-authentication and
    with a wrong key. A service's KDC_ERR_PREAUTH_REQUIRED had no ``kdf``, unlike the others:
    it told services apart from users and from names nobody has."""
    kdc = KDC(kdc_realm, hide_unknown_principals=True)
    before = sqlite_snapshot(kdc.db)
    names = (f"alice@{REALM}", f"mallory@{REALM}", HTTP_NAME)
    hints = {name: hint_of(kdc, name) for name in names}
    fields = {}
    for name in names:
        assert hint_of(kdc, name)["data"] == hints[name]["data"]  # the same salt every time
        wrong = as_req(name, key_from(hints[name], "guess-4", name))
        answers = (kdc.post("/v1/as", as_req(name)), kdc.post("/v1/as", wrong))
        fields[name] = [stable_fields(answer, name) for answer in answers]
    assert fields[names[0]] == fields[names[1]] == fields[names[2]], fields
    errors = [f["body"]["error"]["name"] for f in fields[names[0]]]
    assert errors == ["KDC_ERR_PREAUTH_REQUIRED", "KDC_ERR_PREAUTH_FAILED"]
    assert sqlite_snapshot(kdc.db) == before


def kerberos_as(runner: ExchangeRunner, name: str, key: KeyBlock | None = None) -> der.KRBError:
    """The KDC's KRB-ERROR to a DER AS-REQ for ``name`` (Kerberos wire, as over UDP)."""
    request = krb_as_request(
        Principal.parse(name), krbtgt(REALM), (20, 18), time.time(), os.urandom, key
    )
    arrival = Arrival("udp", "10.9.8.7", None, time.perf_counter(), time.time())
    reply = runner.run_kerberos(request.encode(), arrival)
    assert reply is not None
    return der.decode_krb_error(reply)


def etype_info(error: der.KRBError) -> der.ETypeInfo2Entry:
    assert error.e_data is not None
    hint = der.find_padata(der.decode_method_data(error.e_data), der.PA_ETYPE_INFO2)
    assert hint is not None
    (entry,) = der.decode_etype_info2(hint.value)
    return entry


def test_user_enumeration_over_the_kerberos_wire_gets_the_same_answers(
    kdc_realm: Realm,
) -> None:
    """User enumeration with MIT's kinit: with hide_unknown_principals, a user, a name nobody
    has and a random-key service get the same KRB-ERRORs on the Kerberos wire too: PREAUTH_
    REQUIRED with PA-ETYPE-INFO2 (the salt a user of that name has, the realm's PBKDF2
    count), then PREAUTH_FAILED for a wrong key; nothing in the database changes."""
    settings = msgspec.structs.replace(
        load_settings(kdc_realm.directory, env={}), hide_unknown_principals=True
    )
    store = Store.open(settings)
    app = create_app(settings, store, make_backends(settings), kerberos=kerberos_answer)
    runner: ExchangeRunner = app.extensions[RUNNER]
    before = sqlite_snapshot(kdc_realm.directory / "principal.db")
    seen = {}
    for name in (f"alice@{REALM}", f"mallory@{REALM}", HTTP_NAME):
        required = kerberos_as(runner, name)
        info = etype_info(required)
        principal = Principal.parse(name)
        assert info.salt == principal.realm + "".join(principal.components)
        key = enctype(info.etype).string_to_key("guess-6", info.salt.encode(), info.s2kparams)
        failed = kerberos_as(runner, name, key)
        seen[name] = [
            (e.error_code, (e.e_text or "").replace(name, "<name>"), e.e_data is not None)
            for e in (required, failed)
        ] + [(info.etype, info.s2kparams)]
    assert len({repr(v) for v in seen.values()}) == 1, seen
    assert [code for code, _, _ in seen[HTTP_NAME][:2]] == [25, 24]
    assert sqlite_snapshot(kdc_realm.directory / "principal.db") == before
    store._engine.dispose()


def test_service_enumeration_by_as_server_name_is_preauth_required(kdc_realm: Realm) -> None:
    """Service enumeration through the AS: a server nobody has got KDC_ERR_S_PRINCIPAL_UNKNOWN
    before any authentication. Hidden, it gets what an existing server gets, byte for byte
    (PREAUTH_REQUIRED, then PREAUTH_FAILED for a wrong key), for a real client and for a
    name nobody has; only a client that proves its key learns the server is unknown."""
    kdc = KDC(kdc_realm, hide_unknown_principals=True)
    before = sqlite_snapshot(kdc.db)
    servers = (HTTP_NAME, f"HTTP/elsewhere@{REALM}")  # same length as HTTP/localhost
    for client in (f"alice@{REALM}", f"mallory@{REALM}"):
        wrong = key_from(hint_of(kdc, client), "guess-5", client)
        fields = [
            [
                stable_fields(kdc.post("/v1/as", as_req(client, key, server=server)), client)
                for key in (None, wrong)
            ]
            for server in servers
        ]
        assert fields[0] == fields[1], fields
        errors = [f["body"]["error"]["name"] for f in fields[0]]
        assert errors == ["KDC_ERR_PREAUTH_REQUIRED", "KDC_ERR_PREAUTH_FAILED"], client
    right = key_from(hint_of(kdc, f"alice@{REALM}"), ALICE_PASS, f"alice@{REALM}")
    issued = kdc.post("/v1/as", as_req(f"alice@{REALM}", right, server=servers[0]))
    assert issued.status_code == 200, issued.get_data()
    refused_ = kdc.post("/v1/as", as_req(f"alice@{REALM}", right, server=servers[1]))
    assert error_of(refused_, 404)["name"] == "KDC_ERR_S_PRINCIPAL_UNKNOWN"
    # A user asked for as the server (user roasting through the AS): refused as a name nobody
    # has, and, like it, only once the client proved its key.
    user = f"bob@{REALM}"
    unproved = kdc.post("/v1/as", as_req(f"alice@{REALM}", server=user))
    assert error_of(unproved, 401)["name"] == "KDC_ERR_PREAUTH_REQUIRED"
    roasted = kdc.post("/v1/as", as_req(f"alice@{REALM}", right, server=user))
    assert error_of(roasted, 404)["name"] == "KDC_ERR_S_PRINCIPAL_UNKNOWN"
    assert sqlite_snapshot(kdc.db) == before


def test_user_enumeration_by_timing_sees_no_difference(kdc_realm: Realm) -> None:
    """The same probes timed: an unknown name runs the same code as a real user (a decoy
    principal), so a wrong password costs the same for both (medians within 2x)."""
    kdc = KDC(kdc_realm, hide_unknown_principals=True, lockout_attempts=0)
    names = (f"alice@{REALM}", f"mallory@{REALM}")
    keys = {name: key_from(hint_of(kdc, name), "guess-2", name) for name in names}
    timings: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(40):
        for name in names:
            body = codec.encode(as_req(name, keys[name]))
            started = time.perf_counter()
            answer = kdc.post("/v1/as", body)
            timings[name].append(time.perf_counter() - started)
            assert error_of(answer, 401)["name"] == "KDC_ERR_PREAUTH_FAILED"
    known, unknown = (statistics.median(timings[name]) for name in names)
    assert 0.5 < unknown / known < 2.0, (known, unknown)


def principals(store: Store) -> dict[str, dict[str, Any]]:
    """What ``getprinc`` shows of every principal (on any database)."""
    return {name: store.describe(Principal.parse(name)) for name in store.list_names()}


@contextlib.contextmanager
def realm_on(database: str, kdc_realm: Realm, tmp_path: Path) -> Iterator[Realm]:
    """The module's realm on SQLite, or the same principals on PostgreSQL (a new schema)."""
    if database != "postgresql":
        yield kdc_realm
        return
    url = os.environ.get("ORTHRUS_TEST_PG_URL")
    if not url:
        pytest.skip("ORTHRUS_TEST_PG_URL is not set (PostgreSQL)")
    from ops.ops_support import pg_schema

    with pg_schema("attacks") as db_url:
        yield make_realm(tmp_path / "kdc", "--db-url", db_url)


@pytest.mark.parametrize("database", ["sqlite", "postgresql", "unwatched"])
def test_user_enumeration_by_database_work_sees_no_difference(
    database: str, kdc_realm: Realm, tmp_path: Path
) -> None:
    """Timing through the database: with principals cached one name at a time, a name
    someone had used since the last commit was answered from memory, any other read from
    the database; and a name nobody has took fewer queries than one that exists. Hidden,
    an AS request makes the same database statements whatever its client: on SQLite and
    PostgreSQL, after a commit, the whole table once, then none; on a database no change
    detector watches (in-memory SQLite; no cache), the same queries for every name (the
    principal and its keys, its groups) at every request."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    with realm_on(database, kdc_realm, tmp_path) as realm:
        kdc = KDC(realm, hide_unknown_principals=True)
        if database == "unwatched":
            kdc.store.lookups._changes = None
        before = principals(kdc.store)

        def work(name: str) -> tuple[int, int]:
            """Statements of a first request after a commit, then of a second one."""
            kdc.store.modify(Principal.parse(f"bob@{REALM}"), PrincipalChanges())  # a commit
            done = []
            for _ in range(2):
                start = len(statements)
                assert error_of(kdc.post("/v1/as", as_req(name)), 401)["code"] == 25
                done.append(len(statements) - start)
            return done[0], done[1]

        names = (f"alice@{REALM}", f"mallory@{REALM}", HTTP_NAME, f"bob@{REALM}", f"eve@{REALM}")
        event.listen(Engine, "before_cursor_execute", count)
        try:
            work_done = {work(name) for name in names}
        finally:
            event.remove(Engine, "before_cursor_execute", count)
        assert work_done == {(4, 4) if database == "unwatched" else (2, 0)}
        after = principals(kdc.store)
        after[f"bob@{REALM}"]["modified"] = before[f"bob@{REALM}"]["modified"]  # the commits
        assert after == before
        kdc.store._engine.dispose()


def test_principal_deleted_through_another_kdc_on_postgresql_is_c_principal_unknown(
    kdc_realm: Realm, tmp_path: Path
) -> None:
    """A KDC's lookup cache on PostgreSQL must not outlive a change made elsewhere: a
    principal deleted (a compromised account removed) through another process is unknown to
    this KDC at its very next request, not served from memory until something else changes
    (the triggers NOTIFY, this KDC LISTENs: kdc/pg_changes.py)."""
    with realm_on("postgresql", kdc_realm, tmp_path) as realm:
        kdc = KDC(realm)
        bob = f"bob@{REALM}"
        assert error_of(kdc.post("/v1/as", as_req(bob)), 401)["code"] == 25  # bob is cached
        assert kdc.store.lookup(Principal.parse(bob)) is kdc.store.lookup(Principal.parse(bob))
        subprocess.run(
            [str(BIN / "orthrus-kdc"), "--dir", str(realm.directory), "delprinc", "--force", bob],
            check=True,
            capture_output=True,
            env=clean_env(),
            timeout=60,
        )
        before = principals(kdc.store)
        answer = error_of(kdc.post("/v1/as", as_req(bob)), 404)
        assert answer["name"] == "KDC_ERR_C_PRINCIPAL_UNKNOWN" and answer["code"] == 6
        assert principals(kdc.store) == before and bob not in before
        kdc.store._engine.dispose()


def test_user_enumeration_through_the_lockout_is_hidden(kdc_realm: Realm) -> None:
    """Counting failures until CLIENT_REVOKED would tell real names apart: decoys are
    locked out after the same number of wrong guesses."""
    kdc = KDC(kdc_realm, hide_unknown_principals=True, lockout_attempts=2)
    for name in (f"alice@{REALM}", f"mallory@{REALM}"):
        key = key_from(hint_of(kdc, name), "guess-3", name)
        answers = [wrong_guess(kdc, name, key)["name"] for _ in range(3)]
        assert answers == ["KDC_ERR_PREAUTH_FAILED"] * 2 + ["KDC_ERR_CLIENT_REVOKED"], name


def test_user_roasting_with_hidden_names_gets_what_an_unknown_name_gets(
    kdc_realm: Realm,
) -> None:
    """With hide_unknown_principals the refusal must not tell users from names nobody has
    (enumeration through the TGS): a ticket asked for bob and one for a name that does not
    exist get the same answer in every field, names aside; neither changes anything."""
    kdc = KDC(kdc_realm, hide_unknown_principals=True)
    name = f"alice@{REALM}"
    key = key_from(hint_of(kdc, name), ALICE_PASS, name)
    req = as_req(name, key)
    rep = codec.decode(kdc.post("/v1/as", req).get_data(), ASRep)
    tgt = read_as_rep(rep, req, key, time.time())
    before = sqlite_snapshot(kdc.db), cache_size(kdc.backends.replay_cache)
    answers = {}
    for server in (f"bob@{REALM}", f"nobody@{REALM}"):
        request = make_tgs_req(tgt, Principal.parse(server), time.time(), os.urandom)
        answer = kdc.post("/v1/tgs", request.message)
        answers[server] = (answer.status_code, answer.get_data(as_text=True).replace(server, "S"))
    (status, body), unknown = answers.values()
    assert (status, body) == unknown
    assert status == 404 and json.loads(body)["error"]["name"] == "KDC_ERR_S_PRINCIPAL_UNKNOWN"
    assert "--allow-svr" in body  # what to do, if the name is a user's
    assert (sqlite_snapshot(kdc.db), cache_size(kdc.backends.replay_cache)) == before


def test_lockout_cannot_be_bypassed_across_kdc_processes(tmp_path: Path, redis_client: Any) -> None:
    """Password guessing spread over two KDC processes (a load balancer in front): with
    Redis the failures are counted together, so the limit holds across processes; after
    it even the right password is refused until the lock ends."""
    realm = make_realm(tmp_path / "kdc")
    set_toml(realm, lockout_attempts=3)
    env = {"ORTHRUS_REDIS_URL": os.environ["ORTHRUS_TEST_REDIS_URL"]}
    env["ORTHRUS_REDIS_PREFIX"] = redis_client.prefix
    try:
        urls = [realm.serve(extra_env=env), realm.serve(extra_env=env)]
        name = f"bob@{REALM}"
        probe = httpx.post(f"{urls[0]}/v1/as", content=codec.encode(as_req(name)))
        hint = probe.json()["error"]
        wrong, right = key_from(hint, "not-bobs-pass", name), key_from(hint, BOB_PASS, name)
        answers = [
            httpx.post(f"{urls[i % 2]}/v1/as", content=codec.encode(as_req(name, wrong)))
            for i in range(3)
        ]
        assert [a.json()["error"]["name"] for a in answers] == ["KDC_ERR_PREAUTH_FAILED"] * 3
        for url in urls:
            answer = httpx.post(f"{url}/v1/as", content=codec.encode(as_req(name, right)))
            assert answer.json()["error"]["name"] == "KDC_ERR_CLIENT_REVOKED"
    finally:
        realm.stop_all()


def test_request_flood_from_one_address_is_429(kdc_realm: Realm) -> None:
    """A flood (or password spraying over many names) from one client address: past the
    rate limit the KDC answers 429 with Retry-After, before any exchange runs."""
    # Per day, not per minute: the windows are fixed (whole minutes), and a test whose third
    # and fourth requests fell on either side of a minute's end saw no 429.
    kdc = KDC(kdc_realm, rate_limit="3/day", rate_limit_exempt="")
    before = sqlite_snapshot(kdc.db)
    for name in ("alice", "bob", "carol"):
        assert kdc.post("/v1/as", as_req(f"{name}@{REALM}")).status_code in (401, 404)
    answer = kdc.post("/v1/as", as_req(f"dave@{REALM}"))
    error = error_of(answer, 429)
    assert error["name"] == "KRB_ERR_GENERIC" and "too many requests" in error["message"]
    assert int(answer.headers["Retry-After"]) >= 1
    assert kdc.client.get("/livez").status_code == 200  # only /v1/* is limited
    assert sqlite_snapshot(kdc.db) == before


def test_request_flood_spread_over_kdc_processes_is_429(tmp_path: Path, redis_client: Any) -> None:
    """A flood spread over two KDC processes (a load balancer in front): with Redis the
    requests are counted together, so one address gets its limit once, not once per process."""
    realm = make_realm(tmp_path / "kdc")
    set_toml(realm, rate_limit="3/day", rate_limit_exempt="")  # a fixed window: as above
    env = {"ORTHRUS_REDIS_URL": os.environ["ORTHRUS_TEST_REDIS_URL"]}
    env["ORTHRUS_REDIS_PREFIX"] = redis_client.prefix
    try:
        urls = [realm.serve(extra_env=env), realm.serve(extra_env=env)]
        db = realm.directory / "principal.db"
        before = sqlite_snapshot(db)
        answers = [
            httpx.post(f"{urls[i % 2]}/v1/as", content=codec.encode(as_req(f"{name}@{REALM}")))
            for i, name in enumerate(("alice", "bob", "alice"))
        ]
        assert [a.status_code for a in answers] == [401, 401, 401]
        for url in urls:
            answer = httpx.post(f"{url}/v1/as", content=codec.encode(as_req(f"dave@{REALM}")))
            assert answer.status_code == 429, answer.text
            assert answer.json()["error"]["name"] == "KRB_ERR_GENERIC"
            assert int(answer.headers["Retry-After"]) >= 1
        counters = list(redis_client.scan_iter(f"*{redis_client.prefix}:*:ratelimit*"))
        assert counters, "the counters are not in Redis"
        assert sqlite_snapshot(db) == before
    finally:
        realm.stop_all()
        for key in redis_client.scan_iter(f"*{redis_client.prefix}*"):
            redis_client.delete(key)


def test_oversized_request_is_413_field_toolong(kdc_realm: Realm) -> None:
    """A body over max_request_bytes is refused before it is decoded."""
    kdc = KDC(kdc_realm, max_request_bytes=4096)
    before = sqlite_snapshot(kdc.db)
    body = b'{"type":"AS-REQ","client":"alice@EXAMPLE.TEST","x":"' + b"a" * 8192 + b'"}'
    assert error_of(kdc.post("/v1/as", body), 413)["name"] == "KRB_ERR_FIELD_TOOLONG"
    assert sqlite_snapshot(kdc.db) == before


def test_deeply_nested_json_is_generic_error_not_500(kdc: KDC) -> None:
    """JSON nested 30 000 deep (the parser's recursion as a weapon): in the request, and in
    the protected header of the pre-authentication JWE, which is plain JSON."""
    before = sqlite_snapshot(kdc.db)
    nested = b"[" * 30000 + b"]" * 30000
    body = b'{"type":"AS-REQ","client":"alice@EXAMPLE.TEST","body":' + nested + b"}"
    assert error_of(kdc.post("/v1/as", body), 400)["name"] == "KRB_ERR_GENERIC"
    header = b64u_encode(b"[" * 5000 + b"]" * 5000)
    stamp = f"{header}..{b64u_encode(bytes(12))}.{b64u_encode(b'x')}.{b64u_encode(bytes(16))}"
    req = msgspec.structs.replace(as_req(f"alice@{REALM}"), padata=[PAData("enc-timestamp", stamp)])
    assert error_of(kdc.post("/v1/as", req), 401)["name"] == "KDC_ERR_PREAUTH_FAILED"
    assert sqlite_snapshot(kdc.db) == before


def test_too_many_items_is_generic_error(kdc: KDC) -> None:
    """Lists longer than the protocol needs (5 padata, 50 options) are refused outright."""
    before = sqlite_snapshot(kdc.db)
    req = as_req(f"alice@{REALM}")
    many = msgspec.structs.replace(req, padata=[PAData("enc-timestamp", "x.y")] * 5)
    assert error_of(kdc.post("/v1/as", many), 400)["name"] == "KRB_ERR_GENERIC"
    body = codec.encode(req).replace(
        b'"till":0', b'"till":0,"options":' + b'["renewable"' + b',"renewable"' * 49 + b"]"
    )
    assert error_of(kdc.post("/v1/as", body), 400)["name"] == "KRB_ERR_GENERIC"
    assert sqlite_snapshot(kdc.db) == before


def test_huge_headers_are_refused_and_the_kdc_still_answers(served_kdc: str) -> None:
    """A 20 KiB header field, 150 header fields, an 8 KiB request line, sent to ``/livez``
    (200 otherwise), also on a kept-alive connection: the server refuses them (4xx) before
    the app, and keeps answering."""
    for extra in (
        {"X-Big": "a" * 20000},
        {f"X-Field-{i}": "v" for i in range(150)},
    ):
        with httpx.Client(timeout=10) as kept_alive:
            assert kept_alive.get(f"{served_kdc}/livez").status_code == 200
            answer = kept_alive.get(f"{served_kdc}/livez", headers=extra)
            assert 400 <= answer.status_code < 500, answer.status_code
    long_line = httpx.get(f"{served_kdc}/livez?{'q' * 8192}", timeout=10)
    assert 400 <= long_line.status_code < 500
    assert httpx.get(f"{served_kdc}/livez", timeout=10).status_code == 200


def test_oversized_ticket_token_at_a_service_is_field_toolong(
    core: CoreRealm, clock: Clock
) -> None:
    """An ``Authorization: Ticket`` token over 32 KiB: refused before it is decoded."""
    verifier = make_verifier(core, clock)
    error = refused(verifier.verify, "A" * (40 * 1024), "GET", "/notes")
    assert error.name == "KRB_ERR_FIELD_TOOLONG"
    assert cache_size(verifier.replay_cache) == 0


CONFUSABLES = [
    "\u0430lice@EXAMPLE.TEST",  # Cyrillic a
    "alice@EXAMPLE.T\u0415ST",  # Cyrillic E in the realm
    "\uff41lice@EXAMPLE.TEST",  # fullwidth a (NFKC folds it to "a")
    "ali\u200bce@EXAMPLE.TEST",  # zero-width space
    "alice\u202e@EXAMPLE.TEST",  # right-to-left override
    "al\u0131ce@EXAMPLE.TEST",  # dotless i
    "alice@EXAMPLE.TEST\u0000",  # NUL
    "K\u212aalice@EXAMPLE.TEST",  # Kelvin sign (case-folds to k)
]


def test_unicode_confusables_in_principal_names_are_refused(kdc: KDC) -> None:
    """Names that look like alice but are other code points: the name alphabet is narrow
    ASCII (RFC 4120 §6.2 leaves it to the realm), so none can stand for alice."""
    before = sqlite_snapshot(kdc.db)
    for name in CONFUSABLES:
        body = codec.encode(as_req(f"alice@{REALM}")).replace(
            b'"alice@EXAMPLE.TEST"', json.dumps(name).encode()
        )
        assert error_of(kdc.post("/v1/as", body), 400)["name"] == "KRB_ERR_GENERIC", name
    assert sqlite_snapshot(kdc.db) == before


def test_case_tricks_in_principal_names_do_not_reach_the_principal(kdc: KDC) -> None:
    """``ALICE`` is not ``alice`` (names are case-sensitive, as in MIT Kerberos), a realm
    is upper-case, and padded or dotted variants are refused."""
    before = sqlite_snapshot(kdc.db)
    answer = kdc.post("/v1/as", as_req(f"ALICE@{REALM}"))
    assert error_of(answer, 404)["name"] == "KDC_ERR_C_PRINCIPAL_UNKNOWN"
    for name in (
        "alice@example.test",
        " alice@EXAMPLE.TEST",
        "alice@EXAMPLE.TEST.",
        "alice/@EXAMPLE.TEST",
    ):
        body = codec.encode(as_req(f"alice@{REALM}")).replace(
            b'"alice@EXAMPLE.TEST"', json.dumps(name).encode()
        )
        assert error_of(kdc.post("/v1/as", body), 400)["name"] == "KRB_ERR_GENERIC", name
    assert sqlite_snapshot(kdc.db) == before


# == A fake KDC: Argon2id costs and salts it chooses (issue 12 §2) =========================

#: What an honest KDC offers by default.
HONEST_KDF = {
    "iterations": DEFAULT_ITERATIONS,
    "memory_kib": DEFAULT_MEMORY_KIB,
    "lanes": DEFAULT_LANES,
}
#: What a fake KDC offered in issue 12: 1,000 offline guesses in 1.4 s, one salt for all.
WEAK_KDF = {"iterations": 1, "memory_kib": 1024, "lanes": 1}
#: What exhausted the client in issue 12: one kinit took 44 s and 1.1 GB.
HUGE_KDF = {"iterations": 16, "memory_kib": 1024 * 1024, "lanes": 16}
#: One random salt part for every victim.
SHARED_SALT = base64.b64encode(b"one salt for all victims, fixed").decode()


def fake_kdc_client(url: str, tmp_path: Path) -> Client:
    return Client(ClientSettings(kdc_url=url, ccache=str(tmp_path / "ccache")))


def timestamps(seen: list[Any]) -> list[str]:
    """The encrypted timestamps the fake KDC received."""
    return [p["value"] for body in seen for p in body.get("padata", [])]


def test_fake_kdc_offering_weak_argon2id_gets_no_timestamp_is_etype_nosupp(
    tmp_path: Path,
) -> None:
    """Issue 12 §2: a fake KDC answers PREAUTH_REQUIRED with t=1, m=1 MiB (or just under the
    default in one cost) to get an encrypted timestamp cheap to guess against offline.
    ``orthrus kinit`` refuses before deriving, names KDC spoofing, and sends nothing more."""
    from support import BIN, clean_env

    with fake_kdc(WEAK_KDF, SHARED_SALT) as (url, seen):
        env = clean_env(ORTHRUS_KDC_URL=url, ORTHRUS_CCACHE=str(tmp_path / "ccache"))
        result = subprocess.run(
            [str(BIN / "orthrus"), "kinit", f"alice@{REALM}"],
            input="alice-pass\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 1, result.stderr
        assert "KDC_ERR_ETYPE_NOSUPP" in result.stderr
        assert "below this client's floor" in result.stderr
        assert "KDC spoofing" in result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        assert len(seen) == 1 and timestamps(seen) == []
        for weaker in (
            {"iterations": DEFAULT_ITERATIONS - 1},
            {"memory_kib": DEFAULT_MEMORY_KIB - 1},
        ):
            kdf = {**HONEST_KDF, **weaker}
            with fake_kdc(kdf, SHARED_SALT) as (other_url, other_seen):
                client = fake_kdc_client(other_url, tmp_path)
                error = refused(client.login, Principal.parse(f"alice@{REALM}"), "alice-pass")
                assert error.name == "KDC_ERR_ETYPE_NOSUPP", error
                assert len(other_seen) == 1 and timestamps(other_seen) == []
    assert not (tmp_path / "ccache").exists()


def test_fake_kdc_offering_huge_argon2id_is_refused_before_deriving_is_etype_nosupp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12 §2: t=16, m=1 GiB, p=16 made one kinit take 44 s and 1.1 GB. The client's
    ceiling refuses it (and each cost over it) before any derivation starts."""
    import client_lib.api

    derived: list[Any] = []
    monkeypatch.setattr(client_lib.api, "string_to_key", lambda *args: derived.append(args))
    over = (
        HUGE_KDF,
        {**HONEST_KDF, "iterations": 9},
        {**HONEST_KDF, "memory_kib": 256 * 1024 + 1},
        {**HONEST_KDF, "lanes": 9},
    )
    for kdf in over:
        with fake_kdc(kdf, SHARED_SALT) as (url, seen):
            client = fake_kdc_client(url, tmp_path)
            error = refused(client.login, Principal.parse(f"alice@{REALM}"), "alice-pass")
            assert error.name == "KDC_ERR_ETYPE_NOSUPP", error
            assert "above this client's ceiling" in error.message
            assert "KDC spoofing" in error.message
            assert len(seen) == 1 and timestamps(seen) == []
    assert derived == []
    assert not (tmp_path / "ccache").exists()


def test_fake_kdc_giving_every_victim_one_salt_still_gets_a_key_per_principal(
    tmp_path: Path,
) -> None:
    """Issue 12 §2: a fake KDC gives alice and bob the same salt, so that one table of
    guesses would serve for both. The client puts realm and name in front of the KDC's part
    (RFC 3962 §4's default salt), so their keys differ even with one password; each
    timestamp opens under its own principal's key only. The fake KDC's answer to both:
    KDC_ERR_PREAUTH_FAILED, and no ccache is written."""
    alice, bob = Principal.parse(f"alice@{REALM}"), Principal.parse(f"bob@{REALM}")
    params = KDFParams(base64.b64decode(SHARED_SALT))
    with fake_kdc(HONEST_KDF, SHARED_SALT) as (url, seen):
        client = fake_kdc_client(url, tmp_path)
        for name in (alice, bob):
            assert refused(client.login, name, "same-password").name == "KDC_ERR_PREAUTH_FAILED"
    sent = dict(zip((alice, bob), timestamps(seen), strict=True))
    keys = {name: string_to_key("same-password", name, params, 1) for name in (alice, bob)}
    assert keys[alice] != keys[bob]
    for name, other in ((alice, bob), (bob, alice)):
        open_sealed(keys[name], KeyUsage.AS_REQ_PA_ENC_TIMESTAMP, sent[name])
        with pytest.raises(ProtocolError):
            open_sealed(keys[other], KeyUsage.AS_REQ_PA_ENC_TIMESTAMP, sent[name])
    assert not (tmp_path / "ccache").exists()


# == Credential files: symlinks, permissions, owners ========================================


def _ccache_with_tgt(path: Path, core: CoreRealm, tgt: Credential) -> CredentialCache:
    cache = CredentialCache(path)
    cache.initialize(tgt.client, tgt)
    return cache


def test_ccache_that_is_a_symlink_is_refused(
    tmp_path: Path, core: CoreRealm, tgt: Credential
) -> None:
    """ORTHRUS_CCACHE pointed (by another user, in a shared /tmp) at a symlink to a cache
    of their choosing: refused, not followed."""
    real = _ccache_with_tgt(tmp_path / "planted", core, tgt)
    link = tmp_path / "ccache"
    link.symlink_to(real.path)
    with pytest.raises(ConfigError, match="symbolic link"):
        CredentialCache(link).credentials()


def test_group_or_world_accessible_credential_files_are_refused(
    tmp_path: Path, core: CoreRealm, tgt: Credential
) -> None:
    """A ccache or keytab another user can read or write (mode 0620, 0604...): refused."""
    cache = _ccache_with_tgt(tmp_path / "ccache", core, tgt)
    keytab = tmp_path / "http.keytab"
    write_private(keytab, service_keytab(core).to_bytes())
    for mode in (0o620, 0o640, 0o604, 0o602):
        for path, what in ((cache.path, "credentials cache"), (keytab, "keytab")):
            path.chmod(mode)
            with pytest.raises(ConfigError, match="open to other users"):
                read_private(path, what)
            path.chmod(0o600)
    assert CredentialCache(cache.path).credentials()[0].client == tgt.client


def test_ccache_lock_file_planted_by_another_user_is_refused(
    tmp_path: Path, core: CoreRealm, tgt: Credential
) -> None:
    """Writers of a cache hold a lock on ``CACHE.lock``. Whoever can open that file can hold
    the lock for ever and stop every write of the victim (a ``kinit --keep`` that can no
    longer renew): a lock file open to others, or (as root can show) another user's, is
    refused with one sentence, and the cache is left as it was."""
    cache = _ccache_with_tgt(tmp_path / "ccache", core, tgt)
    before = cache.path.read_bytes()
    cache.lock_path.chmod(0o666)
    cases = [("open to other users (mode 0666)", 0o666)]
    if os.geteuid() == 0:
        cases.append(("belongs to another user (uid 65534)", 0o600))
    for expected, mode in cases:
        cache.lock_path.chmod(mode)
        if "uid" in expected:
            os.chown(cache.lock_path, 65534, 65534)
        for write in (lambda: cache.initialize(tgt.client, tgt), lambda: cache.store(tgt)):
            with pytest.raises(ConfigError, match=re.escape(expected)):
                write()
        assert cache.path.read_bytes() == before


def test_ccache_written_through_a_planted_symlink_leaves_its_target_alone(
    tmp_path: Path, core: CoreRealm, tgt: Credential
) -> None:
    """An attacker plants the victim's cache path as a symlink to a file of the victim's
    (a symlink attack on a predictable /tmp name): writing the cache replaces the link, and
    the file it pointed to is untouched."""
    victim = tmp_path / "victim-file"
    victim.write_bytes(b"important")
    link = tmp_path / "ccache"
    link.symlink_to(victim)
    _ccache_with_tgt(link, core, tgt)
    assert victim.read_bytes() == b"important"
    assert not link.is_symlink() and stat.S_IMODE(link.stat().st_mode) == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_keytab_owned_by_another_user_is_refused(tmp_path: Path, core: CoreRealm) -> None:
    """A keytab (mode 0600) that belongs to another user: refused, whoever wrote it."""
    keytab = tmp_path / "http.keytab"
    write_private(keytab, service_keytab(core).to_bytes())
    os.chown(keytab, 65534, 65534)
    with pytest.raises(ConfigError, match="belongs to another user"):
        read_private(keytab, "keytab")


def orthrus_cli(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    """``orthrus ARGS`` as a subprocess with only the ORTHRUS_* settings given in ``env``."""
    from support import BIN, clean_env

    return subprocess.run(
        [str(BIN / "orthrus"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=clean_env(**env),
        timeout=60,
    )


def test_ccache_directory_planted_by_another_user_is_refused(tmp_path: Path, kdc_url: str) -> None:
    """Issue 12 §6: the default cache was /tmp/orthrus_cc_UID, a name another user could
    create first (to lock the victim out, or to read what lands in it). The default is now
    in a per-user directory, refused — one sentence, exit 1, nothing written — when it is
    open to others (mode 0777) or, as root can show, belongs to another user."""
    runtime = tmp_path / "run"
    planted = runtime / "orthrus"
    planted.mkdir(parents=True)
    planted.chmod(0o777)
    cases = [("open to other users (mode 0777)", "chmod 700")]
    if os.geteuid() == 0:
        cases.append(("belongs to another user (uid 65534)", "remove it"))
    for expected, advice in cases:
        if "uid" in expected:
            planted.chmod(0o700)
            os.chown(planted, 65534, 65534)
        for args in (["kinit", f"alice@{REALM}"], ["klist"], ["kdestroy"]):
            result = orthrus_cli(
                *args,
                stdin="alice-pass\n",
                ORTHRUS_KDC_URL=kdc_url,
                XDG_RUNTIME_DIR=str(runtime),
                HOME=str(tmp_path / "home"),
            )
            assert result.returncode == 1, (args, result.returncode, result.stderr)
            assert expected in result.stderr and advice in result.stderr, result.stderr
            assert "Traceback" not in result.stderr + result.stdout
            assert len(result.stderr.strip().splitlines()) == 1
        assert list(planted.iterdir()) == []


def test_kdestroy_through_a_planted_symlink_leaves_its_target_alone(tmp_path: Path) -> None:
    """Issue 12 §6: kdestroy checked the path for a link, then opened it, which follows
    links: a symlink swapped in between (639 tries with fs.protected_symlinks=0) made it
    zero another private file of the victim's. The cache is now opened with O_NOFOLLOW and
    checked once open: a link is refused with one sentence, its target and the link stay."""
    victim = tmp_path / "id_ed25519"
    victim.write_bytes(b"the victim's private key")
    victim.chmod(0o600)
    link = tmp_path / "ccache"
    link.symlink_to(victim)
    result = orthrus_cli("kdestroy", ORTHRUS_CCACHE=str(link))
    assert result.returncode == 1, result.stderr
    assert "is a symbolic link; refusing it" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert victim.read_bytes() == b"the victim's private key"
    assert link.is_symlink()


def test_notes_database_is_not_readable_by_other_users(
    tmp_path: Path, core: CoreRealm, clock: Clock
) -> None:
    """Issue 12 §6: service_demo created notes.sqlite 0644 (the umask's choice), so every
    local user could read everyone's notes. It is created 0600, and so are the WAL files
    SQLite makes beside it (they take the database's mode)."""
    from service_demo import DemoSettings
    from service_demo import create_app as create_demo

    keytab = tmp_path / "http.keytab"
    write_private(keytab, service_keytab(core).to_bytes())
    database = tmp_path / "notes.sqlite"
    old_umask = os.umask(0o022)
    try:
        settings = DemoSettings(keytab=str(keytab), db=str(database))
        create_demo(settings, make_verifier(core, clock)).test_client().get("/readyz")
    finally:
        os.umask(old_umask)
    files = [database, *tmp_path.glob("notes.sqlite-*")]
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in files} == {
        path.name: 0o600 for path in files
    }


def test_invalid_utf8_in_a_note_is_400_not_500(
    core: CoreRealm, service_cred: Credential, clock: Clock, tmp_path: Path
) -> None:
    """The same malformed UTF-8, in the body of an authenticated POST /notes of the demo
    service: its JSON decoder raised UnicodeDecodeError, a 500."""
    from service_demo import DemoSettings
    from service_demo import create_app as create_demo

    keytab = tmp_path / "http.keytab"
    write_private(keytab, service_keytab(core).to_bytes())
    settings = DemoSettings(keytab=str(keytab), db=str(tmp_path / "notes.sqlite"))
    demo = create_demo(settings, make_verifier(core, clock)).test_client()
    headers = {"Authorization": f"Ticket {ap_token(service_cred, T0, ('POST', '/notes'))}"}
    answer = demo.post(
        "/notes", data=b'{"text": "\xff"}', headers=headers, content_type="application/json"
    )
    assert error_of(answer, 400)["name"] == "KRB_ERR_GENERIC"
    assert sqlite3.connect(tmp_path / "notes.sqlite").execute(
        "SELECT count(*) FROM notes"
    ).fetchone() == (0,)


def test_secrets_never_reach_the_logs_the_audit_log_or_errors(
    kdc_realm: Realm, caplog: pytest.LogCaptureFixture
) -> None:
    """A login, a service ticket, a wrong password and a malformed request at the KDC: no
    password, key, session key, ticket or authenticator in any log line, the audit log, a
    file the KDC writes beside its database, or an error body (a log is read by more people
    than a key should be)."""
    kdc = KDC(kdc_realm)
    audit = kdc.settings.audit_log_path
    assert audit is not None
    audit_before = audit.read_bytes() if audit.exists() else b""
    caplog.set_level(logging.DEBUG)
    name = f"alice@{REALM}"
    hint = hint_of(kdc, name)
    key = key_from(hint, ALICE_PASS, name)
    req = as_req(name, key)
    answer = kdc.post("/v1/as", req)
    tgt = read_as_rep(codec.decode(answer.get_data(), ASRep), req, key, time.time())
    request = make_tgs_req(tgt, Principal.parse(HTTP_NAME), time.time(), os.urandom)
    service = kdc.post("/v1/tgs", request.message)
    assert service.status_code == 200
    bodies = [
        wrong_guess(kdc, name, key_from(hint, "wrong-password-9", name)),
        error_of(kdc.post("/v1/as", b'{"type":"AS-REQ","client":"x'), 400),
    ]
    secrets = {
        ALICE_PASS,
        "wrong-password-9",
        b64u_encode(key.material),
        base64.b64encode(key.material).decode(),
        b64u_encode(tgt.session_key.material),
        base64.b64encode(tgt.session_key.material).decode(),
        tgt.ticket.enc_part.split(".")[3][:40],
        req.padata[0].value.split(".")[3],
        request.message.ap_req.authenticator.split(".")[3],
        base64.b64encode(request.subkey.material).decode(),
    }
    assert audit.exists()
    # Traces (with each message as sent) are for lab realms only; none is written here.
    written = [p.read_text() for p in kdc_realm.directory.iterdir() if p.suffix == ".jsonl"]
    seen = "\n".join(
        [
            caplog.text,
            (audit.read_bytes()[len(audit_before) :]).decode(),
            json.dumps(bodies),
            *written,
        ]
    )
    assert "alice@EXAMPLE.TEST" in seen  # names are logged...
    leaked = sorted(secret for secret in secrets if secret in seen)
    assert leaked == []  # ...secrets are not


def test_settings_repr_hides_database_and_redis_passwords() -> None:
    """Settings end up in tracebacks, debug logs and bug reports: the passwords in their
    database and Redis URLs do not (the rest stays readable)."""
    from service_demo.settings import DemoSettings
    from service_lib.settings import VerifierSettings

    kdc = KDCSettings(
        realm=REALM,
        database_url="postgresql+psycopg://kdc:db-hunter2@db.example/kdc",
        redis_url="redis://:redis-hunter2@cache.example:6379/0",
    )
    verifier = VerifierSettings(keytab="/k", redis_url="redis://svc:redis-hunter2@cache/0")
    demo = DemoSettings(keytab="/k", redis_url="rediss://svc:redis-hunter2@cache/0")
    for settings in (kdc, verifier, demo):
        for text in (repr(settings), str(settings), repr([settings]), f"{settings!r}"):
            assert "hunter2" not in text, text
    assert "database_url='postgresql+psycopg://kdc:***@db.example/kdc'" in repr(kdc)
    assert "redis_url='redis://:***@cache.example:6379/0'" in repr(kdc)
    assert kdc.database_url.endswith(":db-hunter2@db.example/kdc")  # the value itself is intact
    plain = KDCSettings(realm=REALM, database_url="postgresql+psycopg://kdc@db.example/kdc")
    assert "database_url='postgresql+psycopg://kdc@db.example/kdc'" in repr(plain)


# == Kerberos encryption types (RFC 3961, RFC 3962, RFC 8009) ================================


def _rfc_enctype_parts() -> list[tuple[Any, Any, bytes]]:
    """(enctype, key, ciphertext of a ticket's enc-part) for each registered enctype."""
    parts = []
    for e in ENCTYPES.values():
        key = e.random_to_key(os.urandom(e.key_size))
        ciphertext = e.encrypt(key, KeyUsage.TICKET, b"endtime=20261205", os.urandom(16))
        parts.append((e, key, ciphertext))
    return parts


def test_enctype_ciphertext_with_any_bit_flipped_is_bad_integrity() -> None:
    """CBC-CTS is malleable (a flipped bit garbles one block and flips the same bit of the
    next): every flip, in the ciphertext and in the MAC, must fail the HMAC."""
    for e, key, ciphertext in _rfc_enctype_parts():
        for bit in range(len(ciphertext) * 8):
            flipped = bytearray(ciphertext)
            flipped[bit // 8] ^= 1 << (bit % 8)
            with pytest.raises(ProtocolError) as caught:
                e.decrypt(key, KeyUsage.TICKET, bytes(flipped))
            assert caught.value.code == 31 and caught.value.name == "KRB_AP_ERR_BAD_INTEGRITY"
        assert e.decrypt(key, KeyUsage.TICKET, ciphertext) == b"endtime=20261205"  # key intact


def test_enctype_ciphertext_under_another_key_usage_is_bad_integrity() -> None:
    """A ticket's enc-part (usage 2) offered as every other part under the same key: each
    usage derives its own Ke and Ki (RFC 3961 §5.3, RFC 8009 §5)."""
    for e, key, ciphertext in _rfc_enctype_parts():
        for usage in KeyUsage:
            if usage == KeyUsage.TICKET:
                continue
            with pytest.raises(ProtocolError) as caught:
                e.decrypt(key, usage, ciphertext)
            assert caught.value.name == "KRB_AP_ERR_BAD_INTEGRITY"
        assert e.decrypt(key, KeyUsage.TICKET, ciphertext) == b"endtime=20261205"


def test_enctype_ciphertext_truncated_is_bad_integrity() -> None:
    """Cut short to anything below a confounder and a MAC: the same integrity error, before
    a cipher sees it (never an IndexError or a ValueError turning into a 500)."""
    for e, key, ciphertext in _rfc_enctype_parts():
        for length in range(e.confounder_size + e.mac_size):
            with pytest.raises(ProtocolError) as caught:
                e.decrypt(key, KeyUsage.TICKET, ciphertext[:length])
            assert caught.value.name == "KRB_AP_ERR_BAD_INTEGRITY"


def test_enctype_downgrade_to_des_rc4_or_unknown_is_etype_nosupp() -> None:
    """A peer naming DES (1, 3), triple DES (16), RC4 (23, 24), Camellia (25, 26) or a
    made-up number gets KDC_ERR_ETYPE_NOSUPP, never a fallback to some other type."""
    before = dict(ENCTYPES)
    for which in (1, 3, 16, 23, 24, 25, 26, 99, -1, "des-cbc-md5", "arcfour-hmac", "rc4-hmac"):
        with pytest.raises(ProtocolError) as caught:
            enctype(which)
        assert caught.value.code == 14 and caught.value.name == "KDC_ERR_ETYPE_NOSUPP"
    assert dict(ENCTYPES) == before


def test_unkeyed_or_unknown_checksum_type_is_sumtype_nosupp() -> None:
    """Unkeyed checksums (CRC32 1, MD5 7, SHA1 14) let anyone recompute them after changing
    a request body; they, DES-keyed ones (8) and unknown numbers get KDC_ERR_SUMTYPE_NOSUPP."""
    before = dict(CHECKSUM_TYPES)
    for number in (1, 2, 7, 8, 12, 14, 99, -1):
        with pytest.raises(ProtocolError) as caught:
            checksum_type(number)
        assert caught.value.code == 15 and caught.value.name == "KDC_ERR_SUMTYPE_NOSUPP"
    assert dict(CHECKSUM_TYPES) == before


def test_hostile_s2kparams_iteration_count_is_refused_before_any_work() -> None:
    """A forged KDC answer with an iteration count of 2**32 (``00000000``, RFC 3962 §4) or
    near it would keep a client in PBKDF2 for hours (RFC 3962 §8): refused at once."""
    for e in ENCTYPES.values():
        for params in (b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x01\x00\x00\x00"):
            with pytest.raises(ProtocolError) as caught:
                e.string_to_key("password", b"EXAMPLE.TESTalice", params)
            assert caught.value.name == "KRB_ERR_GENERIC"


def test_enctype_keys_never_show_their_bytes_in_repr() -> None:
    """Keys reach tracebacks and debug logs: neither a key nor its derived Kc/Ke/Ki shows
    its bytes."""
    for e, key, _ in _rfc_enctype_parts():
        derived = e.derive(key, KeyUsage.TICKET)
        kc = e.checksum_key(key, KeyUsage.TICKET)
        for text in (repr(key), str(key), repr([key]), repr(derived), str(derived)):
            for secret in (key.material, kc, derived.ke, derived.ki):
                assert secret.hex() not in text.lower() and repr(secret) not in text, text


# == Sessions (issue 12 §1): no more authority than the KDC signed, and never a bearer token ==


def session_app(verifier: Verifier, browser: bool = False) -> FlaskClient:
    """A Flask service with sessions (and browser sessions when ``browser``)."""
    app = Flask("sessions")
    auth = TicketAuth(app, verifier, sessions=True, browser_sessions=browser)

    @app.route("/notes", methods=["GET", "POST"])
    @auth.required
    def notes() -> Any:
        identity = current_identity()
        assert identity is not None
        return {"principal": identity.name, "groups": list(identity.groups)}

    @app.get("/admin/stats")
    @auth.required(groups=["admins"])
    def stats() -> Any:
        return {"notes": 0}

    @app.get("/mfa")
    @auth.required(factors=["otp"])
    def mfa() -> Any:
        return {"factors": list(current_identity().auth_factors)}  # type: ignore[union-attr]

    return app.test_client()


def open_session(client: FlaskClient, cred: Credential, now: float, https: bool = False) -> Any:
    """The answer to an AP-REQ for GET /notes: it carries the session."""
    headers = {"Authorization": f"Ticket {ap_token(cred, now)}", "Prefer": "orthrus-session"}
    base = "https://localhost" if https else "http://localhost"
    answer = client.get("/notes", headers=headers, base_url=base)
    assert answer.status_code == 200
    return answer


def proved(
    session: str, session_key: Key, now: float, binding: tuple[str, str] = ("GET", "/notes")
) -> dict[str, str]:
    """The session token with a proof made under ``session_key`` for ``binding`` at ``now``."""
    proof = make_session_proof(session_key, ProofTarget(session, *binding), now, os.urandom)
    return {SESSION_HEADER: session, SESSION_PROOF_HEADER: proof}


def cookie_value(answer: Any) -> str:
    cookie: str = answer.headers["Set-Cookie"]
    return cookie.split(";")[0].split("=", 1)[1]


def minted_sessions(core: CoreRealm, key: Key, bobs: Credential, now: float) -> list[str]:
    """What a keytab holder mints for root@EX.TEST (no such principal), group admins, a
    ten-year life: the HS256 assertion the old token was, and tokens carrying tickets it
    sealed itself (the silver ticket) — KDC signature dropped, its own, or bob's."""
    http = bobs.ticket.server
    ten_years = int(now) + 10 * 365 * 86400
    root = Principal.parse(f"root@{core.name}")
    old_style = {
        "iss": str(http), "sub": str(root), "aud": str(http), "groups": ["admins"],
        "iat": int(now), "nbf": int(now), "exp": ten_years,
    }  # fmt: skip
    tokens = [jwt.encode(old_style, session_token_key(key), "HS256", headers={"kid": "1"})]
    part = open_ticket(bobs.ticket, key)
    rogue = AuthzSigner(Ed25519PrivateKey.generate(), core.signer.kid, core.name)
    rooted = msgspec.structs.replace(part, client=root, endtime=ten_years)
    for authz in (None, rogue.sign(rooted, http, ("admins",)), part.authorization_data):
        forged = reseal(bobs, key, client=root, endtime=ten_years, authorization_data=authz)
        claims = SessionClaims(
            server=http, ticket=forged.ticket, kind="proof", issued_at=int(now),
            expires_at=ten_years,
        )  # fmt: skip
        tokens.append(issue_session_token(claims, key))
    return tokens


def test_session_minted_with_a_stolen_service_key_is_modified(
    core: CoreRealm, http: Principal, clock: Clock
) -> None:
    """A keytab holder mints a session for a principal that does not exist, in group admins,
    for ten years (issue 12 §1: this got 200). The token carries the ticket, and its KDC
    signature is checked again on every use: refused, whatever the token's own MAC says."""
    bob = core.principal("bob")
    bobs = core.service_ticket(core.login(bob, core.user_key(bob, "bob-pass"), T0), http, T0)
    verifier = make_verifier(core, clock)
    client = session_app(verifier)
    for session in minted_sessions(core, core.key_of(http), bobs, T0):
        for path in ("/notes", "/admin/stats"):
            headers = proved(session, bobs.session_key, T0, ("GET", path))
            assert error_of(client.get(path, headers=headers), 401)["name"] == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == 0


def test_session_minted_with_a_stolen_service_key_is_refused_by_service_demo(
    core: CoreRealm, http: Principal, tmp_path: Path
) -> None:
    """The same forgeries against service_demo over real HTTP, /whoami and /admin/stats,
    next to a genuine session of bob's that works."""
    keytab = tmp_path / "http.keytab"
    write_private(keytab, service_keytab(core).to_bytes())
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "service_demo", "--keytab", str(keytab), "--port", str(port),
         "--db", str(tmp_path / "notes.sqlite"), "--principal", str(http)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env(),
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/livez", process)
        now = time.time()
        bob = core.principal("bob")
        bobs = core.service_ticket(core.login(bob, core.user_key(bob, "bob-pass"), now), http, now)
        ticket = {"Authorization": f"Ticket {ap_token(bobs, now, None)}"}
        first = httpx.get(f"{url}/whoami", headers={**ticket, "Prefer": "orthrus-session"})
        genuine = first.headers[SESSION_HEADER]
        again = httpx.get(
            f"{url}/whoami", headers=proved(genuine, bobs.session_key, now, ("GET", "/whoami"))
        )
        assert again.json()["auth_method"] == "session"
        for session in minted_sessions(core, core.key_of(http), bobs, now):
            for path in ("/whoami", "/admin/stats"):
                answer = httpx.get(
                    f"{url}{path}", headers=proved(session, bobs.session_key, now, ("GET", path))
                )
                assert answer.status_code == 401, answer.text
                assert answer.json()["error"]["name"] == "KRB_AP_ERR_MODIFIED"
    finally:
        stop(process)


def test_session_token_without_a_proof_is_modified(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """A captured session token (a header sent over plain HTTP) replayed alone: it is worth
    nothing without a proof made with the ticket's session key."""
    verifier = make_verifier(core, clock)
    client = session_app(verifier)
    session = open_session(client, service_cred, T0).headers[SESSION_HEADER]
    before = cache_size(verifier.replay_cache)
    for headers in ({SESSION_HEADER: session}, {SESSION_HEADER: session, SESSION_PROOF_HEADER: ""}):
        assert error_of(client.get("/notes", headers=headers), 401)["name"] == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == before


def test_session_proof_replayed_is_repeat(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """A captured token with its captured proof, sent again here or to another worker
    sharing the replay cache: each proof is accepted once."""
    verifier = make_verifier(core, clock)
    client = session_app(verifier)
    session = open_session(client, service_cred, T0).headers[SESSION_HEADER]
    headers = proved(session, service_cred.session_key, T0)
    assert client.get("/notes", headers=headers).status_code == 200
    before = cache_size(verifier.replay_cache)
    for worker in (client, session_app(verifier)):
        assert error_of(worker.get("/notes", headers=headers), 401)["name"] == "KRB_AP_ERR_REPEAT"
    assert cache_size(verifier.replay_cache) == before


def test_session_proof_from_before_a_replay_cache_restart_is_repeat(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """A token and proof captured at a service whose replay cache then starts afresh (a
    restart of an in-memory cache, an emptied Redis): the proof is older than what the new
    cache remembers, so it is refused like an authenticator (RFC 4120 §3.2.3); a fresh one
    is accepted."""
    clock.now = T0 + 10
    first = session_app(make_verifier(core, clock))
    session = open_session(first, service_cred, clock.now).headers[SESSION_HEADER]
    captured = proved(session, service_cred.session_key, clock.now)
    assert first.get("/notes", headers=captured).status_code == 200
    clock.now = T0 + 20
    restarted = make_verifier(core, clock, cache=MemoryReplayCache(started_at=T0 + 15))
    again = session_app(restarted)
    assert error_of(again.get("/notes", headers=captured), 401)["name"] == "KRB_AP_ERR_REPEAT"
    assert cache_size(restarted.replay_cache) == 0
    fresh = proved(session, service_cred.session_key, clock.now)
    assert again.get("/notes", headers=fresh).status_code == 200


def test_session_proof_moved_to_another_method_or_path_is_modified(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """A proof made for GET /notes, caught before it arrived, used for another request."""
    verifier = make_verifier(core, clock)
    client = session_app(verifier)
    session = open_session(client, service_cred, T0).headers[SESSION_HEADER]
    headers = proved(session, service_cred.session_key, T0, ("GET", "/notes"))
    before = cache_size(verifier.replay_cache)
    for moved in (
        client.get("/admin/stats", headers=headers),
        client.post("/notes", headers=headers),
        client.get("/notes?all=1", headers=headers),
    ):
        assert error_of(moved, 401)["name"] == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == before


def test_session_proof_under_the_wrong_key_is_modified(
    core: CoreRealm, tgt: Credential, service_cred: Credential, clock: Clock
) -> None:
    """Proofs not sealed under this session's ticket's session key for the proof's usage:
    under another ticket's session key, under the service's key, under the right key for
    the AP authenticator's usage (key-usage confusion), relabelled ``alg: none``."""
    verifier = make_verifier(core, clock)
    client = session_app(verifier)
    session = open_session(client, service_cred, T0).headers[SESSION_HEADER]
    other = core.service_ticket(tgt, core.principal("HTTP/web"), T0)
    good = proved(session, service_cred.session_key, T0)[SESSION_PROOF_HEADER]
    plaintext = open_sealed(service_cred.session_key, KeyUsage.SESSION_PROOF, good)
    service_key = core.key_of(core.principal("HTTP/web"))
    proofs = [
        proved(session, other.session_key, T0)[SESSION_PROOF_HEADER],
        seal(service_key, KeyUsage.SESSION_PROOF, plaintext, os.urandom),
        seal(service_cred.session_key, KeyUsage.AP_REQ_AUTHENTICATOR, plaintext, os.urandom),
        with_header(good, alg="none"),
    ]
    before = cache_size(verifier.replay_cache)
    for proof in proofs:
        answer = client.get(
            "/notes", headers={SESSION_HEADER: session, SESSION_PROOF_HEADER: proof}
        )
        assert error_of(answer, 401)["name"] == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == before


def test_session_proof_for_another_session_token_is_modified(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """Two sessions opened with one ticket: a proof made for the first, caught on its way,
    goes with the second (RFC 9449's ``ath``: a proof serves one token)."""
    verifier = make_verifier(core, clock)
    client = session_app(verifier)
    first = open_session(client, service_cred, T0).headers[SESSION_HEADER]
    proof = proved(first, service_cred.session_key, T0 + 1)[SESSION_PROOF_HEADER]
    clock.now = T0 + 1
    second = open_session(client, service_cred, T0 + 1).headers[SESSION_HEADER]
    assert second != first
    before = cache_size(verifier.replay_cache)
    answer = client.get("/notes", headers={SESSION_HEADER: second, SESSION_PROOF_HEADER: proof})
    assert error_of(answer, 401)["name"] == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == before


@pytest.mark.parametrize("offset", [301, -301])
def test_session_proof_outside_the_clock_skew_is_skew(
    core: CoreRealm, service_cred: Credential, clock: Clock, offset: int
) -> None:
    """A proof dated 301 s away from the service's clock (one made in advance, or kept);
    300 s is accepted, as for authenticators."""
    verifier = make_verifier(core, clock)
    client = session_app(verifier)
    session = open_session(client, service_cred, T0).headers[SESSION_HEADER]
    clock.now = T0 + 400
    before = cache_size(verifier.replay_cache)
    late = client.get(
        "/notes", headers=proved(session, service_cred.session_key, clock.now - offset)
    )
    assert error_of(late, 401)["name"] == "KRB_AP_ERR_SKEW"
    assert cache_size(verifier.replay_cache) == before
    edge = offset - (1 if offset > 0 else -1)
    ok = client.get("/notes", headers=proved(session, service_cred.session_key, clock.now - edge))
    assert ok.status_code == 200


def test_session_from_service_a_presented_at_service_b_is_not_us(
    core: CoreRealm, tgt: Credential, clock: Clock
) -> None:
    """Two services run with one keytab (HTTP/web and its alias HTTP/alias, one key), each
    accepting only its own name: a session HTTP/web handed out is refused at HTTP/alias."""
    web = core.principal("HTTP/web")
    alias = core.principal("HTTP/alias")
    core.entries[alias] = dataclasses.replace(core.entries[web], principal=alias)
    keytab = service_keytab(core, "HTTP/web", "HTTP/alias")
    service_a = session_app(make_verifier(core, clock, names=("HTTP/web",)))
    cred = core.service_ticket(tgt, web, T0)
    session = open_session(service_a, cred, T0).headers[SESSION_HEADER]
    source = KeytabSource.from_keytab(keytab, accepted=[alias])
    verifier_b = Verifier(source, MemoryReplayCache(), clock=clock)
    service_b = session_app(verifier_b)
    answer = service_b.get("/notes", headers=proved(session, cred.session_key, T0))
    assert error_of(answer, 401)["name"] == "KRB_AP_ERR_NOT_US"
    assert cache_size(verifier_b.replay_cache) == 0


def test_session_cookie_over_plain_http_is_neither_set_nor_taken(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """Browser sessions on: a ticket over plain HTTP gets no cookie, and a genuine cookie
    (got over HTTPS) sent over plain HTTP — as a sniffer would — is not taken."""
    verifier = make_verifier(core, clock)
    client = session_app(verifier, browser=True)
    assert "Set-Cookie" not in open_session(client, service_cred, T0).headers
    cookie = cookie_value(open_session(client, service_cred, T0, https=True))
    thief = session_app(verifier, browser=True)
    thief.set_cookie("orthrus_session", cookie, domain="localhost")
    answer = thief.get("/notes", base_url="http://localhost")
    assert error_of(answer, 401)["name"] == "KRB_ERR_GENERIC"
    assert thief.get("/notes", base_url="https://localhost").status_code == 200


def test_browser_sessions_off_set_and_take_no_cookie(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """Browser sessions are off unless the service turns them on: no cookie over HTTPS, and
    a genuine cookie (from an instance that has them on) is not taken."""
    verifier = make_verifier(core, clock)
    cookie = cookie_value(open_session(session_app(verifier, browser=True), service_cred, T0, True))
    client = session_app(verifier)
    assert "Set-Cookie" not in open_session(client, service_cred, T0, https=True).headers
    client.set_cookie("orthrus_session", cookie, domain="localhost")
    answer = client.get("/notes", base_url="https://localhost")
    assert error_of(answer, 401)["name"] == "KRB_ERR_GENERIC"


def test_session_token_moved_between_header_and_cookie_is_modified(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """A header token (captured over plain HTTP) planted as a cookie, where no proof is
    asked for; and a cookie token sent as a header with a proof."""
    verifier = make_verifier(core, clock)
    client = session_app(verifier, browser=True)
    answer = open_session(client, service_cred, T0, https=True)
    header_token, cookie_token = answer.headers[SESSION_HEADER], cookie_value(answer)
    before = cache_size(verifier.replay_cache)
    thief = session_app(verifier, browser=True)
    thief.set_cookie("orthrus_session", header_token, domain="localhost")
    planted = thief.get("/notes", base_url="https://localhost")
    assert error_of(planted, 401)["name"] == "KRB_AP_ERR_MODIFIED"
    as_header = client.get("/notes", headers=proved(cookie_token, service_cred.session_key, T0))
    assert error_of(as_header, 401)["name"] == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == before


def test_session_outliving_its_ticket_is_modified(
    core: CoreRealm, tgt: Credential, clock: Clock
) -> None:
    """A session ends no later than its ticket: one handed out a minute before the ticket
    ends lasts a minute; a keytab holder's token stretching it is refused."""
    cred = core.service_ticket(tgt, core.principal("HTTP/web"), T0)
    clock.now = cred.endtime - 60
    verifier = make_verifier(core, clock)
    client = session_app(verifier, browser=True)
    answer = open_session(client, cred, clock.now, https=True)
    assert "Max-Age=60" in answer.headers["Set-Cookie"]
    session = answer.headers[SESSION_HEADER]
    assert jwt.decode(session, options={"verify_signature": False})["exp"] == cred.endtime
    stretched = SessionClaims(
        server=cred.ticket.server, ticket=cred.ticket, kind="proof",
        issued_at=int(clock.now), expires_at=cred.endtime + 10 * 365 * 86400,
    )  # fmt: skip
    forged = issue_session_token(stretched, core.key_of(core.principal("HTTP/web")))
    refused_answer = client.get("/notes", headers=proved(forged, cred.session_key, clock.now))
    assert error_of(refused_answer, 401)["name"] == "KRB_AP_ERR_MODIFIED"


def test_session_whose_ticket_expired_is_tkt_expired(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """A session used one second after its ticket ended (within the skew the ticket check
    allows) and well after: expired, with the ticket."""
    clock.now = service_cred.endtime - 30
    verifier = make_verifier(core, clock)
    client = session_app(verifier)
    session = open_session(client, service_cred, clock.now).headers[SESSION_HEADER]
    for now in (service_cred.endtime + 1, service_cred.endtime + 400):
        clock.now = now
        answer = client.get("/notes", headers=proved(session, service_cred.session_key, now))
        assert error_of(answer, 401)["name"] == "KRB_AP_ERR_TKT_EXPIRED"


# -- Kerberos DER (RFC 4120 Appendix A, orthrus/der) -----------------------------------------
# The codec is pure and keeps no state: "nothing changed" is that a refused message leaves
# the codec answering the next good one exactly as before.

_DER_VECTORS = Path(__file__).parent / "core" / "data" / "mit_reference_encode.out"


def _mit_der(name: str) -> bytes:
    for line in _DER_VECTORS.read_text().splitlines():
        label, _, hexdata = line.partition(": ")
        if label == f"encode_krb5_{name}":
            return bytes.fromhex(hexdata)
    raise KeyError(name)


def _der_still_reads_a_good_tgs_req() -> None:
    good = _mit_der("tgs_req")
    assert der.encode_kdc_req(der.decode_tgs_req(good)) == good


def test_der_message_oversized_is_field_toolong() -> None:
    """A peer sends a 64 KiB+ message (or a TCP length prefix promising one) to make the KDC
    parse it: refused by its length before the library reads an octet (RFC 4120 §7.2.2)."""
    huge = _mit_der("tgs_req") + b"\x00" * der.MAX_MESSAGE_SIZE
    for decode in (der.decode_tgs_req, der.decode_as_req, der.decode_kdc_req, der.decode_ap_req):
        error = refused(decode, huge)
        assert error.code == 61 and error.name == "KRB_ERR_FIELD_TOOLONG"
    _der_still_reads_a_good_tgs_req()


def test_der_authorization_data_nested_too_deep_is_generic_error() -> None:
    """AD-IF-RELEVANT holds authorization data, which may hold AD-IF-RELEVANT (RFC 4120
    §5.2.6.1): nesting is bounded, so a ticket cannot make its reader recurse without end."""
    entries = (der.AuthorizationDataEntry(128, b"PAC"),)
    for _ in range(der.MAX_AD_DEPTH + 1):
        entries = (der.AuthorizationDataEntry(1, der.encode_ad_if_relevant(entries)),)
    error = refused(der.expand_authorization_data, entries)
    assert error.code == 60 and error.name == "KRB_ERR_GENERIC"
    # One level less is read in full (MIT's PAC sits one level down).
    inner = der.decode_ad_if_relevant(entries[0].ad_data)
    assert der.expand_authorization_data(inner) == (der.AuthorizationDataEntry(128, b"PAC"),)
    _der_still_reads_a_good_tgs_req()


def test_der_truncated_or_garbage_message_is_generic_error() -> None:
    """Every MIT reference message cut at every length, deeply nested tags, and random
    octets: one KRB_ERR_GENERIC each, never another exception (a 500 or a dead UDP worker),
    and the error text never quotes the input."""
    decoders = (der.decode_tgs_req, der.decode_kdc_req, der.decode_ap_req, der.decode_krb_error)
    for name, decode in (("tgs_req", der.decode_tgs_req), ("ap_req", der.decode_ap_req)):
        message = _mit_der(name)
        for length in range(len(message)):
            error = refused(decode, message[:length])
            assert error.code == 60 and error.name == "KRB_ERR_GENERIC"
    garbage = [b"\x6c\x80" * 30_000, b"\x6c\x84\xff\xff\xff\xff", os.urandom(512), b"\xff" * 64]
    for data in garbage:
        for decode in decoders:
            error = refused(decode, data)
            assert error.name == "KRB_ERR_GENERIC" and data[:16].hex() not in str(error)
    # A PA-DATA running past its SEQUENCE OF into the req-body: its value and the req-body
    # would be the same octets, read twice.
    body = tlv.tlv(0xA4, der.encode_kdc_req_body(der.KDCReqBody(0, "R", 0, 0, ())))
    padata = bytes.fromhex("a103020101") + bytes([0xA2, 2 + len(body), 0x04, len(body)])
    padata = bytes([0x30, len(padata) + len(body)]) + padata
    sequence_of = bytes([0x30, len(padata)]) + padata
    fields = bytes.fromhex("a103020105a20302010c") + tlv.tlv(0xA3, sequence_of) + body
    overlapping = tlv.tlv(0x6C, tlv.tlv(tlv.SEQUENCE, fields))
    assert refused(der.decode_tgs_req, overlapping).name == "KRB_ERR_GENERIC"
    # A salt running past its ETYPE-INFO2-ENTRY and the message: the next field is not read
    # past the end (an IndexError, a 500), whether its header is read inline or not.
    for salt_header in (
        bytes([0xA1, 0x10, 0x1B, 0x0E]),
        bytes([0xA1, 0x81, 0xA0, 0x1B, 0x81, 0x9D]),
    ):
        entry = tlv.tlv(0xA0, tlv.write_integer(18)) + salt_header + b"SALT"
        past_the_end = tlv.tlv(tlv.SEQUENCE, tlv.tlv(tlv.SEQUENCE, entry))
        assert refused(der.decode_etype_info2, past_the_end).name == "KRB_ERR_GENERIC"
    _der_still_reads_a_good_tgs_req()


def test_der_non_canonical_encoding_is_generic_error() -> None:
    """DER has one encoding per value (RFC 4120 §5.1), and the TGS checks the body checksum
    over the req-body as it encodes it again (§5.4.1): a message in another form — a length
    in more octets than it needs, a padded INTEGER, octets after the message, a time with a
    zone offset — is refused as it is read, so every message accepted means one thing and
    encodes back to the octets that came."""
    request = _mit_der("tgs_req")
    _, start, _ = tlv.header(request, 0, len(request))
    long_length = request[:1] + b"\x84" + (len(request) - start).to_bytes(4) + request[start:]
    for data in (long_length, request + b"\x00"):
        error = refused(der.decode_tgs_req, data)
        assert error.code == 60 and error.name == "KRB_ERR_GENERIC"

    def stamp(time: bytes, usec: bytes) -> bytes:
        fields = tlv.tlv(0xA0, tlv.tlv(tlv.GENERALIZED_TIME, time))
        return tlv.tlv(tlv.SEQUENCE, fields + tlv.tlv(0xA1, tlv.tlv(tlv.INTEGER, usec)))

    good = b"19940610060317Z"
    assert der.decode_pa_enc_ts_enc(stamp(good, b"\x05")) == der.PAEncTsEnc(771228197, 5)
    short_length = b"\x30\x81" + stamp(good, b"\x05")[1:]
    for data in (
        stamp(good, b"\x00\x05"),  # 5 padded
        stamp(b"19940610070317+0100", b"\x05"),  # the same moment, with an offset
        short_length,  # a length under 128 in the long form
        b"\x30\x82\x00" + stamp(good, b"\x05")[1:],  # and in two octets
    ):
        error = refused(der.decode_pa_enc_ts_enc, data)
        assert error.code == 60 and error.name == "KRB_ERR_GENERIC"
    # A long element in [n] whose header is not the one DER header of its length (a short
    # length octet where 0x81 or 0x82 belongs): read by that octet it does not fill [n], and
    # it is never read as if it did.
    for size in (201, 256):
        cipher = tlv.tlv(tlv.OCTET_STRING, bytes(size))
        wrong = bytes([tlv.OCTET_STRING, 0x05]) + cipher[2:]
        etype = tlv.tlv(0xA0, tlv.write_integer(18))
        good, bad = (tlv.tlv(tlv.SEQUENCE, etype + tlv.tlv(0xA2, c)) for c in (cipher, wrong))
        assert der.decode_pa_enc_timestamp(good) == der.EncryptedData(18, bytes(size))
        assert refused(der.decode_pa_enc_timestamp, bad).name == "KRB_ERR_GENERIC"
    _der_still_reads_a_good_tgs_req()


def test_der_request_disguised_as_another_message_type_is_generic_error() -> None:
    """An AS-REQ (msg-type 10) under the TGS-REQ tag [APPLICATION 12], or the reverse: the
    msg-type must agree with the tag, so no path reads one message as the other."""
    as_req, tgs_req = _mit_der("as_req"), _mit_der("tgs_req")
    for data, decode in (
        (b"\x6c" + as_req[1:], der.decode_tgs_req),
        (b"\x6c" + as_req[1:], der.decode_kdc_req),
        (b"\x6a" + tgs_req[1:], der.decode_as_req),
        (b"\x6a" + tgs_req[1:], der.decode_kdc_req),
    ):
        error = refused(decode, data)
        assert error.code == 60 and error.name == "KRB_ERR_GENERIC"
    _der_still_reads_a_good_tgs_req()


def test_der_integer_outside_its_asn1_range_is_generic_error() -> None:
    """A nonce of 2**200 or a kvno of 2**32 decodes to a Python int happily, then overflows a
    database column or a struct later (a 500): Int32, UInt32 and Microseconds are checked."""
    from der_oracle import SPEC

    for nonce in (2**32, -1, 2**200):
        request = SPEC.decode("TGS-REQ", _mit_der("tgs_req"))
        request["req-body"]["nonce"] = nonce
        error = refused(der.decode_tgs_req, SPEC.encode("TGS-REQ", request))
        assert error.code == 60 and error.name == "KRB_ERR_GENERIC"
    for kvno in (2**32, 2**64):
        data = SPEC.encode("EncryptedData", {"etype": 18, "kvno": kvno, "cipher": b"x"})
        assert refused(der.decode_pa_enc_timestamp, data).name == "KRB_ERR_GENERIC"
    _der_still_reads_a_good_tgs_req()


@pytest.mark.timeout(30)
def test_der_sequence_of_with_a_foreign_element_is_generic_error_not_a_hang() -> None:
    """Six octets: a SEQUENCE OF whose first element has the wrong tag. asn1tools' DER reader
    loops on it for ever, growing a list (a KDC worker hung, its memory climbing); the codec
    reads with the library's BER reader, which refuses it. Found by tests/core/test_der_fuzz.py.
    pytest-timeout turns a regression into a failure."""
    method_data = b"\x30\x02\x04\x00"
    request = bytearray(_mit_der("tgs_req(optionals NULL except server)"))
    at = request.index(b"\xa8\x08\x30\x06\x02\x01\x00\x02\x01\x01")  # etype [8] {0, 1}
    request[at + 4] = 0x04  # an OCTET STRING where an INTEGER is due
    for decode, data in (
        (der.decode_method_data, method_data),
        (der.decode_etype_info2, method_data),
        (der.decode_authorization_data, method_data),
        (der.decode_tgs_req, bytes(request)),
    ):
        error = refused(decode, data)
        assert error.code == 60 and error.name == "KRB_ERR_GENERIC"
    _der_still_reads_a_good_tgs_req()


def test_der_high_tag_number_is_generic_error_even_where_unknown_components_are_skipped() -> None:
    """SPNEGO's SEQUENCEs are extensible (RFC 4178 §4.2): a component they do not know is
    skipped, but it must still be an element in the one form Kerberos and SPNEGO use. A tag
    in the high-tag-number form (X.690 §8.1.2.4, which no Kerberos or SPNEGO type has) is
    refused wherever it sits, its header read inline or not, never taken as a one-octet tag
    with the next octet for its length."""
    from orthrus.kerberos.gss_tokens import NegTokenResp, decode_neg_token_resp

    def token(unknown: bytes) -> bytes:
        fields = tlv.tlv(0xA0, bytes.fromhex("0a0100")) + unknown  # accept-completed, then it
        return tlv.tlv(0xA1, tlv.tlv(tlv.SEQUENCE, fields))

    assert decode_neg_token_resp(token(b"\xa5\x00")) == NegTokenResp("accept-completed")
    for unknown in (b"\xbf\x01\x00", b"\xbf\x25\x00", b"\xbf\x81\x80" + bytes(128)):
        error = refused(decode_neg_token_resp, token(unknown))
        assert error.code == 60 and error.name == "KRB_ERR_GENERIC"


def test_golden_ticket_with_a_stolen_krbtgt_key_is_modified(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    """With the krbtgt key an attacker mints TGTs (the "golden ticket"): another client in
    a genuine TGT, the KDC's signature dropped, or signed with a key of its own. The TGS
    opens each one, but checks the KDC's signature on its authorization data, bound to the
    client, times and session key (RFC 4120 §5.2.6), and refuses them all, issuing nothing
    and remembering nothing."""
    key = core.key_of(core.tgs)
    bob = core.principal("bob")
    part = open_ticket(tgt.ticket, key)
    rogue = AuthzSigner(Ed25519PrivateKey.generate(), core.signer.kid, core.name)
    as_bob = msgspec.structs.replace(part, client=bob)
    forgeries = [
        reseal(tgt, key, client=bob),  # alice's TGT now says bob
        reseal(tgt, key, authorization_data=None),  # signature removed
        reseal(tgt, key, client=bob, authorization_data=rogue.sign(as_bob, core.tgs, ())),
    ]
    # The forger's authenticator names the client its TGT claims.
    forgeries = [
        msgspec.structs.replace(f, client=open_ticket(f.ticket, key).client) for f in forgeries
    ]
    size = len(core.replay)
    for forged in forgeries:
        request = make_tgs_req(forged, http, T0, os.urandom)
        assert refused(core.tgs_exchange, request).name == "KRB_AP_ERR_MODIFIED"
    assert len(core.replay) == size
    assert core.service_ticket(tgt, http).client == tgt.client  # the genuine TGT still works


def test_unsigned_tgts_lab_switch_outside_a_lab_realm_is_a_config_error(tmp_path: Path) -> None:
    """The lab switch that makes the TGS believe unsigned TGTs (a golden ticket then works,
    exercise 12) is refused by any realm not made as a lab, however it is set: in code or
    in kdc.toml."""
    with pytest.raises(ConfigError, match=r"'lab_unsigned_tgts'.*only in a lab realm"):
        KDCSettings(realm=REALM, database_url="sqlite://", lab_unsigned_tgts=True)
    (tmp_path / "kdc.toml").write_text(
        f'realm = "{REALM}"\ndatabase_url = "sqlite://"\nlab_unsigned_tgts = true\n'
    )
    with pytest.raises(ConfigError, match="'lab_unsigned_tgts'"):
        load_settings(tmp_path, env={})
    lab = KDCSettings(realm=REALM, database_url="sqlite://", lab=True, lab_unsigned_tgts=True)
    assert lab.lab_unsigned_tgts


# -- Kerberos over UDP and TCP (kdc.kerberos_wire; the exchanges a test double) -------------


@pytest.mark.parametrize(
    "prefix",
    [b"\x80\x00\x00\x04", (der.MAX_MESSAGE_SIZE + 1).to_bytes(4, "big")],
    ids=["reserved-high-bit", "over-64-KiB"],
)
def test_kerberos_tcp_length_over_the_bound_closes_the_connection_at_once(
    kdc_realm: Realm, prefix: bytes
) -> None:
    """A TCP length prefix with the reserved bit set (RFC 4120 §7.2.2) or above 64 KiB: the
    KDC closes the connection at once instead of waiting for (and buffering) that much."""
    with serve_kerberos(kdc_realm.directory) as kdc, kdc.tcp() as tcp:
        tcp.sendall(prefix + b"\x6a")
        assert closed_by_kdc(tcp)  # fails (times out) if the KDC waits for the rest
        assert kdc.events.events == []


def test_kerberos_tcp_slow_and_idle_clients_are_cut_at_the_deadline(kdc_realm: Realm) -> None:
    """Slowloris over Kerberos TCP: a client sending half a length prefix, or one request
    and then nothing, holds its connection no longer than request_timeout (here 2 s)."""
    with serve_kerberos(kdc_realm.directory, timeout=2) as kdc:
        with kdc.tcp() as slow, kdc.tcp() as idle:
            slow.sendall(b"\x00\x00")
            assert tcp_exchange(idle, AS_TAG + b"ok") == b"R" * 100
            assert closed_by_kdc(slow) and closed_by_kdc(idle)
        with kdc.tcp() as tcp:
            assert tcp_exchange(tcp, AS_TAG + b"ok") == b"R" * 100


def test_kerberos_tcp_connections_beyond_the_bound_are_closed(kdc_realm: Realm) -> None:
    """Connection flooding: past max_connections a new TCP connection is closed at once;
    the connections already open are still served."""
    with (
        serve_kerberos(kdc_realm.directory, max_connections=2) as kdc,
        kdc.tcp() as one,
        kdc.tcp() as two,
    ):
        for sock in (one, two):  # both accepted and counted
            assert tcp_exchange(sock, AS_TAG + b"ok") == b"R" * 100
        with kdc.tcp() as third:
            assert closed_by_kdc(third)
        assert tcp_exchange(one, AS_TAG + b"ok") == b"R" * 100


def test_kerberos_request_flood_from_one_address_is_cut_by_the_rate_limit(
    kdc_realm: Realm,
) -> None:
    """The rate limit of the JSON API applies to Kerberos too, one count per address across
    UDP and TCP: past it no answer (the TCP connection is closed) and no exchange runs."""
    with serve_kerberos(kdc_realm.directory, rate_limit="3/day", rate_limit_exempt="") as kdc:
        with kdc.udp() as udp:
            for _ in range(2):
                udp.send(AS_TAG + b"ok")
                assert udp.recv(65536) == b"R" * 100
        with kdc.tcp() as tcp:
            assert tcp_exchange(tcp, AS_TAG + b"ok") == b"R" * 100
            tcp.sendall(frame(AS_TAG + b"ok"))
            assert closed_by_kdc(tcp)
        served, refusal = kdc.events.events[:3], kdc.events.events[3:]
        assert [e.ok for e in served] == [True] * 3
        # The refusal is an event too (audit, metrics), naming the limit; nothing else ran.
        assert [(e.error, e.extra["rate_limit"]) for e in refusal] == [
            ("KRB_ERR_GENERIC", "3 per 1 day")
        ]


# -- the same attacks on the Kerberos wire (DER, RFC 3962/8009 enctypes) --------------------


@pytest.fixture
def krb_realm() -> KerberosRealm:
    return KerberosRealm()


def krb_tgt(realm: KerberosRealm) -> tuple[KerberosCredential, Principal]:
    alice = realm.add_krb_user("alice", "correct horse")
    web = realm.add_krb_service("HTTP/web")
    return realm.krb_login(alice, "correct horse"), web


def test_kerberos_tgs_body_changed_after_its_checksum_is_modified(
    krb_realm: KerberosRealm,
) -> None:
    """A TGS-REQ captured on the wire and sent again for another service: the body is in
    clear, but the authenticator's keyed checksum (usage 6, RFC 4120 §5.4.1) covers it, and
    only the TGT's session key makes it. Nothing is issued or remembered."""
    tgt, web = krb_tgt(krb_realm)
    admin = krb_realm.add_krb_service("HTTP/admin")
    request = tgs_request(tgt, web, T0, os.urandom)
    body = dataclasses.replace(request.message.req_body, sname=principal_name(admin))
    moved = dataclasses.replace(request.message, req_body=body)
    size = len(krb_realm.replay)
    assert krb_realm.error(der.encode_kdc_req(moved)).error_code == 41  # KRB_AP_ERR_MODIFIED
    assert len(krb_realm.replay) == size


def test_kerberos_tgs_request_replayed_is_repeat(krb_realm: KerberosRealm) -> None:
    """The same TGS-REQ bytes sent twice: the second is a replay (RFC 4120 §3.2.3), in the
    KDC's one replay cache whichever wire the request came on."""
    tgt, web = krb_tgt(krb_realm)
    request = tgs_request(tgt, web, T0, os.urandom)
    assert krb_realm.send(request).error is None
    assert krb_realm.error(request).error_code == 34  # KRB_AP_ERR_REPEAT


def test_kerberos_golden_ticket_with_a_stolen_krbtgt_key_is_modified(
    krb_realm: KerberosRealm,
) -> None:
    """A DER TGT minted with a stolen krbtgt key: it opens, but carries no KDC signature for
    its client (the signed data moved from alice's TGT says alice), so the TGS refuses it."""
    tgt, web = krb_tgt(krb_realm)
    tgs = krb_realm.entries[krb_realm.tgs]
    part = open_kerberos_ticket(tgt.ticket, tgs)
    bob = krb_realm.add_krb_user("bob", "hunter2 hunter2")
    key = krb_realm.krb_key(krb_realm.tgs)
    forged_ticket = seal_kerberos_ticket(
        msgspec.structs.replace(part, client=bob), krb_realm.tgs, key, tgs.kvno, os.urandom
    )
    forged = dataclasses.replace(tgt, client=bob, ticket=forged_ticket)
    size = len(krb_realm.replay)
    error = krb_realm.error(tgs_request(forged, web, T0, os.urandom))
    assert error.error_code == 41  # KRB_AP_ERR_MODIFIED
    assert len(krb_realm.replay) == size


# -- the client's checks of a Kerberos-wire KDC reply (RFC 4120 §3.1.5, §3.3.4) --------------


def krb_as_exchange(
    realm: KerberosRealm, password: str = "correct horse"
) -> tuple[Principal, KerberosRequest, der.KDCRep, KeyBlock]:
    """alice's pre-authenticated AS-REQ, the KDC's genuine reply to it, and her key."""
    alice = realm.add_krb_user("alice", password)
    key = enctype(20).string_to_key(password, default_salt(alice), ITERATIONS.to_bytes(4, "big"))
    request = krb_as_request(alice, realm.tgs, (20,), T0, os.urandom, key)
    return alice, request, realm.reply(request), key


def test_kerberos_reply_to_an_earlier_request_is_refused(krb_realm: KerberosRealm) -> None:
    """A spoofed KDC answers alice's new AS-REQ with a genuine reply it captured earlier
    (to steer her to an old session key, or a ticket of another time): it opens under her
    key, but its nonce is the old request's. Refused, nothing stored."""
    alice, _, captured, key = krb_as_exchange(krb_realm)
    fresh = krb_as_request(alice, krb_realm.tgs, (20,), T0 + 60, os.urandom, key)
    with pytest.raises(APError, match="another nonce") as refusal:
        read_kdc_rep(captured, fresh)
    assert refusal.value.name == "KRB_AP_ERR_MODIFIED"


def test_kerberos_reply_under_another_key_is_refused(krb_realm: KerberosRealm) -> None:
    """A spoofed KDC (which does not know alice's key) answers with a reply sealed under a
    key of its own choosing, say from a password it guessed: the client's integrity check
    refuses it (``KRB_AP_ERR_BAD_INTEGRITY``) before anything in it is used."""
    alice, request, genuine, key = krb_as_exchange(krb_realm)
    guessed = enctype(20).string_to_key("guess", default_salt(alice), b"\0\0\0\2")
    plain = decrypt(key, KeyUsage.AS_REP_ENC_PART, genuine.enc_part)
    forged = dataclasses.replace(
        genuine,
        enc_part=der.EncryptedData(
            20, encrypt(guessed, KeyUsage.AS_REP_ENC_PART, plain, os.urandom)
        ),
    )
    with pytest.raises(APError) as refusal:
        read_kdc_rep(forged, request)
    assert refusal.value.name == "KRB_AP_ERR_BAD_INTEGRITY"


def test_kerberos_reply_granting_longer_than_asked_is_refused(krb_realm: KerberosRealm) -> None:
    """A reply whose ticket ends (or may be renewed) later than the request asked: a KDC
    that does not hold to the request, or a reply to another request with the same nonce;
    the client stores only what it asked for (RFC 4120 §3.1.5)."""
    _, request, genuine, key = krb_as_exchange(krb_realm)
    body = dataclasses.replace(request.message.req_body, till=T0 + 60)
    asked_less = dataclasses.replace(
        request, message=dataclasses.replace(request.message, req_body=body)
    )
    with pytest.raises(APError, match="longer than was asked") as refusal:
        read_kdc_rep(genuine, asked_less, key)
    assert refusal.value.name == "KRB_AP_ERR_MODIFIED"


@pytest.mark.parametrize("field", ["cname", "crealm"])
def test_kerberos_reply_for_another_client_is_refused(krb_realm: KerberosRealm, field: str) -> None:
    """The reply's client name and realm travel in clear, outside the part sealed under
    alice's key: someone on the path rewrites them (``bob``, or alice of ``EVIL.TEST``) so
    that alice's program would store, and act on, a ticket it believes is another's. The
    client compares them with what it asked for: refused."""
    _, request, genuine, _ = krb_as_exchange(krb_realm)
    change = {"cname": principal_name(Principal.parse("bob@EXAMPLE.TEST"))}
    swapped = dataclasses.replace(
        genuine, **(change if field == "cname" else {"crealm": "EVIL.TEST"})
    )
    with pytest.raises(APError, match="not alice@") as refusal:
        read_kdc_rep(swapped, request)
    assert refusal.value.name == "KRB_AP_ERR_MODIFIED"


# -- the client's check of a service's Negotiate answer (RFC 4559 §5, RFC 4121 §4.1) ---------


class NegotiateSetup:
    """alice's DER service ticket for HTTP/web from the in-memory Kerberos realm, a client
    whose KDC is a Kerberos one (so its auth classes answer ``Negotiate``), and the real
    acceptor of the service's side (:mod:`orthrus.kerberos.gss`)."""

    def __init__(self, tmp_path: Path) -> None:
        self.realm = KerberosRealm()
        alice = self.realm.add_krb_user("alice", "correct horse")
        self.web = self.realm.add_krb_service("HTTP/web")
        tgt = self.realm.krb_login(alice, "correct horse")
        request = tgs_request(tgt, self.web, T0, os.urandom)
        self.credential = read_kdc_rep(self.realm.reply(request), request).to_credential()
        settings = ClientSettings(kdc_url="krb5://127.0.0.1:9", ccache=str(tmp_path / "cc"))
        self.client = Client(settings, clock=lambda: T0 + 1)
        self.rules = APRules(replay_cache=MemoryReplayCache())

    def authenticator(self) -> TicketAuthenticator:
        return TicketAuthenticator(self.client, self.web, mutual=True)

    def exchange(self) -> tuple[NegotiatePending, dict[str, str]]:
        """One request's pending context and the genuine service's answer headers."""
        header, pending = self.authenticator().ap_header(self.credential, "GET", "http://web/")
        assert isinstance(pending, NegotiatePending)
        request = read_initiator_token(parse_negotiate(header) or b"")
        keys = self.realm.entries[self.web].kerberos_keys

        def keys_for(server: Principal) -> tuple[KerberosKey, ...] | None:
            return keys if server == self.web else None

        accepted = accept_security_context(request, keys_for, T0 + 1, self.rules)
        return pending, {"WWW-Authenticate": negotiate_header(accept_reply(accepted, os.urandom))}


def test_negotiate_mutual_answer_without_the_service_token_fails_closed(tmp_path: Path) -> None:
    """An impostor (or a proxy that drops headers) answers 200 without the service's
    ``Negotiate`` token: nothing proves the service holds its key, so a client that asked
    for mutual authentication refuses the answer."""
    setup = NegotiateSetup(tmp_path)
    pending, genuine = setup.exchange()
    assert setup.authenticator().check_response(genuine, pending) is not None
    with pytest.raises(APError, match="did not prove its identity") as refusal:
        setup.authenticator().check_response({}, pending)
    assert refusal.value.name == "KRB_AP_ERR_MUT_FAIL"


def test_negotiate_mutual_answer_replayed_from_another_request_fails_closed(
    tmp_path: Path,
) -> None:
    """An impostor without the service key replays the genuine service's answer to an
    earlier request: its AP-REP opens under the session key but echoes the earlier
    authenticator's time, not this one's. Refused."""
    setup = NegotiateSetup(tmp_path)
    _, earlier = setup.exchange()
    setup.client = Client(setup.client.settings, clock=lambda: T0 + 2)
    pending, _ = setup.exchange()
    with pytest.raises(APError, match="did not prove its identity") as refusal:
        setup.authenticator().check_response(earlier, pending)
    assert refusal.value.name == "KRB_AP_ERR_MUT_FAIL"


@pytest.mark.parametrize(
    ("into", "what"),
    [((1, 20), "another enctype"), ((2, 18), "another kvno")],
)
def test_kerberos_key_swapped_into_another_enctype_or_kvno_does_not_open(
    tmp_path: Path, into: tuple[int, int], what: str
) -> None:
    """Someone who can write the database (not read the master key) moves alice's sealed
    aes256-cts-hmac-sha1-96 key of kvno 1 onto ``what``: a key the KDC would then use
    where another belongs (a known or weaker key for a stronger type, an old key for the
    current version). Sealed with the name, kvno and enctype bound, it does not open:
    the lookup refuses the row and nothing is served under it."""
    directory = tmp_path / "kdc"
    admin(directory, "init", "--realm", REALM, *FAST_KDF)
    alice = f"alice@{REALM}"
    admin(directory, "addprinc", alice, input=f"{ALICE_PASS}\n{ALICE_PASS}\n")
    admin(directory, "cpw", alice, input=f"{BOB_PASS}\n{BOB_PASS}\n")
    with sqlite3.connect(directory / "principal.db") as db:
        (owner,) = db.execute("SELECT id FROM principals WHERE name = ?", (alice,)).fetchone()
        (moved,) = db.execute(
            "SELECT wrapped FROM kerberos_keys WHERE principal_id = ? AND kvno = 1 "
            "AND enctype = 18",
            (owner,),
        ).fetchone()
        changed = db.execute(
            "UPDATE kerberos_keys SET wrapped = ? WHERE principal_id = ? AND kvno = ? "
            "AND enctype = ?",
            (moved, owner, *into),
        )
        assert changed.rowcount == 1
    refused = pytest.raises(ConfigError, match="does not open with this master key stash")
    with open_store(directory) as store, refused:
        store.lookup(Principal.parse(alice))


# -- TGTs the KDC remembers (opened and checked once per TGT) ---------------------------------


def test_tgt_the_kdc_remembers_is_refused_once_its_key_version_is_gone(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    """The KDC keeps each TGT it opened and whose signature checked out, keyed by its exact
    ciphertext, so its next TGS-REQs skip decryption and the signature. A TGT that did not
    check out is never kept (a golden ticket stays refused on every try), and a kept TGT
    whose krbtgt key version an administrator removed is refused as it was before:
    ``KRB_AP_ERR_BADKEYVER``."""
    key = core.key_of(core.tgs)
    unsigned = reseal(tgt, key, authorization_data=None)
    for _ in range(2):
        request = make_tgs_req(unsigned, http, T0, os.urandom)
        assert refused(core.tgs_exchange, request).name == "KRB_AP_ERR_MODIFIED"
    assert len(core.opened_tgts) == 0
    core.service_ticket(tgt, http)
    assert len(core.opened_tgts) == 1
    core.change(core.tgs, keys={2: Key.generate(os.urandom, 2)}, kvno=2)
    request = make_tgs_req(tgt, http, T0, os.urandom)
    assert refused(core.tgs_exchange, request).name == "KRB_AP_ERR_BADKEYVER"


def test_kerberos_tgt_the_kdc_remembers_is_refused_once_its_key_version_is_gone(
    krb_realm: KerberosRealm,
) -> None:
    """The same on the Kerberos wire: a DER TGT kept by the KDC, its krbtgt keys rotated
    and the old version removed, is refused (``KRB_AP_ERR_BADKEYVER``, code 44)."""
    tgt, web = krb_tgt(krb_realm)
    assert krb_realm.send(tgs_request(tgt, web, T0, os.urandom)).error is None
    assert len(krb_realm.opened_tgts) == 1
    krb_realm.change(
        krb_realm.tgs, keys={2: Key.generate(os.urandom, 2)}, kvno=2, kerberos_keys=random_keys(2)
    )
    assert krb_realm.error(tgs_request(tgt, web, T0 + 1, os.urandom)).error_code == 44


# == Remote administration (issue 17 §1): the admin API and its ACL ==========================


ROOT_ADMIN, HELPDESK, AUDITOR = (f"{n}@{REALM}" for n in ("root/admin", "helpdesk", "auditor"))
ADMIN_PASS = "admin-attack-pass"
#: The default line, a helpdesk that may change passwords of users (one component) only, and
#: an auditor that may inquire and list, nothing else.
ADMIN_ACL = f"*/admin@{REALM} *\nhelpdesk@{REALM} c *@{REALM}\nauditor@{REALM} il\n"


@pytest.fixture(scope="module")
def admin_realm(tmp_path_factory: pytest.TempPathFactory) -> Realm:
    """EXAMPLE.TEST with root/admin, helpdesk and auditor, and :data:`ADMIN_ACL`."""
    realm = make_realm(tmp_path_factory.mktemp("admin") / "kdc")
    for name in (ROOT_ADMIN, HELPDESK, AUDITOR):
        admin(realm.directory, "addprinc", name, input=f"{ADMIN_PASS}\n")
    (realm.directory / "kadm5.acl").write_text(ADMIN_ACL)
    return realm


@pytest.fixture
def admin_kdc(admin_realm: Realm) -> KDC:
    return KDC(admin_realm)


def admin_ticket(kdc: KDC, name: str, server: Principal | None = None) -> Credential:
    """``name``'s ticket for kadmin/admin (or ``server``) from the KDC in-process, as
    ``orthrus kinit`` and the TGS exchange get it."""
    key = key_from(hint_of(kdc, name), ADMIN_PASS, name)
    request, now = as_req(name, key), time.time()
    tgt = read_as_rep(codec.decode(kdc.post("/v1/as", request).data, ASRep), request, key, now)
    tgs = make_tgs_req(tgt, server or admin_service(REALM), now, os.urandom)
    reply = codec.decode(kdc.post("/v1/tgs", tgs.message).data, TGSRep)
    return read_tgs_rep(reply, tgs, now)


@dataclasses.dataclass
class AdminRequest:
    """One sealed admin request as ``orthrus admin`` makes it, ready to send (or resend)."""

    path: str
    authorization: str
    body: bytes
    channel: PrivChannel

    def send(self, kdc: KDC, address: str = "127.0.0.1", https: bool = False) -> Any:
        return kdc.client.post(
            self.path,
            data=self.body,
            content_type=PRIV_CONTENT_TYPE,
            headers={"Authorization": self.authorization},
            environ_base={"REMOTE_ADDR": address},
            base_url="https://localhost" if https else "http://localhost",
        )

    def reply(self, answer: Any) -> AdminReply:
        assert answer.status_code == 200, answer.get_data(as_text=True)
        opened = self.channel.open(decode_priv(answer.data), time.time())
        return codec.decode(opened, AdminReply)


def admin_request(
    cred: Credential, operation: str, body: object, bound_to: str | None = None
) -> AdminRequest:
    path = f"/v1/admin/{operation}"
    channel = PrivChannel.initiator(os.urandom)
    fields = AuthenticatorFields(
        checksum=http_binding("POST", bound_to or path),
        subkey=channel.key,
        seq=channel.initial_seq,
        mutual=True,
    )
    ap_req, _ = make_ap_req(cred, time.time(), os.urandom, fields)
    sealed = encode_priv(channel.seal(codec.encode(body), time.time(), os.urandom))
    return AdminRequest(path, f"Ticket {encode_ap_req(ap_req)}", sealed, channel)


def last_audit_line(realm: Realm) -> dict[str, Any]:
    line = (realm.directory / "audit.log").read_text().splitlines()[-1]
    entry: dict[str, Any] = json.loads(line)
    return entry


def test_admin_without_the_permission_is_403_naming_it_and_changes_nothing(
    admin_realm: Realm, admin_kdc: KDC
) -> None:
    """An authenticated principal the ACL grants only ``c`` (helpdesk) or ``il`` (auditor)
    asks to add and delete principals: 403 ``KDC_ERR_POLICY`` naming the missing letter, an
    audit line naming who was refused what, and the database as it was."""
    before = sqlite_snapshot(admin_kdc.db)
    for who, operation, body, letter in (
        (HELPDESK, "addprinc", {"principal": f"mallory@{REALM}"}, "a"),
        (AUDITOR, "delprinc", {"principal": f"bob@{REALM}"}, "d"),
        (AUDITOR, "cpw", {"principal": f"bob@{REALM}"}, "c"),
    ):
        request = admin_request(admin_ticket(admin_kdc, who), operation, body)
        error = error_of(request.send(admin_kdc), 403)
        assert error["name"] == "KDC_ERR_POLICY"
        assert error["data"] == {"permission": letter, "operation": operation}
        assert f"the permission '{letter}'" in error["message"]
        line = last_audit_line(admin_realm)
        assert (line["admin"], line["action"], line["result"]) == (who, operation, "refused")
        assert line["missing_permission"] == letter
    assert sqlite_snapshot(admin_kdc.db) == before


def test_admin_acl_target_pattern_does_not_reach_other_components(admin_kdc: KDC) -> None:
    """``helpdesk c *@R`` lets the helpdesk reset a user's password, not an admin's
    (``root/admin``) nor a service's: ``*`` stays within one name component."""
    cred = admin_ticket(admin_kdc, HELPDESK)
    before = sqlite_snapshot(admin_kdc.db)
    for target in (ROOT_ADMIN, HTTP_NAME):
        request = admin_request(cred, "cpw", {"principal": target, "password": "x" * 20})
        assert error_of(request.send(admin_kdc), 403)["data"]["permission"] == "c"
    assert sqlite_snapshot(admin_kdc.db) == before
    allowed = admin_request(cred, "cpw", {"principal": f"bob@{REALM}", "password": "bob-new-pass"})
    assert allowed.reply(allowed.send(admin_kdc)).kvno == 2


def test_replayed_admin_request_is_repeat_and_done_once(admin_kdc: KDC) -> None:
    """An admin request captured on the wire and sent again (within the skew) is refused
    ``KRB_AP_ERR_REPEAT`` by the KDC's replay cache: the principal is added once."""
    request = admin_request(
        admin_ticket(admin_kdc, ROOT_ADMIN), "addprinc", {"principal": f"replayed@{REALM}"}
    )
    request.reply(request.send(admin_kdc))
    before = sqlite_snapshot(admin_kdc.db)
    assert error_of(request.send(admin_kdc), 401)["name"] == "KRB_AP_ERR_REPEAT"
    assert sqlite_snapshot(admin_kdc.db) == before


def test_admin_request_with_a_ticket_for_another_service_is_not_us(admin_kdc: KDC) -> None:
    """root/admin's ticket for a web service (or its TGT) is no admin ticket: only one for
    ``kadmin/admin@REALM`` opens the admin API (``KRB_AP_ERR_NOT_US``)."""
    before = sqlite_snapshot(admin_kdc.db)
    for server in (Principal.parse(HTTP_NAME), krbtgt(REALM)):
        cred = admin_ticket(admin_kdc, ROOT_ADMIN, server)
        request = admin_request(cred, "delprinc", {"principal": f"bob@{REALM}"})
        answer = request.send(admin_kdc)
        assert error_of(answer, 401)["name"] == "KRB_AP_ERR_NOT_US"
        assert answer.headers["WWW-Authenticate"] == f'Ticket realm="{REALM}"'
    assert sqlite_snapshot(admin_kdc.db) == before


def test_admin_request_moved_to_another_operation_is_modified(admin_kdc: KDC) -> None:
    """An AP-REQ made for ``getprinc`` sent to ``delprinc`` (with a body the attacker sealed
    under nothing they know: the subkey is the client's) is refused: the authenticator binds
    the path (``KRB_AP_ERR_MODIFIED``)."""
    cred = admin_ticket(admin_kdc, ROOT_ADMIN)
    request = admin_request(cred, "delprinc", {"principal": f"bob@{REALM}"}, "/v1/admin/getprinc")
    before = sqlite_snapshot(admin_kdc.db)
    assert error_of(request.send(admin_kdc), 401)["name"] == "KRB_AP_ERR_MODIFIED"
    assert sqlite_snapshot(admin_kdc.db) == before


def test_admin_ktadd_over_plain_http_from_another_host_is_refused(admin_kdc: KDC) -> None:
    """Keys leave the KDC only over TLS or to its own host: ``ktadd`` from 192.0.2.7 over
    plain HTTP is 403 saying so, even for an admin allowed to extract them; over HTTPS, or
    from loopback, the same admin gets them."""
    cred = admin_ticket(admin_kdc, ROOT_ADMIN)
    body = {"principals": [HTTP_NAME]}
    error = error_of(admin_request(cred, "ktadd", body).send(admin_kdc, "192.0.2.7"), 403)
    assert error["data"] == {"requires": "tls-or-loopback"}
    assert "only over TLS" in error["message"]
    for address, https in (("192.0.2.7", True), ("127.0.0.1", False), ("::1", False)):
        request = admin_request(cred, "ktadd", body)
        keytab = Keytab.from_bytes(
            request.reply(request.send(admin_kdc, address, https)).keytab or b""
        )
        assert {str(e.principal) for e in keytab.entries} == {HTTP_NAME}


def test_admin_ktadd_needs_the_extract_permission(admin_kdc: KDC) -> None:
    """The auditor may inquire about every principal but not extract keys: ``ktadd`` is 403
    naming ``e``, from loopback too; its getprinc (``i``) works and shows no key."""
    cred = admin_ticket(admin_kdc, AUDITOR)
    request = admin_request(cred, "ktadd", {"principals": [HTTP_NAME]})
    error = error_of(request.send(admin_kdc), 403)
    assert error["data"]["permission"] == "e"
    inquiry = admin_request(cred, "getprinc", {"principal": HTTP_NAME})
    info = inquiry.reply(inquiry.send(admin_kdc)).info or {}
    assert info["principal"] == HTTP_NAME and "key" not in json.dumps(info["keys"]).lower()


def test_admin_bad_input_is_a_specific_4xx_and_changes_nothing(
    admin_realm: Realm, admin_kdc: KDC
) -> None:
    """No Authorization, a garbage token, a clear body, a body that does not open, a sealed
    body that is not the operation's request, an unknown operation, a broken ACL file:
    each its own 4xx (503 for the ACL: fix the file), never a 500, nothing changed."""
    cred = admin_ticket(admin_kdc, ROOT_ADMIN)
    before = sqlite_snapshot(admin_kdc.db)
    good = admin_request(cred, "delprinc", {"principal": f"bob@{REALM}"})
    post = admin_kdc.client.post
    answer = post(good.path, data=good.body, content_type=PRIV_CONTENT_TYPE)
    assert error_of(answer, 401)["name"] == "KRB_AP_ERR_NOKEY"
    assert answer.headers["WWW-Authenticate"] == f'Ticket realm="{REALM}"'
    garbage = {"Authorization": "Ticket !!!"}
    answer = post(good.path, data=good.body, content_type=PRIV_CONTENT_TYPE, headers=garbage)
    assert error_of(answer, 400)["name"] == "KRB_ERR_GENERIC"
    clear = dataclasses.replace(admin_request(cred, "delprinc", {}), body=b'{"principal":"x"}')
    answer = post(
        clear.path,
        data=clear.body,
        content_type="application/json",
        headers={"Authorization": clear.authorization},
    )
    assert error_of(answer, 415)["name"] == "KRB_ERR_GENERIC"
    other = admin_request(cred, "delprinc", {"principal": f"bob@{REALM}"})
    foreign = dataclasses.replace(admin_request(cred, "delprinc", {}), body=other.body)
    assert error_of(foreign.send(admin_kdc), 401)["name"] == "KRB_AP_ERR_MODIFIED"
    for body in ({"principal": 5}, {"principal": "bob"}, {"principal": f"bob@{REALM}", "x": 1}):
        assert error_of(admin_request(cred, "delprinc", body).send(admin_kdc), 400)
    for bad in ({"max_life": -1}, {"groups": ["g" * 65]}, {"password": 5}):
        wrong = admin_request(cred, "addprinc", {"principal": f"c@{REALM}", **bad})
        assert error_of(wrong.send(admin_kdc), 400)["name"] == "KRB_ERR_GENERIC"
    unknown = admin_request(cred, "dump", {})
    assert error_of(unknown.send(admin_kdc), 404)["name"] == "KRB_ERR_GENERIC"
    missing = admin_request(cred, "delprinc", {"principal": f"nobody@{REALM}"})
    assert error_of(missing.send(admin_kdc), 404)["name"] == "KDC_ERR_C_PRINCIPAL_UNKNOWN"
    acl = admin_realm.directory / "kadm5.acl"
    acl.write_text(ADMIN_ACL + "bob@EXAMPLE.TEST q\n")
    try:
        broken = admin_request(cred, "delprinc", {"principal": f"bob@{REALM}"})
        assert "line 4: unknown operation 'q'" in error_of(broken.send(admin_kdc), 503)["message"]
    finally:
        acl.write_text(ADMIN_ACL)
    assert sqlite_snapshot(admin_kdc.db) == before


def test_admin_call_while_a_back_end_is_down_is_503_and_audited(
    admin_realm: Realm, admin_kdc: KDC, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database (or the replay cache's Redis) failing under an admin call is 503
    ``UNAVAILABLE`` with an audit line, never a 500 or an answer made without it."""

    def down(*_: object) -> list[str]:
        raise Unavailable("the database is unavailable")

    cred = admin_ticket(admin_kdc, ROOT_ADMIN)
    monkeypatch.setattr(admin_kdc.store, "list_names", down)
    answer = admin_request(cred, "listprincs", {}).send(admin_kdc)
    assert error_of(answer, 503)["name"] == "UNAVAILABLE"
    line = last_audit_line(admin_realm)
    assert (line["admin"], line["action"], line["error"]) == (
        ROOT_ADMIN,
        "listprincs",
        "UNAVAILABLE",
    )


# == Two-factor login (TOTP, RFC 6238; issue 17 §2) ==========================================

OTP_SECRET = b"\x07" * 20


class _RecoveryCodes:
    """The KDC's recovery codes (kdc.otp.StoredRecoveryCodes) as a set of digests."""

    def __init__(self, *codes: str) -> None:
        from orthrus.otp import recovery_digest

        self.digests = {recovery_digest(code) for code in codes}

    def consume(self, principal: Principal, digest: str) -> bool:
        if digest not in self.digests:
            return False
        self.digests.discard(digest)
        return True


@pytest.fixture
def otp_realm(core: CoreRealm) -> tuple[CoreRealm, Principal, Key]:
    """EX.TEST with dave, who logs in with a one-time code (enrolled), lockout after 3."""
    from kdc.lockout import LockoutPolicy, MemoryLockout
    from orthrus.otp import OTPEnrollment

    dave = core.add_user("dave", "dave-pass", requires_otp=True, otp=OTPEnrollment(OTP_SECRET))
    core.ctx = dataclasses.replace(
        core.ctx,
        guard=MemoryLockout(LockoutPolicy(attempts=3)),
        recovery_codes=_RecoveryCodes("abcde-fghij"),
    )
    return core, dave, core.user_key(dave, "dave-pass")


def _otp_login(realm: CoreRealm, who: Principal, key: Key, code: str | None, now: float) -> Any:
    options = ASOptions()
    req = make_as_req(who, now, os.urandom, options, key, code)
    rep = handle_as_req(wire(req, ASReq), realm.ctx, now)  # type: ignore[arg-type]
    return read_as_rep(wire(rep, ASRep), req, key, now)  # type: ignore[arg-type]


def _code(now: float) -> str:
    from orthrus.otp import totp_code

    return totp_code(OTP_SECRET, now)


def test_otp_replayed_code_is_refused(otp_realm: tuple[CoreRealm, Principal, Key]) -> None:
    """A code seen over a shoulder or in transit is worth nothing once used: the KDC's
    replay cache holds (principal, time step) until no clock accepts it again."""
    realm, dave, key = otp_realm
    now = T0 + 5
    assert _otp_login(realm, dave, key, _code(now), now).client == dave
    error = refused(_otp_login, realm, dave, key, _code(now), now + 10)
    assert error.name == "KDC_ERR_PREAUTH_FAILED" and "already used" in error.message


def test_otp_code_the_replay_cache_may_have_forgotten_is_refused(
    otp_realm: tuple[CoreRealm, Principal, Key],
) -> None:
    """RFC 4120 §3.2.3 for codes: a cache that started (a KDC restarted, Redis flushed)
    after a code became valid cannot tell whether it was used; a later code works."""
    from orthrus.replay import MemoryReplayCache

    realm, dave, key = otp_realm
    now = T0 + 2400 + 15  # the middle of a step: its code was valid from 45 s ago
    realm.ctx = dataclasses.replace(realm.ctx, replay_cache=MemoryReplayCache(started_at=now - 5))
    error = refused(_otp_login, realm, dave, key, _code(now), now)
    assert error.name == "KDC_ERR_PREAUTH_FAILED" and "cannot tell" in error.message
    later = now + 2 * 30  # the first code that became valid after the cache started
    assert _otp_login(realm, dave, key, _code(later), later).client == dave


def test_otp_code_from_another_window_is_refused(
    otp_realm: tuple[CoreRealm, Principal, Key],
) -> None:
    """RFC 6238 §5.2: one step of drift either side, no more."""
    realm, dave, key = otp_realm
    now = T0 + 600
    for stale in (now - 90, now + 90):
        error = refused(_otp_login, realm, dave, key, _code(stale), now)
        assert error.name == "KDC_ERR_PREAUTH_FAILED" and "another time window" in error.message
    assert _otp_login(realm, dave, key, _code(now - 30), now).client == dave


def test_otp_wrong_code_is_counted_by_lockout(
    otp_realm: tuple[CoreRealm, Principal, Key],
) -> None:
    """Whoever knows the password may not guess codes: a wrong code is a failed login."""
    realm, dave, key = otp_realm
    now = T0 + 1200
    wrong = f"{(int(_code(now)) + 1) % 1_000_000:06d}"
    for _ in range(3):
        assert refused(_otp_login, realm, dave, key, wrong, now).name == "KDC_ERR_PREAUTH_FAILED"
    error = refused(_otp_login, realm, dave, key, _code(now), now)
    assert error.name == "KDC_ERR_CLIENT_REVOKED"


def test_otp_password_alone_is_refused(otp_realm: tuple[CoreRealm, Principal, Key]) -> None:
    """Without PA-OTP the KDC asks for the code (and says so in the data), issuing nothing."""
    realm, dave, key = otp_realm
    error = refused(_otp_login, realm, dave, key, None, T0)
    assert error.name == "KDC_ERR_PREAUTH_REQUIRED" and error.data.get("otp") == "totp"


def test_otp_not_enrolled_gets_only_the_enrollment_ticket(core: CoreRealm) -> None:
    """--require-otp before enrollment: a password buys a kadmin/changepw ticket (to enroll)
    and nothing else."""
    from orthrus.kpasswd import changepw_service

    erin = core.add_user("erin", "erin-pass", requires_otp=True)
    core.add_service("kadmin/changepw")
    key = core.user_key(erin, "erin-pass")
    assert refused(core.login, erin, key).name == "KDC_ERR_POLICY"
    req = core.as_req(erin, key, server=changepw_service(core.name))
    assert core.as_exchange(req).ticket.server == changepw_service(core.name)


def test_otp_code_sealed_for_another_request_is_refused(
    otp_realm: tuple[CoreRealm, Principal, Key],
) -> None:
    """PA-OTP names its request's nonce: cut from one AS-REQ and pasted into another (with a
    fresh timestamp), it does not count."""
    realm, dave, key = otp_realm
    now = T0 + 1800
    donor = make_as_req(dave, now, os.urandom, ASOptions(), key, _code(now))
    target = make_as_req(dave, now, os.urandom, ASOptions(), key)
    spliced = msgspec.structs.replace(target, padata=[*target.padata, donor.padata[1]])
    error = refused(realm.as_exchange, spliced, now)
    assert error.name == "KDC_ERR_PREAUTH_FAILED" and "another request" in error.message


def test_otp_recovery_code_works_once(otp_realm: tuple[CoreRealm, Principal, Key]) -> None:
    """A recovery code stands in for a code, once."""
    realm, dave, key = otp_realm
    tgt = _otp_login(realm, dave, key, "ABCDE-FGHIJ", T0)
    assert tgt.client == dave
    error = refused(_otp_login, realm, dave, key, "abcde-fghij", T0 + 5)
    assert error.name == "KDC_ERR_PREAUTH_FAILED" and "already used" in error.message


def test_otp_factor_holds_in_every_ticket_of_a_tgt_the_kdc_remembers(
    otp_realm: tuple[CoreRealm, Principal, Key],
) -> None:
    """The TGS reads a TGT's signed ``auth_factors`` once, when it first checks the TGT, and
    keeps them with the TGT it remembers: the next service ticket made with it (signature
    not checked again) still says ``otp``, and a TGT without a code never gains it."""
    realm, dave, key = otp_realm
    assert realm.ctx.opened_tgts is not None
    web, api = realm.principal("HTTP/web"), realm.add_service("HTTP/api")
    tgt = _otp_login(realm, dave, key, _code(T0), T0)
    for service in (web, api):  # the second request finds the TGT remembered
        part = open_ticket(realm.service_ticket(tgt, service).ticket, realm.key_of(service))
        assert realm.verifier().claims(part, service, 300, T0).factors == ("otp",)
    bob = realm.principal("bob")
    plain = realm.login(bob, realm.user_key(bob, "bob-pass"))
    for service in (web, api):
        part = open_ticket(realm.service_ticket(plain, service).ticket, realm.key_of(service))
        assert realm.verifier().claims(part, service, 300, T0).factors == ()


def test_otp_forged_auth_factors_claim_is_modified(
    otp_realm: tuple[CoreRealm, Principal, Key],
) -> None:
    """A ticket's auth_factors are the KDC's word: a login with a code carries ``otp`` into
    its service tickets; re-signing the claim with another key, or editing it under the
    KDC's signature, is KRB_AP_ERR_MODIFIED."""
    realm, dave, key = otp_realm
    web = realm.principal("HTTP/web")
    tgt = _otp_login(realm, dave, key, _code(T0), T0)
    with_otp = realm.service_ticket(tgt, web)
    part = open_ticket(with_otp.ticket, realm.key_of(web))
    assert realm.verifier().claims(part, web, 300, T0).factors == ("otp",)
    bob = realm.principal("bob")
    plain = realm.service_ticket(realm.login(bob, realm.user_key(bob, "bob-pass")), web)
    bob_part = open_ticket(plain.ticket, realm.key_of(web))
    assert realm.verifier().claims(bob_part, web, 300, T0).factors == ()
    claims = jwt.decode(bob_part.authorization_data or "", options={"verify_signature": False})
    forged_key = Ed25519PrivateKey.generate()
    for token in (
        jwt.encode(
            {**claims, "auth_factors": ["otp"]},
            forged_key,
            "EdDSA",
            headers={"kid": realm.signer.kid},
        ),
        _edit_payload(bob_part.authorization_data or "", {**claims, "auth_factors": ["otp"]}),
    ):
        forged = msgspec.structs.replace(bob_part, authorization_data=token)
        error = refused(realm.verifier().claims, forged, web, 300, T0)
        assert error.name == "KRB_AP_ERR_MODIFIED"


def test_otp_service_requiring_it_refuses_a_ticket_without_it(
    otp_realm: tuple[CoreRealm, Principal, Key], clock: Clock
) -> None:
    """``@auth.required(factors=["otp"])``: bob's ticket (a password alone) is 403 naming
    the missing factor, with a ticket or with the session it opened; dave's, from a login
    with a code, is let in."""
    realm, dave, key = otp_realm
    http = realm.principal("HTTP/web")
    bob = realm.principal("bob")
    bobs = realm.service_ticket(realm.login(bob, realm.user_key(bob, "bob-pass")), http)
    daves = realm.service_ticket(_otp_login(realm, dave, key, _code(T0), T0), http)
    client = session_app(make_verifier(realm, clock))

    def ticket(cred: Credential) -> dict[str, str]:
        return {"Authorization": f"Ticket {ap_token(cred, T0, ('GET', '/mfa'))}"}

    refused_bob = client.get("/mfa", headers=ticket(bobs))
    assert error_of(refused_bob, 403)["data"] == {"missing_factors": ["otp"]}
    session = open_session(client, bobs, T0).headers[SESSION_HEADER]
    by_session = client.get("/mfa", headers=proved(session, bobs.session_key, T0, ("GET", "/mfa")))
    assert error_of(by_session, 403)["data"] == {"missing_factors": ["otp"]}
    let_in = client.get("/mfa", headers=ticket(daves))
    assert let_in.status_code == 200 and let_in.json == {"factors": ["otp"]}


def test_otp_enrolling_again_without_a_code_is_refused(
    otp_realm: tuple[CoreRealm, Principal, Key],
) -> None:
    """An enrolled user replaces the authenticator only with a ticket whose login gave a
    code: a password alone (a changepw ticket from before --require-otp) does not take the
    second factor over. With a code, the enrollment goes through."""
    from kdc.otp import OTPEnrollment
    from orthrus.kpasswd import changepw_service
    from orthrus.otp import OTPEnrollment as Enrolled
    from orthrus.otp_enroll import OTPEnrollReq, OTPEnrollResult, make_otp_enroll_req

    class Enrollment(OTPEnrollment):
        def enroll(self, principal: Principal) -> OTPEnrollResult:
            return OTPEnrollResult(principal, b"\x01" * 20, [])

    realm, dave, key = otp_realm
    changepw = changepw_service(realm.name)
    realm.add_service("kadmin/changepw")
    keys_for = {changepw: {1: realm.key_of(changepw)}}.get
    rules = APRules(replay_cache=MemoryReplayCache(), where="KDC")
    exchange = Enrollment(None, rules, changepw, keys_for)  # type: ignore[arg-type]
    realm.change(dave, requires_otp=False)
    options = ASOptions(server=changepw)
    before = make_as_req(dave, T0, os.urandom, options, key)
    old_ticket = read_as_rep(realm.as_exchange(before), before, key, T0)
    realm.change(dave, requires_otp=True, otp=Enrolled(OTP_SECRET))

    def enroll(ticket: Credential) -> Any:
        request, _ = make_otp_enroll_req(ticket, T0 + 1, os.urandom)
        return exchange(wire(request, OTPEnrollReq), realm.ctx, T0 + 1, ExchangeNames())

    assert refused(enroll, old_ticket).name == "KDC_ERR_POLICY"
    with_code = make_as_req(dave, T0, os.urandom, options, key, _code(T0))
    assert enroll(read_as_rep(realm.as_exchange(with_code), with_code, key, T0)) is not None


def _edit_payload(token: str, claims: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    payload = b64u_encode(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{signature}"


def test_kerberos_login_of_an_otp_principal_is_refused(krb_realm: KerberosRealm) -> None:
    """The DER wire has no PA-OTP (MIT's OTP, RFC 6560, is a RADIUS bridge): a principal
    that must give a one-time code gets no ticket there with its password alone, only
    KDC_ERR_POLICY naming the client that can log it in."""
    from orthrus.otp import OTPEnrollment

    dave = krb_realm.add_krb_user(
        "dave", "correct horse", requires_otp=True, otp=OTPEnrollment(OTP_SECRET)
    )
    answer = krb_realm.send(krb_realm.krb_as_req(dave, "correct horse")[0])
    assert answer.error == "KDC_ERR_POLICY" and "orthrus kinit" in (answer.message or "")


# -- delegation (issue 17 §3): forwarded TGTs and constrained delegation ---------------------


@pytest.fixture
def delegation(core: CoreRealm) -> tuple[Principal, Principal, Principal]:
    """HTTP/front allowed to delegate to HTTP/backend only; HTTP/lone allowed nothing;
    and HTTP/backend."""
    backend = core.add_service("HTTP/backend")
    front = core.add_service("HTTP/front", delegate_to=frozenset({backend}))
    lone = core.add_service("HTTP/lone")
    return front, lone, backend


def evidence_for(core: CoreRealm, service: Principal, forwardable: bool = True) -> Credential:
    """Alice's ticket to ``service``, from a TGT of 'orthrus kinit [-f]'."""
    alice = core.principal("alice")
    tgt = core.login(alice, core.user_key(alice, "alice-pass"), T0, forwardable=forwardable)
    return core.service_ticket(tgt, service, T0)


def proxy_refused(
    core: CoreRealm, service: Principal, evidence: Credential, backend: Principal
) -> ProtocolError:
    """The error of ``service``'s S4U2Proxy request; nothing entered the replay cache."""
    service_tgt = core.service_login(service)
    before = len(core.replay)
    request = make_proxy_req(service_tgt, evidence.ticket, evidence.client, backend, T0, os.urandom)
    error = refused(core.tgs_exchange, request)
    assert len(core.replay) == before
    return error


def test_delegation_to_a_service_not_allowed_is_badoption(
    core: CoreRealm, delegation: tuple[Principal, Principal, Principal]
) -> None:
    """HTTP/front may delegate to HTTP/backend only: asking for HTTP/other (or the KDC's
    own krbtgt, a TGT in alice's name) in alice's name is ``KDC_ERR_BADOPTION``."""
    front, _, backend = delegation
    evidence = evidence_for(core, front)
    for target in (core.principal("HTTP/other"), core.tgs):
        error = proxy_refused(core, front, evidence, target)
        assert error.name == "KDC_ERR_BADOPTION"
        assert "not allowed to delegate" in error.message
    assert core.delegate(core.service_login(front), evidence, backend).client == evidence.client


def test_s4u2proxy_by_a_service_with_no_permission_is_badoption(
    core: CoreRealm, delegation: tuple[Principal, Principal, Principal]
) -> None:
    """HTTP/lone, which an administrator allowed no delegation, holds alice's genuine
    forwardable ticket and asks for HTTP/backend in her name: ``KDC_ERR_BADOPTION``."""
    _, lone, backend = delegation
    error = proxy_refused(core, lone, evidence_for(core, lone), backend)
    assert error.name == "KDC_ERR_BADOPTION"


def test_delegation_with_an_evidence_ticket_for_another_service_is_badoption(
    core: CoreRealm, delegation: tuple[Principal, Principal, Principal]
) -> None:
    """HTTP/front presents a ticket alice got for HTTP/lone (stolen, or sniffed) as
    evidence: a service may act only on a ticket given to itself (``KDC_ERR_BADOPTION``)."""
    front, lone, backend = delegation
    error = proxy_refused(core, front, evidence_for(core, lone), backend)
    assert error.name == "KDC_ERR_BADOPTION"
    assert "evidence ticket is for" in error.message


def test_delegation_with_evidence_minted_with_the_service_key_is_modified(
    core: CoreRealm, delegation: tuple[Principal, Principal, Principal]
) -> None:
    """HTTP/front holds its own key, so it can seal a ticket to itself claiming any client
    (a silver ticket as evidence, to act as bob, or alice with admins): the KDC checks its
    own signature on the evidence and refuses it (``KRB_AP_ERR_MODIFIED``)."""
    front, _, backend = delegation
    evidence = evidence_for(core, front)
    key = core.key_of(front)
    for forged in (
        reseal(evidence, key, client=core.principal("bob")),
        reseal(evidence, key, authorization_data=None),
    ):
        assert proxy_refused(core, front, forged, backend).name == "KRB_AP_ERR_MODIFIED"


def test_delegation_of_a_non_forwardable_ticket_is_badoption(
    core: CoreRealm, delegation: tuple[Principal, Principal, Principal]
) -> None:
    """Alice logged in without -f (or her principal is disallowed forwardable tickets):
    her ticket to HTTP/front is not forwardable, so no service may act in her name; a
    delegated ticket is never forwardable either, so there is no second hop."""
    front, _, backend = delegation
    error = proxy_refused(core, front, evidence_for(core, front, forwardable=False), backend)
    assert error.name == "KDC_ERR_BADOPTION"
    core.change(backend, delegate_to=frozenset({front}))
    delegated = core.delegate(core.service_login(front), evidence_for(core, front), backend)
    assert proxy_refused(core, backend, delegated, front).name == "KDC_ERR_BADOPTION"


def test_forwarding_a_non_forwardable_tgt_is_badoption(core: CoreRealm, tgt: Credential) -> None:
    """A TGT from 'orthrus kinit' without -f is not FORWARDABLE: a FORWARDED TGT asked for
    with it is ``KDC_ERR_BADOPTION`` (RFC 4120 §2.6); so is one from a forwardable TGT once
    an administrator disallowed forwardable tickets for its client."""
    before = len(core.replay)
    request = make_forward_req(tgt, T0, os.urandom)
    assert refused(core.tgs_exchange, request).name == "KDC_ERR_BADOPTION"
    alice = core.principal("alice")
    forwardable = core.login(alice, core.user_key(alice, "alice-pass"), T0, forwardable=True)
    core.change(alice, allow_forwardable=False)
    request = make_forward_req(forwardable, T0, os.urandom)
    assert refused(core.tgs_exchange, request).name == "KDC_ERR_BADOPTION"
    assert len(core.replay) == before


def test_delegated_by_tampered_with_the_back_end_key_is_modified(
    core: CoreRealm, delegation: tuple[Principal, Principal, Principal], clock: Clock
) -> None:
    """Whoever holds HTTP/backend's key re-seals a delegated ticket with ``dlg`` (the
    delegating service) removed or changed in its authorization data — to pass a request
    HTTP/front made as alice's own, or as another front's. The KDC signed ``dlg``: the
    verifier refuses both (``KRB_AP_ERR_MODIFIED``) and takes the genuine one."""
    front, _, backend = delegation
    delegated = core.delegate(core.service_login(front), evidence_for(core, front), backend)
    key = core.key_of(backend)
    part = open_ticket(delegated.ticket, key)
    token = part.authorization_data or ""
    header, payload, signature = token.split(".")
    claims = json.loads(b64u_decode(payload))
    forgeries = []
    for dlg in (None, f"HTTP/lone@{core.name}"):
        changed = {k: v for k, v in claims.items() if k != "dlg"}
        changed.update({"dlg": dlg} if dlg else {})
        edited = b64u_encode(json.dumps(changed, separators=(",", ":")).encode())
        forgeries.append(
            reseal(delegated, key, authorization_data=f"{header}.{edited}.{signature}")
        )
    verifier = make_verifier(core, clock, names=("HTTP/backend",))
    for forged in forgeries:
        token = ap_token(forged, T0)
        assert refused(verifier.verify, token, "GET", "/notes").name == "KRB_AP_ERR_MODIFIED"
    assert cache_size(verifier.replay_cache) == 0
    identity = verifier.verify(ap_token(delegated, T0), "GET", "/notes")
    assert (identity.principal, identity.delegated_by) == (core.principal("alice"), front)


def test_forwarded_tgt_of_another_client_is_modified(
    core: CoreRealm, service_cred: Credential, clock: Clock
) -> None:
    """Alice authenticates to HTTP/web and hands it, as her forwarded TGT, bob's (stolen:
    the service would then act as bob while its log says alice), or one sealed under
    another ticket's session key (lifted from another request). The credential must be
    the authenticated client's, sealed under this ticket's session key:
    ``KRB_AP_ERR_MODIFIED``."""
    bob = core.principal("bob")
    bobs_tgt = core.login(bob, core.user_key(bob, "bob-pass"), T0, forwardable=True)
    alice = service_cred.client
    alices_tgt = core.login(alice, core.user_key(alice, "alice-pass"), T0, forwardable=True)
    other = core.service_ticket(alices_tgt, core.principal("HTTP/other"), T0)
    verifier = make_verifier(core, clock)
    identity = verifier.verify(ap_token(service_cred, T0), "GET", "/notes")
    for forwarded in (
        seal_forwarded_tgt(bobs_tgt, service_cred.session_key, os.urandom),
        seal_forwarded_tgt(alices_tgt, other.session_key, os.urandom),
    ):
        error = refused(verifier.with_forwarded_tgt, identity, forwarded)
        assert error.name == "KRB_AP_ERR_MODIFIED"
    sealed = seal_forwarded_tgt(alices_tgt, service_cred.session_key, os.urandom)
    assert verifier.with_forwarded_tgt(identity, sealed).forwarded_tgt == alices_tgt


def test_delegation_without_evidence_or_for_a_revoked_or_expired_user_is_refused(
    core: CoreRealm, delegation: tuple[Principal, Principal, Principal]
) -> None:
    """The rest of S4U2Proxy's checks: no evidence ticket (``KDC_ERR_BADOPTION``); evidence
    whose client an administrator disabled since (``KDC_ERR_CLIENT_REVOKED``); evidence that
    has ended (``KRB_AP_ERR_TKT_EXPIRED``); a KDC that signs no authorization data delegates
    nothing, since it could not tell real evidence from a service's own (``BADOPTION``)."""
    front, _, backend = delegation
    evidence = evidence_for(core, front)
    service_tgt = core.service_login(front)
    body = KDCReqBody(server=backend, nonce=7, till=0, options=["cname-in-addl-tkt"])
    bare = make_tgs_req(service_tgt, backend, T0, os.urandom, body)
    assert refused(core.tgs_exchange, bare).name == "KDC_ERR_BADOPTION"
    later = T0 + evidence.endtime - evidence.starttime + 301
    late_tgt = core.service_login(front, later - 60)
    request = make_proxy_req(late_tgt, evidence.ticket, evidence.client, backend, later, os.urandom)
    assert refused(core.tgs_exchange, request, later).name == "KRB_AP_ERR_TKT_EXPIRED"
    alice = core.principal("alice")
    core.change(alice, allow_tickets=False)
    assert proxy_refused(core, front, evidence, backend).name == "KDC_ERR_CLIENT_REVOKED"
    core.change(alice, allow_tickets=True)
    core.ctx = dataclasses.replace(core.ctx, signer=None)
    assert proxy_refused(core, front, evidence, backend).name == "KDC_ERR_BADOPTION"


def test_forwarded_ticket_for_a_service_is_badoption(core: CoreRealm, http: Principal) -> None:
    """FORWARDED asks for a TGT to hand over; asked for another server (a forwarded service
    ticket, which Orthrus does not issue) it is ``KDC_ERR_BADOPTION``."""
    alice = core.principal("alice")
    tgt = core.login(alice, core.user_key(alice, "alice-pass"), T0, forwardable=True)
    body = KDCReqBody(server=http, nonce=9, till=0, options=["forwarded", "forwardable"])
    request = make_tgs_req(tgt, http, T0, os.urandom, body)
    assert refused(core.tgs_exchange, request).name == "KDC_ERR_BADOPTION"


# Negotiate (RFC 4559, issue 15): the service's defences on the Kerberos wire. The realm is
# the DER KDC of tests/core (real tickets, KDC-signed groups); the service holds an MIT keytab.

NEGOTIATE_CHALLENGES = ['Ticket realm="EX.TEST"', "Negotiate"]


@dataclasses.dataclass
class NegotiateService:
    realm: KerberosRealm
    alice: KerberosCredential
    web: Principal
    other: Principal
    client: FlaskClient
    replay_cache: MemoryReplayCache

    def header(self, cred: KerberosCredential | None = None, mutual: bool = True) -> str:
        from orthrus.kerberos.gss import DEFAULT_FLAGS, initiate_security_context
        from orthrus.kerberos.gss_tokens import GSS_C_MUTUAL_FLAG
        from orthrus.negotiate import negotiate_header

        flags = DEFAULT_FLAGS if mutual else DEFAULT_FLAGS & ~GSS_C_MUTUAL_FLAG
        context = initiate_security_context(cred or self.alice, T0, os.urandom, flags=flags)
        return negotiate_header(context.token)

    def get(self, header: str) -> Any:
        return self.client.get("/whoami", headers={"Authorization": header})


@pytest.fixture
def negotiate_service(krb_realm: KerberosRealm, tmp_path: Path) -> NegotiateService:
    """HTTP/web@EX.TEST behind the Flask extension, its keytab an MIT one that also holds
    HTTP/other's keys (a host keytab of several services) while it is HTTP/web only."""
    from orthrus.kerberos.client import read_kdc_rep
    from orthrus.mitkeytab import MITKeytabEntry, serialize_keytab

    tgt, web = krb_tgt(krb_realm)
    other = krb_realm.add_krb_service("HTTP/other")
    entries = [
        MITKeytabEntry(p, k.kvno, k.key)
        for p in (web, other)
        for k in krb_realm.entries[p].kerberos_keys
    ]
    keytab = tmp_path / "krb5.keytab"
    write_private(keytab, serialize_keytab(entries))
    source = KeytabSource(keytab, {web}, kdc_jwks=krb_realm.signer.jwks())
    replay_cache = MemoryReplayCache()
    verifier = Verifier(source, replay_cache, clock=lambda: T0 + 1)
    app = Flask(__name__)
    auth = TicketAuth(app, verifier)

    @app.get("/whoami")
    @auth.required
    def whoami() -> Any:
        identity = current_identity()
        assert identity is not None
        return {"name": identity.name, "groups": list(identity.groups)}

    request = tgs_request(tgt, web, T0, os.urandom)
    alice = read_kdc_rep(krb_realm.reply(request), request)
    return NegotiateService(krb_realm, alice, web, other, app.test_client(), replay_cache)


def _negotiate_refused(response: Any, name: str) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json()["error"]["name"] == name
    assert response.headers.getlist("WWW-Authenticate") == NEGOTIATE_CHALLENGES


def test_negotiate_header_replayed_is_repeat(negotiate_service: NegotiateService) -> None:
    """A captured ``Authorization: Negotiate`` header sent again: the same replay cache as
    the Ticket scheme refuses it (``KRB_AP_ERR_REPEAT``), and the refusal stores nothing."""
    header = negotiate_service.header()
    assert negotiate_service.get(header).status_code == 200
    assert len(negotiate_service.replay_cache) == 1
    _negotiate_refused(negotiate_service.get(header), "KRB_AP_ERR_REPEAT")
    assert len(negotiate_service.replay_cache) == 1


def test_negotiate_ticket_for_another_service_of_the_keytab_is_not_us(
    negotiate_service: NegotiateService,
) -> None:
    """A ticket for HTTP/other, whose keys this host's keytab also holds, sent to HTTP/web:
    the service is only the principals it names (``KRB_AP_ERR_NOT_US``), not its keytab."""
    realm = negotiate_service.realm
    tgt = realm.krb_login(realm.principal("alice"), "correct horse")
    request = tgs_request(tgt, negotiate_service.other, T0, os.urandom)
    from orthrus.kerberos.client import read_kdc_rep

    for_other = read_kdc_rep(realm.reply(request), request)
    response = negotiate_service.get(negotiate_service.header(for_other))
    _negotiate_refused(response, "KRB_AP_ERR_NOT_US")
    assert len(negotiate_service.replay_cache) == 0


def test_negotiate_ticket_with_a_flipped_bit_is_modified(
    negotiate_service: NegotiateService,
) -> None:
    """One bit of the ticket's ciphertext flipped where CBC carries it into the ticket flags
    (block 0 of the ciphertext is XORed into plaintext block 1, whose byte 13 is the first
    octet of the flags): the DER would still read, only the RFC 3961 MAC catches it
    (``KRB_AP_ERR_MODIFIED``, as the Ticket scheme answers)."""
    cred = negotiate_service.alice
    sealed = cred.ticket.enc_part
    cipher = bytearray(sealed.cipher)
    cipher[13] ^= 0x40  # forwardable
    ticket = dataclasses.replace(
        cred.ticket, enc_part=dataclasses.replace(sealed, cipher=bytes(cipher))
    )
    forged = dataclasses.replace(cred, ticket=ticket)
    _negotiate_refused(
        negotiate_service.get(negotiate_service.header(forged)), "KRB_AP_ERR_MODIFIED"
    )
    assert len(negotiate_service.replay_cache) == 0


def test_negotiate_silver_ticket_with_forged_groups_is_modified(
    negotiate_service: NegotiateService,
) -> None:
    """Whoever stole HTTP/web's key (the MIT keytab) mints a DER ticket for alice in group
    ``admins``, its authorization data signed by a key of their own: the KDC's signature
    (its JWKS, ``kdc_jwks``) does not verify (``KRB_AP_ERR_MODIFIED``)."""
    realm, web = negotiate_service.realm, negotiate_service.web
    forger = AuthzSigner(Ed25519PrivateKey.generate(), "kdc-test-1", realm.name)
    genuine = open_kerberos_ticket(negotiate_service.alice.ticket, realm.entries[web])
    part = msgspec.structs.replace(genuine, authorization_data=None)
    part = msgspec.structs.replace(part, authorization_data=forger.sign(part, web, ("admins",)))
    key = realm.entries[web].kerberos_keys[0]
    ticket = seal_kerberos_ticket(part, web, key.key, key.kvno, os.urandom)
    forged = dataclasses.replace(negotiate_service.alice, ticket=ticket)
    _negotiate_refused(
        negotiate_service.get(negotiate_service.header(forged)), "KRB_AP_ERR_MODIFIED"
    )


def test_negotiate_ap_rep_of_an_earlier_exchange_is_mut_fail(
    negotiate_service: NegotiateService,
) -> None:
    """An impostor in the middle answers a new request with the real service's AP-REP of an
    earlier one (same ticket, same session key): the client checks that the AP-REP echoes
    its own authenticator's time (RFC 4120 §3.2.5) and refuses it (``KRB_AP_ERR_MUT_FAIL``)."""
    from orthrus.kerberos.gss import complete_security_context, initiate_security_context
    from orthrus.negotiate import negotiate_header

    cred = negotiate_service.alice
    earlier = initiate_security_context(cred, T0, os.urandom)
    answer = negotiate_service.get(negotiate_header(earlier.token))
    recorded = base64.b64decode(answer.headers["WWW-Authenticate"].partition(" ")[2])
    assert complete_security_context(earlier, recorded) is not None
    later = initiate_security_context(cred, T0 + 0.5, os.urandom)
    with pytest.raises(ProtocolError) as caught:
        complete_security_context(later, recorded)
    assert caught.value.name == "KRB_AP_ERR_MUT_FAIL"


# -- cross-realm trust (issue 17 §4; RFC 4120 §1.2, §3.3.3.2) --------------------------------


def cross_realm_refusal(realms: TwoRealms, tgt: Credential, server: Principal) -> ProtocolError:
    """B.TEST's answer to a TGS-REQ for ``server`` with ``tgt``; its replay cache untouched."""
    request = make_tgs_req(tgt, server, T0 + 1, os.urandom)
    error = refused(realms.b.tgs_exchange, request, T0 + 1)
    assert len(realms.b.replay) == 0
    return error


def test_cross_realm_forged_transited_path_is_refused() -> None:
    """Whoever holds a trust key (A.TEST's KDC, or a thief of its key) can write any client
    and any path in a cross-realm TGT. B.TEST believes a client of another realm than A.TEST
    only along a path its ``capaths`` list, and refuses the rest with ``KDC_ERR_POLICY``:
    a client of a realm B.TEST never heard of, a path hiding a realm, a path through a realm
    it does not list (RFC 4120 §3.3.3.2)."""
    realms = TwoRealms()
    realms.policy(capaths={"C.TEST": (A,)})
    for client, path in (
        ("mallory@EVIL.TEST", ""),
        ("carol@C.TEST", "EVIL.TEST"),
        ("carol@C.TEST", f"{A}"),
    ):
        error = cross_realm_refusal(realms, realms.forged(client, path), realms.svc)
        assert error.name == "KDC_ERR_POLICY" and "does not trust" in str(error)
    realms.b.service_ticket(realms.forged("carol@C.TEST"), realms.svc, T0 + 1)


def test_cross_realm_tgt_of_realm_without_trust_is_refused() -> None:
    """A TGT ``krbtgt/B.TEST@C.TEST`` of a realm B.TEST shares no key with is refused as
    such (``KDC_ERR_POLICY``, naming the missing trust), before any key is tried."""
    realms = TwoRealms()
    stranger = Principal(("krbtgt", B), "C.TEST")
    error = cross_realm_refusal(realms, realms.forged("carol@C.TEST", "", stranger), realms.svc)
    assert error.name == "KDC_ERR_POLICY" and "no trust with C.TEST" in str(error)


def test_cross_realm_tgt_used_as_local_tgt_is_refused() -> None:
    """A cross-realm TGT is no TGT of either realm: A.TEST's KDC refuses its own
    ``krbtgt/B.TEST@A.TEST`` as a TGT (``KDC_ERR_WRONG_REALM``), and B.TEST's gives it
    neither its own TGT ``krbtgt/B.TEST@B.TEST`` nor a renewal (``KDC_ERR_POLICY``), which
    would make a foreign client a local one."""
    realms = TwoRealms()
    realms.a.add_service("HTTP/a")
    cross = realms.cross_tgt()
    request = make_tgs_req(cross, realms.a.principal("HTTP/a"), T0 + 1, os.urandom)
    assert refused(realms.a.tgs_exchange, request, T0 + 1).name == "KDC_ERR_WRONG_REALM"
    error = cross_realm_refusal(realms, cross, realms.b.tgs)
    assert error.name == "KDC_ERR_POLICY" and "own TGT" in str(error)


def test_cross_realm_groups_are_not_granted_by_the_other_realm() -> None:
    """A.TEST's KDC signs alice@A.TEST into its group ``admins``; B.TEST has an ``admins``
    group too (and an alice@B.TEST in it). B.TEST's ticket for alice@A.TEST carries only
    the groups B.TEST's ``foreign_groups`` give her, never what A.TEST's signature claims
    nor the groups of B.TEST's principal of the same name."""
    realms = TwoRealms()
    realms.policy(foreign_groups={f"*@{A}": ("guests",)})
    ticket = realms.b.service_ticket(realms.forged(f"alice@{A}"), realms.svc, T0 + 1)
    part = open_ticket(ticket.ticket, realms.b.key_of(realms.svc))
    assert realms.b.verifier().verify(part, realms.svc, 300, T0 + 1) == ("guests",)


def test_cross_realm_login_factors_are_not_taken_from_the_other_realm() -> None:
    """A.TEST's signature says alice@A.TEST logged in with a one-time code; B.TEST does not
    take A.TEST's word for what B.TEST's services require (``@auth.required(factors=...)``):
    its ticket for her names no factor."""
    realms = TwoRealms()
    tgt = realms.forged(f"alice@{A}", factors=("otp",))
    ticket = realms.b.service_ticket(tgt, realms.svc, T0 + 1)
    part = open_ticket(ticket.ticket, realms.b.key_of(realms.svc))
    assert realms.b.verifier().claims(part, realms.svc, 300, T0 + 1).factors == ()


def test_forwarding_or_delegation_for_a_cross_realm_client_is_badoption() -> None:
    """Forwarding (RFC 4120 §2.6) and S4U2Proxy are between principals of one realm: B.TEST
    has no entry, hence no delegation rights, for alice@A.TEST, and refuses both with
    ``KDC_ERR_BADOPTION`` even for a forwardable cross-realm TGT."""
    realms = TwoRealms()
    tgt = realms.forged(f"alice@{A}", flags=("pre-authent", "forwardable"))
    forward = make_forward_req(tgt, T0 + 1, os.urandom)
    evidence = realms.b.service_ticket(tgt, realms.svc, T0 + 1)
    proxy = make_proxy_req(tgt, evidence.ticket, tgt.client, realms.svc, T0 + 1, os.urandom)
    for request in (forward, proxy):
        error = refused(realms.b.tgs_exchange, request, T0 + 1)
        assert error.name == "KDC_ERR_BADOPTION" and "cross-realm TGT" in str(error)


def test_cross_realm_client_claiming_this_realm_is_refused() -> None:
    """A cross-realm TGT from A.TEST naming bob@B.TEST: only B.TEST's KDC speaks for
    B.TEST's principals, whatever path the ticket claims (``KDC_ERR_POLICY``)."""
    realms = TwoRealms()
    realms.policy(capaths={B: (A,)})
    error = cross_realm_refusal(realms, realms.forged(f"bob@{B}"), realms.svc)
    assert error.name == "KDC_ERR_POLICY" and "own KDC speaks" in str(error)


def test_lab_crack_claim_counts_only_if_it_opens_the_reply_the_kdc_sent() -> None:
    """The lab's grader (exercises 17, 18): an activity line claiming a cracked hashcat line
    counts only when the line is one the KDC sent and the password opens that very part. A
    wrong password, or a line the KDC never sent (made offline with a known password), is
    worth nothing."""
    from labs.roast import RoastHash
    from labs.wire_checks import cracked_reply
    from orthrus.enctypes import enctype

    kind = enctype(18)

    def sealed(password: str, user: str) -> RoastHash:
        key = kind.string_to_key(password, b"LAB.TEST" + user.encode())
        cipher = kind.encrypt(key, KeyUsage.AS_REP_ENC_PART, b"EncASRepPart" * 8, os.urandom(16))
        return RoastHash("asrep", 18, user, "LAB.TEST", cipher)

    sent = sealed("sunshine", "carol")
    recorded = {sent.cipher: ("event 5", sent)}
    assert cracked_reply(sent.line(), "sunshine", recorded) == ("event 5", sent)
    assert cracked_reply(sent.line(), "guessed-wrong", recorded) is None
    forged = sealed("known-to-the-forger", "carol")
    assert cracked_reply(forged.line(), "known-to-the-forger", recorded) is None
    assert cracked_reply("$krb5asrep$18$not-a-line", "sunshine", recorded) is None


def test_class_trace_every_key_view_needs_the_dashboard_token(tmp_path: Path) -> None:
    """The class trace decoded with every key of the realm is the instructor's: its API on the
    dashboard answers only the dashboard's token (a student with an account on the machine
    reaches its loopback), and the class trace is never decoded as a student there."""
    from labs.classroom.dashboard import create_app as dashboard_app
    from labs.classroom.dashboard import new_token
    from labs.classroom.realm import class_paths, create_class

    paths = class_paths(tmp_path / "class")
    create_class(paths, ["ann"], ["127.0.0.1"], lambda _: None)
    token = new_token(paths.root)
    client = dashboard_app(paths.root).test_client()
    every_key = "/trace/api/events?after=0&as=instructor"
    for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
        for url in (every_key, "/trace/api/status"):
            refused = client.get(url, headers=header)
            assert refused.status_code == 403, url
            assert "the instructor's" in refused.get_json()["error"]
    granted = {"Authorization": f"Bearer {token}"}
    assert client.get(every_key, headers=granted).status_code == 200
    offered = client.get("/trace/api/status", headers=granted).get_json()["viewers"]
    assert [v["value"] for v in offered] == ["instructor"]
    as_student = client.get("/trace/api/events?after=0&as=ann", headers=granted)
    assert as_student.status_code == 403 and "every key" in as_student.get_json()["error"]


def test_class_grading_counts_a_wire_tgs_only_when_the_kdc_granted_it() -> None:
    """On the class KDC's Kerberos port (exercises 16-18) the trace keeps the DER whole, with
    no parts to open again: a TGS exchange counts for the client the KDC found in the TGT it
    opened and checked — only if the KDC granted it. One it refused (a TGT forged in ann's
    name, a service's AP line) counts for nobody, whatever name the line carries."""
    from labs.classroom.grading import attributed_client
    from labs.decode import Decoder, KeytabKeys
    from labs.tracefile import TraceEvent

    decoder = Decoder(KeytabKeys([]), "the class server")

    def wire(event_id: int, **record: Any) -> TraceEvent:
        base = {
            "time": T0,
            "component": "kdc",
            "exchange": "TGS",
            "ok": True,
            "client": "ann@CLASS.TEST",
            "server": "HTTP/notes@CLASS.TEST",
            "transport": "udp",
            "request": {"der": "AA=="},
            "reply": {"der": "AA=="},
        }
        return TraceEvent(event_id, {**base, **record})

    assert attributed_client(wire(1), decoder, set()) == "ann@CLASS.TEST"
    refused = wire(2, ok=False, error="KRB_AP_ERR_MODIFIED")
    assert attributed_client(refused, decoder, set()) is None
    assert attributed_client(wire(3, component="notes", exchange="AP"), decoder, set()) is None
