"""The JSON API's transport (kdc.http_api.ExchangeFront): the exchanges are answered by
the exchange runner and only there (Flask has no route for them); a client the rate limit
applies to gets the same answers and events as one it does not; what the edge refuses
(size, method, a body cut short, the rate limit) gets the KDC's error JSON; each exchange
has one record, its audit line or (with the audit log off) its log line.

The KDC app is called in-process through WSGI: from 127.0.0.1 (exempt from the rate limit)
and from 10.1.2.3 (rate limited)."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner
from krb_wire_support import Recorder
from support import FAST_KDF, REALM

from kdc.app import create_app, default_events
from kdc.backends import make_backends
from kdc.cli import cli as kdc_cli
from kdc.config import load_settings
from kdc.http_api import ExchangeFront
from kdc.store import Store
from orthrus import codec
from orthrus.as_exchange import ASOptions, make_as_req, read_as_rep
from orthrus.keys import Key
from orthrus.keytab import Keytab
from orthrus.messages import ASRep, TGSRep
from orthrus.principal import Principal
from orthrus.tgs_exchange import make_tgs_req, read_tgs_rep
from orthrus_io.events import ExchangeEvent

ALICE = Principal.parse(f"alice@{REALM}")
SERVICE = Principal.parse(f"HTTP/lean.example.test@{REALM}")
EXEMPT, LIMITED = "127.0.0.1", "10.1.2.3"


def admin(directory: Path, *args: str, input: str | None = None) -> None:
    result = CliRunner().invoke(kdc_cli, ["--dir", str(directory), *args], input=input)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def realm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("lean") / "kdc"
    admin(directory, "init", "--realm", REALM, *FAST_KDF)
    admin(directory, "addprinc", str(ALICE), "--group", "staff", input="alice-s3cret-pw\n")
    admin(directory, "addprinc", "--randkey", str(SERVICE))
    admin(directory, "ktadd", "-k", str(directory.parent / "alice.keytab"), str(ALICE))
    return directory


class KDC:
    def __init__(self, directory: Path, **overrides: Any) -> None:
        settings = msgspec.structs.replace(load_settings(directory, env={}), **overrides)
        self.store = Store.open(settings)
        self.events = Recorder()
        self.app = create_app(settings, self.store, make_backends(settings), self.events)

    def call(
        self, path: str, body: bytes, address: str, method: str = "POST", **headers: str
    ) -> tuple[str, dict[str, str], bytes]:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8088",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_TYPE": "application/json",
            "REMOTE_ADDR": address,
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.version": (1, 0),
        }
        if "chunked" not in headers.values():
            environ["CONTENT_LENGTH"] = headers.pop("content_length_override", str(len(body)))
        for name, value in headers.items():
            environ[f"HTTP_{name.upper()}"] = value
        answer: list[Any] = []
        chunks = self.app(environ, lambda status, hdrs, exc=None: answer.extend([status, hdrs]))
        payload = b"".join(chunks)
        return answer[0], {k.lower(): v for k, v in answer[1]}, payload


@pytest.fixture
def kdc(realm_dir: Path) -> Iterator[KDC]:
    kdc = KDC(realm_dir, rate_limit="1000/second")
    yield kdc
    kdc.store._engine.dispose()


def alice_key(realm_dir: Path) -> Any:
    keys = Keytab.from_bytes((realm_dir.parent / "alice.keytab").read_bytes())
    return keys.keys_by_principal()[ALICE][1]


def _comparable(event: ExchangeEvent) -> dict[str, Any]:
    fields = dataclasses.asdict(event)
    for varying in ("time", "duration", "client_address"):
        fields.pop(varying)
    return fields


def test_the_exchanges_are_answered_in_front_of_flask_only(kdc: KDC) -> None:
    assert isinstance(kdc.app.wsgi_app, ExchangeFront)
    flask_paths = {rule.rule for rule in kdc.app.url_map.iter_rules()}
    assert flask_paths.isdisjoint({"/v1/as", "/v1/tgs", "/v1/kpasswd"})
    assert "/v1/realm" in flask_paths


def test_answers_and_events_are_alike_for_every_client(kdc: KDC, realm_dir: Path) -> None:
    key = alice_key(realm_dir)
    now = time.time()
    good_as = make_as_req(ALICE, now, os.urandom, ASOptions(), key)
    no_preauth = make_as_req(ALICE, now, os.urandom, ASOptions())
    wrong_key = make_as_req(ALICE, now, os.urandom, ASOptions(), Key(os.urandom(32), 1))
    unknown = make_as_req(Principal.parse(f"nobody@{REALM}"), now, os.urandom, ASOptions(), key)
    cases = [
        ("/v1/as", codec.encode(no_preauth)),
        ("/v1/as", codec.encode(wrong_key)),
        ("/v1/as", codec.encode(unknown)),
        ("/v1/as", b'{"type": "AS-REQ", "client": 7}'),
        ("/v1/as", b"not json"),
        ("/v1/tgs", b'{"type": "AS-REQ"}'),
        ("/v1/tgs", b""),
    ]
    for path, body in cases:
        exempt = kdc.call(path, body, EXEMPT, x_request_id="req-1")
        limited = kdc.call(path, body, LIMITED, x_request_id="req-1")
        assert exempt == limited, (path, body)
        assert exempt[0][0] == "4" and exempt[1]["x-request-id"] == "req-1"
        exempt_event, limited_event = kdc.events.events[-2:]
        assert _comparable(exempt_event) == _comparable(limited_event)
        assert exempt_event.transport == "http" and exempt_event.request_id == "req-1"
        assert (exempt_event.client_address, limited_event.client_address) == (EXEMPT, LIMITED)

    answers = {}
    for address in (EXEMPT, LIMITED):
        status, headers, payload = kdc.call("/v1/as", codec.encode(good_as), address)
        assert status == "200 OK" and headers["content-type"] == "application/json"
        assert len(headers["x-request-id"]) == 32
        assert int(headers["content-length"]) == len(payload)
        tgt = read_as_rep(codec.decode(payload, ASRep), good_as, key, time.time())
        tgs = make_tgs_req(tgt, SERVICE, time.time(), os.urandom)
        status, headers, payload = kdc.call("/v1/tgs", codec.encode(tgs.message), address)
        assert status == "200 OK", payload
        ticket = read_tgs_rep(codec.decode(payload, TGSRep), tgs, time.time())
        assert ticket.server == SERVICE
        # The same request again is a replay, refused the same way by both.
        answers[address] = kdc.call("/v1/tgs", codec.encode(tgs.message), address, x_request_id="r")
    assert answers[EXEMPT] == answers[LIMITED]
    assert answers[EXEMPT][0] == "400 BAD REQUEST"
    assert b"KRB_AP_ERR_REPEAT" in answers[EXEMPT][2]
    oks = [e for e in kdc.events.events if e.ok]
    assert [e.exchange for e in oks] == ["AS", "TGS", "AS", "TGS"]
    assert _comparable(oks[0]) | {"request_id": None} == _comparable(oks[2]) | {"request_id": None}


def test_what_the_edge_refuses_gets_the_kdcs_error_json(kdc: KDC) -> None:
    big = b"x" * 70_000
    for headers in ({}, {"transfer_encoding": "chunked"}):
        status, _, payload = kdc.call("/v1/as", big, LIMITED, **headers)
        assert status == "413 REQUEST ENTITY TOO LARGE"
        assert json.loads(payload)["error"]["name"] == "KRB_ERR_FIELD_TOOLONG"
    # Within the limit a chunked body is read whole and answered (here: not an AS-REQ).
    status, _, payload = kdc.call("/v1/as", b"{}", EXEMPT, transfer_encoding="chunked")
    assert status == "400 BAD REQUEST" and b"KRB_ERR_GENERIC" in payload
    status, headers, payload = kdc.call("/v1/tgs", b"", EXEMPT, method="GET")
    assert status == "405 METHOD NOT ALLOWED" and headers["allow"] == "POST"
    assert json.loads(payload)["error"]["message"] == "Method Not Allowed: GET /v1/tgs"
    # A client that left mid-body: what arrived is shorter than its Content-Length.
    status, _, payload = kdc.call("/v1/as", b"{}", EXEMPT, content_length_override="10")
    assert status == "400 BAD REQUEST"
    # Only the chunked "{}" reached an exchange (and was refused by it).
    assert [(e.exchange, e.error) for e in kdc.events.events] == [("AS", "KRB_ERR_GENERIC")]


def test_the_rate_limit_applies_to_every_v1_path(realm_dir: Path) -> None:
    kdc = KDC(realm_dir, rate_limit="3/day")  # fixed windows: a minute could end mid-test
    try:
        statuses = [kdc.call("/v1/as", b"{}", LIMITED)[0][:3] for _ in range(4)]
        assert statuses == ["400", "400", "400", "429"]
        status, headers, payload = kdc.call("/v1/realm", b"", LIMITED, method="GET")
        assert status[:3] == "429" and int(headers["retry-after"]) >= 1
        assert b"too many requests from 10.1.2.3" in payload
        assert kdc.call("/livez", b"", LIMITED, method="GET")[0][:3] == "200"
        assert [kdc.call("/v1/as", b"{}", EXEMPT)[0][:3] for _ in range(5)] == ["400"] * 5
        # A refused exchange runs nothing but is an event (the GET /v1/realm has none).
        assert [e.ok for e in kdc.events.events[3:4]] == [False]
        assert len(kdc.events.events) == 3 + 1 + 5
    finally:
        kdc.store._engine.dispose()


def test_a_request_the_rate_limit_refused_is_an_event(realm_dir: Path) -> None:
    """Audit log, metrics and a lab's trace see a 429 too: refused, with the limit."""
    kdc = KDC(realm_dir, rate_limit="1/hour")
    try:
        kdc.call("/v1/tgs", b"{}", LIMITED)
        assert kdc.call("/v1/tgs", b"{}", LIMITED, x_request_id="flood-2")[0].startswith("429")
        refused = kdc.events.events[-1]
        assert (refused.exchange, refused.ok, refused.error) == ("TGS", False, "KRB_ERR_GENERIC")
        assert refused.extra == {"status": 429, "rate_limit": "1 per 1 hour"}
        assert (refused.client_address, refused.request_id) == (LIMITED, "flood-2")
        assert refused.realm == REALM and "too many requests" in str(refused.message)
    finally:
        kdc.store._engine.dispose()


@pytest.mark.parametrize("audit_log", ["audit.log", ""])
def test_each_exchange_has_one_record_its_audit_line_or_else_a_log_line(
    realm_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, audit_log: str
) -> None:
    settings = msgspec.structs.replace(
        load_settings(realm_dir, env={}), directory=str(tmp_path), audit_log=audit_log
    )
    event = ExchangeEvent("TGS", True, time.time(), 0.002, str(ALICE), str(SERVICE))
    with caplog.at_level("DEBUG", logger="orthrus.kdc"):
        default_events(settings).emit(event)
    logged = [r.getMessage() for r in caplog.records if r.name == "orthrus.kdc"]
    audit = tmp_path / "audit.log"
    if audit_log:
        (line,) = audit.read_text().splitlines()
        assert (json.loads(line)["event"], logged) == ("tgs", [])
    else:
        assert logged == [f"TGS {ALICE} -> {SERVICE} ok (2.0 ms)"] and not audit.exists()
