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
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import msgspec
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from support import FAST_KDF, REALM, Realm, sqlite_snapshot

sys.path.insert(0, str(Path(__file__).with_name("core")))
from core_realm import T0, CoreRealm, wire
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client_lib.ccache import CredentialCache
from kdc.app import create_app
from kdc.backends import Backends, make_backends
from kdc.cli import cli as kdc_cli
from kdc.config import KDCSettings, load_settings
from kdc.store import Store
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
from orthrus.as_exchange import ASOptions, make_as_req, read_as_rep
from orthrus.authz import AuthzSigner
from orthrus.b64 import b64u_decode, b64u_encode
from orthrus.codec import body_checksum
from orthrus.credentials import Credential
from orthrus.enctypes import CHECKSUM_TYPES, ENCTYPES, checksum_type, enctype
from orthrus.errors import ConfigError, ProtocolError
from orthrus.httpauth import decode_ap_req, encode_ap_req, http_binding
from orthrus.keys import Key, KeyUsage
from orthrus.keytab import Keytab, KeytabEntry
from orthrus.kpasswd import handle_kpasswd_req, make_kpasswd_req
from orthrus.messages import APRep, ASRep, ASReq, KDCReqBody, PAData, TGSReq
from orthrus.principal import Principal
from orthrus.priv import KrbPriv, PrivChannel
from orthrus.pwkdf import KDFParams, string_to_key
from orthrus.replay import MemoryReplayCache, ReplayCache
from orthrus.seal import open_sealed, seal
from orthrus.tgs_exchange import handle_tgs_req, make_tgs_req, read_tgs_rep
from orthrus_io.files import read_private, write_private
from orthrus_io.redis_replay import RedisReplayCache
from orthrus_io.replay import SQLiteReplayCache
from service_lib import KeytabSource, Verifier, VerifierOptions

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
    before = sqlite_snapshot(kdc_realm.directory / "principal.db")
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
    assert sqlite_snapshot(kdc_realm.directory / "principal.db") == before


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
    return Verifier(source, cache, VerifierOptions(**options), clock=clock)


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
    first = make_verifier(core, clock, SQLiteReplayCache(path))
    second = make_verifier(core, clock, SQLiteReplayCache(path))
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
    workers = [dataclasses.replace(core.ctx, replay_cache=SQLiteReplayCache(path)) for _ in "ab"]
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
    hosts = [make_verifier(core, clock, RedisReplayCache(redis_client, prefix)) for _ in "ab"]
    token = ap_token(service_cred, T0)
    hosts[0].verify(token, "GET", "/notes")
    keys = sorted(redis_client.scan_iter(f"{prefix}*"))
    assert refused(hosts[1].verify, token, "GET", "/notes").name == "KRB_AP_ERR_REPEAT"
    assert sorted(redis_client.scan_iter(f"{prefix}*")) == keys and len(keys) == 1


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


def as_req(name: str, key: Key | None = None, now: float | None = None) -> ASReq:
    options = ASOptions()
    return make_as_req(Principal.parse(name), now or time.time(), os.urandom, options, key)


def hint_of(kdc: KDC, name: str) -> dict[str, Any]:
    """The PREAUTH_REQUIRED error for ``name`` (the answer to a request without padata)."""
    error = error_of(kdc.post("/v1/as", as_req(name)), 401)
    assert error["name"] == "KDC_ERR_PREAUTH_REQUIRED", error
    return error


def key_from(hint: dict[str, Any], password: str) -> Key:
    params = msgspec.convert(hint["data"]["kdf"], KDFParams)
    return string_to_key(password, params, hint["data"]["kvno"])


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
    failed = {name: wrong_guess(kdc, name, key_from(hints[name], "guess-1")) for name in hints}
    assert {e["name"] for e in failed.values()} == {"KDC_ERR_PREAUTH_FAILED"}
    assert failed[unknown]["message"] == failed[known]["message"].replace(known, unknown)
    assert sqlite_snapshot(kdc.db) == before


def test_user_enumeration_by_timing_sees_no_difference(kdc_realm: Realm) -> None:
    """The same probes timed: an unknown name runs the same code as a real user (a decoy
    principal), so a wrong password costs the same for both (medians within 2x)."""
    kdc = KDC(kdc_realm, hide_unknown_principals=True, lockout_attempts=0)
    names = (f"alice@{REALM}", f"mallory@{REALM}")
    keys = {name: key_from(hint_of(kdc, name), "guess-2") for name in names}
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


def test_user_enumeration_through_the_lockout_is_hidden(kdc_realm: Realm) -> None:
    """Counting failures until CLIENT_REVOKED would tell real names apart: decoys are
    locked out after the same number of wrong guesses."""
    kdc = KDC(kdc_realm, hide_unknown_principals=True, lockout_attempts=2)
    for name in (f"alice@{REALM}", f"mallory@{REALM}"):
        key = key_from(hint_of(kdc, name), "guess-3")
        answers = [wrong_guess(kdc, name, key)["name"] for _ in range(3)]
        assert answers == ["KDC_ERR_PREAUTH_FAILED"] * 2 + ["KDC_ERR_CLIENT_REVOKED"], name


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
        wrong, right = key_from(hint, "not-bobs-pass"), key_from(hint, BOB_PASS)
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
    kdc = KDC(kdc_realm, rate_limit="3/minute", rate_limit_exempt="")
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
    set_toml(realm, rate_limit="3/minute", rate_limit_exempt="")
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
    key = key_from(hint, ALICE_PASS)
    req = as_req(name, key)
    answer = kdc.post("/v1/as", req)
    tgt = read_as_rep(codec.decode(answer.get_data(), ASRep), req, key, time.time())
    request = make_tgs_req(tgt, Principal.parse(HTTP_NAME), time.time(), os.urandom)
    service = kdc.post("/v1/tgs", request.message)
    assert service.status_code == 200
    bodies = [
        wrong_guess(kdc, name, key_from(hint, "wrong-password-9")),
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
        for text in (repr(key), str(key), repr([key]), repr(derived), str(derived)):
            for secret in (key.material, derived.kc, derived.ke, derived.ki):
                assert secret.hex() not in text.lower() and repr(secret) not in text, text


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
    from orthrus.der.schema import SPEC

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
