"""``POST /v1/as`` and ``/v1/tgs`` answered without Flask (kdc.exchanges.LeanExchanges)
give what Flask gives: the same status, error JSON, headers and events, for good and bad
requests alike; and the rate limit still applies to every client it applies to.

The KDC app is called in-process through WSGI: from 127.0.0.1 (exempt from the rate limit,
so the lean path answers) and from 10.1.2.3 (rate limited, so Flask answers)."""

from __future__ import annotations

import dataclasses
import io
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner
from support import FAST_KDF, REALM

from kdc.app import create_app
from kdc.backends import make_backends
from kdc.cli import cli as kdc_cli
from kdc.config import load_settings
from kdc.exchanges import LeanExchanges
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
LEAN, FLASK = "127.0.0.1", "10.1.2.3"


def admin(directory: Path, *args: str, input: str | None = None) -> None:
    result = CliRunner().invoke(kdc_cli, ["--dir", str(directory), *args], input=input)
    assert result.exit_code == 0, result.output


class Recorder:
    def __init__(self) -> None:
        self.events: list[ExchangeEvent] = []

    def emit(self, event: ExchangeEvent) -> None:
        self.events.append(event)


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
            environ["CONTENT_LENGTH"] = str(len(body))
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


def test_the_lean_path_is_in_front_of_flask(kdc: KDC) -> None:
    assert isinstance(kdc.app.wsgi_app, LeanExchanges)


def test_answers_and_events_are_those_of_flask(kdc: KDC, realm_dir: Path) -> None:
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
        for_lean = kdc.call(path, body, LEAN, x_request_id="req-1")
        for_flask = kdc.call(path, body, FLASK, x_request_id="req-1")
        assert for_lean == for_flask, (path, body)
        lean_event, flask_event = kdc.events.events[-2:]
        assert _comparable(lean_event) == _comparable(flask_event)
        assert (lean_event.client_address, flask_event.client_address) == (LEAN, FLASK)

    answers = {}
    for address in (LEAN, FLASK):
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
    assert answers[LEAN] == answers[FLASK]
    assert answers[LEAN][0] == "400 BAD REQUEST"
    assert b"KRB_AP_ERR_REPEAT" in answers[LEAN][2]
    oks = [e for e in kdc.events.events if e.ok]
    assert [e.exchange for e in oks] == ["AS", "TGS", "AS", "TGS"]
    assert _comparable(oks[0]) | {"request_id": None} == _comparable(oks[2]) | {"request_id": None}


def test_what_the_lean_path_does_not_take_goes_to_flask(kdc: KDC) -> None:
    big = b"x" * 70_000
    assert kdc.call("/v1/as", big, LEAN) == kdc.call("/v1/as", big, FLASK)
    assert kdc.call("/v1/as", big, LEAN)[0] == "413 REQUEST ENTITY TOO LARGE"
    chunked = kdc.call("/v1/as", b"{}", LEAN, transfer_encoding="chunked")
    assert chunked[0].startswith("400")
    assert kdc.call("/v1/as", b"", LEAN, method="GET")[0] == "405 METHOD NOT ALLOWED"


def test_the_rate_limit_still_applies(realm_dir: Path) -> None:
    kdc = KDC(realm_dir, rate_limit="3/day")  # fixed windows: a minute could end mid-test
    try:
        statuses = [kdc.call("/v1/as", b"{}", FLASK)[0][:3] for _ in range(5)]
        assert statuses == ["400", "400", "400", "429", "429"]
        assert [kdc.call("/v1/as", b"{}", LEAN)[0][:3] for _ in range(5)] == ["400"] * 5
    finally:
        kdc.store._engine.dispose()


def test_a_request_the_rate_limit_refused_is_an_event(realm_dir: Path) -> None:
    """Audit log, metrics and a lab's trace see a 429 too: refused, with the limit."""
    kdc = KDC(realm_dir, rate_limit="1/hour")
    try:
        kdc.call("/v1/tgs", b"{}", FLASK)
        assert kdc.call("/v1/tgs", b"{}", FLASK, x_request_id="flood-2")[0].startswith("429")
        refused = kdc.events.events[-1]
        assert (refused.exchange, refused.ok, refused.error) == ("TGS", False, "KRB_ERR_GENERIC")
        assert refused.extra == {"status": 429, "rate_limit": "1 per 1 hour"}
        assert (refused.client_address, refused.request_id) == (FLASK, "flood-2")
        assert refused.realm == REALM and "too many requests" in str(refused.message)
    finally:
        kdc.store._engine.dispose()
