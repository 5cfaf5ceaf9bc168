#!/usr/bin/env python3
"""Mutational fuzzer of the KDC's and service_demo's endpoints (issue 8, item 2).

Seeds are valid requests made with the protocol core against a throwaway realm (an AS-REQ
with pre-authentication, a TGS-REQ, a password change, an AP-REQ token, a note); each input
is a seed mutated 1-8 times (bit flips, random bytes, insertions of JSON fragments, cuts,
duplications, truncation). Inputs go through the real WSGI apps in-process (``--inproc``,
fast: the 10⁶-per-endpoint run) or over HTTP to running servers (``--kdc-url``,
``--demo-url``). Counted per endpoint: inputs, statuses, the protocol errors answered (how
deep the inputs got), 5xx answers, and uncaught exceptions (log records with a traceback).
Exit status 1 if any 5xx or exception was seen.

    python scripts/fuzz_http.py --inproc --count 1000000 --max-seconds 3000
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FRAGMENTS = [
    b"{}",
    b"[]",
    b"null",
    b"true",
    b"0",
    b"-1",
    b"1e309",
    b"18446744073709551616",
    b'"\\ud800"',
    b'"\\u0000"',
    b"\xff",
    b"\xc3\x28",
    b'"' + b"A" * 300 + b'"',
    b"[" * 64,
    b"]" * 64,
    b'{"type":"AS-REQ"}',
    b'"alice@EXAMPLE.TEST"',
    b",",
    b":",
    b'"',
    b'"enc_part":"a.b.c.d.e"',
    b'"kvno":2147483648',
    b'"options":["renew"]',
]


def mutate(seed: bytes, rng: random.Random) -> bytes:
    """One fuzz input from ``seed``."""
    data = bytearray(seed)
    for _ in range(rng.randint(1, 8)):
        at = rng.randint(0, len(data))
        op = rng.randrange(7)
        if op == 0 and data:
            data[min(at, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif op == 2:
            data[at:at] = rng.choice(FRAGMENTS)
        elif op == 3:
            del data[at : at + rng.randint(1, 32)]
        elif op == 4 and data:
            start = rng.randrange(len(data))
            data[at:at] = data[start : start + rng.randint(1, 64)]
        elif op == 5:
            del data[at:]
        else:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(data)


@dataclass
class Tally:
    inputs: int = 0
    server_errors: int = 0
    exceptions: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    #: The protocol errors answered (how deep the inputs got: a generic decoding error, or
    #: a check past decoding such as KRB_AP_ERR_MODIFIED or KRB_AP_ERR_REPEAT).
    errors: dict[str, int] = field(default_factory=dict)

    def count(self, status: int, body: bytes) -> None:
        self.inputs += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.server_errors += status >= 500
        name = error_name(body) if status >= 400 else None
        if name:
            self.errors[name] = self.errors.get(name, 0) + 1


def error_name(body: bytes) -> str | None:
    """The ``error.name`` of a JSON error body, if it is one."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    name = error.get("name") if isinstance(error, dict) else None
    return name if isinstance(name, str) else None


#: What a target's ``send`` returns: the answer's status and body.
Answer = tuple[int, bytes]


class ExceptionCounter(logging.Handler):
    """Counts log records that carry a traceback (an exception the app did not expect)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.count += 1


@dataclass
class Target:
    name: str
    seed: bytes
    send: Callable[[bytes], Answer]


def make_realm(directory: Path) -> dict[str, Any]:
    """A realm with alice, HTTP/localhost and kadmin/changepw; returns seeds and paths."""
    from click.testing import CliRunner

    from kdc.cli import cli

    runner = CliRunner()

    def admin(*args: str, input: str | None = None) -> None:
        result = runner.invoke(cli, ["--dir", str(directory / "kdc"), *args], input=input)
        if result.exit_code != 0:
            raise SystemExit(f"orthrus-kdc {args[0]} failed: {result.output}")

    realm = "EXAMPLE.TEST"
    admin("init", "--realm", realm)
    admin("addprinc", f"alice@{realm}", input="alice-fuzz-pass\n")
    admin("addprinc", "--randkey", f"HTTP/localhost@{realm}")
    admin("ktadd", "-k", str(directory / "http.keytab"), f"HTTP/localhost@{realm}")
    toml = directory / "kdc" / "kdc.toml"
    toml.write_text(
        toml.read_text()
        .replace("lockout_attempts = 5", "lockout_attempts = 0")
        .replace('audit_log = "audit.log"', 'audit_log = ""')
    )
    return {"kdc_dir": directory / "kdc", "keytab": directory / "http.keytab", "realm": realm}


def seeds(kdc_post: Callable[[str, bytes], tuple[int, bytes]], realm: str) -> dict[str, Any]:
    """Valid requests, made with the core against the KDC behind ``kdc_post``."""
    import msgspec

    from orthrus import codec
    from orthrus.as_exchange import ASOptions, make_as_req, read_as_rep
    from orthrus.kadmin import admin_service
    from orthrus.kpasswd import changepw_service, make_kpasswd_req
    from orthrus.messages import ASRep, TGSRep
    from orthrus.principal import Principal
    from orthrus.pwkdf import KDFParams, string_to_key
    from orthrus.tgs_exchange import make_tgs_req, read_tgs_rep

    alice = Principal.parse(f"alice@{realm}")
    now = time.time()
    _, body = kdc_post("/v1/as", codec.encode(make_as_req(alice, now, os.urandom, ASOptions())))
    hint = json.loads(body)["error"]["data"]
    params = msgspec.convert(hint["kdf"], KDFParams)
    key = string_to_key("alice-fuzz-pass", alice, params, hint["kvno"])

    def login(server: Principal | None = None) -> Any:
        req = make_as_req(alice, time.time(), os.urandom, ASOptions(server=server), key)
        status, reply = kdc_post("/v1/as", codec.encode(req))
        assert status == 200, reply
        return req, read_as_rep(codec.decode(reply, ASRep), req, key, time.time())

    as_req, tgt = login()
    http = Principal.parse(f"HTTP/localhost@{realm}")
    tgs = make_tgs_req(tgt, http, time.time(), os.urandom)
    status, reply = kdc_post("/v1/tgs", codec.encode(tgs.message))
    assert status == 200, reply
    service = read_tgs_rep(codec.decode(reply, TGSRep), tgs, time.time())
    to_admin = make_tgs_req(tgt, admin_service(realm), time.time(), os.urandom)
    status, reply = kdc_post("/v1/tgs", codec.encode(to_admin.message))
    assert status == 200, reply
    admin = read_tgs_rep(codec.decode(reply, TGSRep), to_admin, time.time())
    _, changepw = login(changepw_service(realm))
    kpasswd, _ = make_kpasswd_req(changepw, "alice-fuzz-pass", time.time(), os.urandom)
    return {
        "as": codec.encode(as_req),
        "tgs": codec.encode(make_tgs_req(tgt, http, time.time(), os.urandom).message),
        "kpasswd": codec.encode(kpasswd),
        "service": service,
        "admin": admin,
    }


def ap_token(credential: Any, method: str, path: str) -> str:
    from orthrus.ap import AuthenticatorFields, make_ap_req
    from orthrus.httpauth import encode_ap_req, http_binding

    fields = AuthenticatorFields(checksum=http_binding(method, path))
    ap_req, _ = make_ap_req(credential, time.time(), os.urandom, fields)
    return encode_ap_req(ap_req)


def inproc_targets(directory: Path, counter: ExceptionCounter) -> list[Target]:
    """The KDC and service_demo apps in-process (Flask test clients)."""
    from kdc.app import create_app
    from kdc.config import load_settings
    from kdc.store import Store
    from service_demo import DemoSettings
    from service_demo import create_app as create_demo

    paths = make_realm(directory)
    settings = load_settings(paths["kdc_dir"], env={})
    kdc = create_app(settings, Store.open(settings)).test_client()
    demo_settings = DemoSettings(
        keytab=str(paths["keytab"]),
        db=str(directory / "notes.db"),
        principals=[f"HTTP/localhost@{paths['realm']}"],
    )
    demo = create_demo(demo_settings).test_client()
    for name in ("orthrus", "service_demo", "werkzeug", "flask"):
        logging.getLogger(name).addHandler(counter)

    def post(client: Any, path: str) -> Callable[[bytes], Answer]:
        def send(data: bytes) -> Answer:
            answer = client.post(path, data=data, content_type="application/json")
            return answer.status_code, answer.get_data()

        return send

    def kdc_post(path: str, data: bytes) -> tuple[int, bytes]:
        answer = kdc.post(path, data=data, content_type="application/json")
        return answer.status_code, answer.get_data()

    seed = seeds(kdc_post, paths["realm"])
    service = seed["service"]

    def notes_post(data: bytes) -> Answer:
        headers = {"Authorization": f"Ticket {ap_token(service, 'POST', '/notes')}"}
        answer = demo.post("/notes", data=data, headers=headers, content_type="application/json")
        return answer.status_code, answer.get_data()

    def ticket_header(data: bytes) -> dict[str, str]:
        # CR, LF and NUL cannot travel in a header (RFC 9110 §5.5): the client refuses them.
        return {"Authorization": "Ticket " + data.translate(None, b"\r\n\0").decode("latin-1")}

    def notes_token(data: bytes) -> Answer:
        answer = demo.get("/notes", headers=ticket_header(data))
        return answer.status_code, answer.get_data()

    def admin_token(data: bytes) -> Answer:
        answer = kdc.post(
            "/v1/admin/getprinc",
            data=b"{}",
            headers=ticket_header(data),
            content_type="application/orthrus-priv",
        )
        return answer.status_code, answer.get_data()

    return [
        Target("KDC POST /v1/as", seed["as"], post(kdc, "/v1/as")),
        Target("KDC POST /v1/tgs", seed["tgs"], post(kdc, "/v1/tgs")),
        Target("KDC POST /v1/kpasswd", seed["kpasswd"], post(kdc, "/v1/kpasswd")),
        Target("demo POST /notes (body)", b'{"text": "a note"}', notes_post),
        Target(
            "demo GET /notes (Authorization)",
            ap_token(service, "GET", "/notes").encode(),
            notes_token,
        ),
        Target(
            "KDC POST /v1/admin/getprinc (Authorization)",
            ap_token(seed["admin"], "POST", "/v1/admin/getprinc").encode(),
            admin_token,
        ),
    ]


def http_targets(kdc_url: str, demo_url: str | None, realm: str) -> list[Target]:
    """Running servers over HTTP (keep-alive)."""
    import httpx

    client = httpx.Client(timeout=30)

    def post(url: str) -> Callable[[bytes], Answer]:
        def send(data: bytes) -> Answer:
            headers = {"Content-Type": "application/json"}
            answer = client.post(url, content=data, headers=headers)
            return answer.status_code, answer.content

        return send

    def kdc_post(path: str, data: bytes) -> tuple[int, bytes]:
        answer = client.post(f"{kdc_url}{path}", content=data)
        return answer.status_code, answer.content

    seed = seeds(kdc_post, realm)
    targets = [
        Target("KDC POST /v1/as", seed["as"], post(f"{kdc_url}/v1/as")),
        Target("KDC POST /v1/tgs", seed["tgs"], post(f"{kdc_url}/v1/tgs")),
        Target("KDC POST /v1/kpasswd", seed["kpasswd"], post(f"{kdc_url}/v1/kpasswd")),
    ]
    if demo_url:
        service = seed["service"]

        def notes_post(data: bytes) -> Answer:
            headers = {
                "Authorization": f"Ticket {ap_token(service, 'POST', '/notes')}",
                "Content-Type": "application/json",
            }
            answer = client.post(f"{demo_url}/notes", content=data, headers=headers)
            return answer.status_code, answer.content

        targets.append(Target("demo POST /notes (body)", b'{"text": "a note"}', notes_post))
    return targets


def run(targets: list[Target], count: int, deadline: float, seed: int) -> dict[str, Tally]:
    rng = random.Random(seed)
    tallies = {t.name: Tally() for t in targets}
    per_target_deadline = (deadline - time.monotonic()) / max(len(targets), 1)
    for target in targets:
        tally = tallies[target.name]
        stop = time.monotonic() + per_target_deadline
        while tally.inputs < count and time.monotonic() < stop:
            try:
                status, body = target.send(mutate(target.seed, rng))
            except Exception:
                tally.exceptions += 1
                status, body = 0, b""
            tally.count(status, body)
    return tallies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inproc", action="store_true", help="fuzz the apps in-process")
    parser.add_argument("--kdc-url", help="fuzz a running KDC over HTTP")
    parser.add_argument("--demo-url", help="and a running service_demo")
    parser.add_argument("--realm", default="EXAMPLE.TEST")
    parser.add_argument("--count", type=int, default=1_000_000, help="inputs per endpoint")
    parser.add_argument("--max-seconds", type=float, default=3600, help="time bound in all")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--json", help="write the tallies to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    counter = ExceptionCounter()
    deadline = time.monotonic() + args.max_seconds
    with tempfile.TemporaryDirectory(prefix="orthrus-fuzz-") as scratch:
        if args.inproc:
            targets = inproc_targets(Path(scratch), counter)
        elif args.kdc_url:
            targets = http_targets(args.kdc_url, args.demo_url, args.realm)
        else:
            parser.error("give --inproc or --kdc-url")
        started = time.monotonic()
        tallies = run(targets, args.count, deadline, args.seed)
    mode = "in-process" if args.inproc else "over HTTP"
    print(f"fuzz ({mode}, {time.monotonic() - started:.0f} s):")
    for name, tally in tallies.items():
        print(
            f"  {name:34} {tally.inputs:>9} inputs  {tally.server_errors} 5xx  "
            f"{tally.exceptions} exceptions  statuses {dict(sorted(tally.statuses.items()))}"
        )
        common = sorted(tally.errors.items(), key=lambda item: -item[1])
        print(f"  {'':34} errors {', '.join(f'{n} {c}' for n, c in common)}")
    exceptions = counter.count + sum(t.exceptions for t in tallies.values())
    errors = sum(t.server_errors for t in tallies.values())
    total = sum(t.inputs for t in tallies.values())
    print(f"  total {total} inputs, {errors} 5xx, {exceptions} uncaught exceptions")
    if args.json:
        report = {n: t.__dict__ for n, t in tallies.items()}
        report["_exceptions_logged"] = {"count": counter.count}
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 1 if errors or exceptions else 0


if __name__ == "__main__":
    sys.exit(main())
