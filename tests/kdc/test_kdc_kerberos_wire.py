"""Kerberos on the wire (kdc.kerberos_wire): UDP and TCP listeners on real sockets, each
message answered by the KDC's exchange runner (rate limit, events with their transport).

The Kerberos exchanges themselves are a test double of ``orthrus.kerberos.kdc.answer`` here
(same signature and answer): what is tested is the transport — framing, the datagram size
limit, garbage, several messages per connection, deadlines, the connection bound — and that
both transports go through the one runner."""

from __future__ import annotations

import errno
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from krb_wire_support import (
    AS_TAG,
    BIG,
    GARBAGE_ERROR,
    TGS_TAG,
    Wire,
    closed_by_kdc,
    serve_kerberos,
    tcp_exchange,
)
from support import FAST_KDF, REALM, clean_env, free_port, stop, wait_http

from kdc.cli import cli as kdc_cli
from kdc.kerberos_wire import frame, message_length, open_kerberos_sockets
from orthrus.der.codec import MAX_MESSAGE_SIZE
from orthrus.errors import ConfigError


@pytest.fixture(scope="module")
def realm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("wire") / "kdc"
    result = CliRunner().invoke(
        kdc_cli, ["--dir", str(directory), "init", "--realm", REALM, *FAST_KDF]
    )
    assert result.exit_code == 0, result.output
    return directory


@pytest.fixture
def wire(realm_dir: Path) -> Iterator[Wire]:
    with serve_kerberos(realm_dir) as served:
        yield served


def test_tcp_length_prefix_high_bit_and_size_bound() -> None:
    assert message_length(b"\x00\x00\x01\x00") == 256
    assert message_length((MAX_MESSAGE_SIZE).to_bytes(4, "big")) == MAX_MESSAGE_SIZE
    assert message_length((MAX_MESSAGE_SIZE + 1).to_bytes(4, "big")) is None
    assert message_length(b"\x80\x00\x00\x10") is None  # the reserved bit (RFC 4120 §7.2.2)
    assert frame(b"abc") == b"\x00\x00\x00\x03abc"


def test_udp_and_tcp_answer_through_the_runner_with_their_events(wire: Wire) -> None:
    with wire.udp() as udp:
        udp.send(AS_TAG + b"ok")
        assert udp.recv(65536) == b"R" * 100
        udp.send(TGS_TAG + b"refuse")
        assert udp.recv(65536) == b"KRB-ERROR"
    with wire.tcp() as tcp:  # several messages on one connection
        assert tcp_exchange(tcp, TGS_TAG + b"ok") == b"R" * 100
        assert tcp_exchange(tcp, AS_TAG + b"refuse") == b"KRB-ERROR"
        assert tcp_exchange(tcp, AS_TAG + b"ok") == b"R" * 100
    seen = [(e.transport, e.exchange, e.ok, e.error) for e in wire.events.events]
    assert seen == [
        ("udp", "AS", True, None),
        ("udp", "TGS", False, "KDC_ERR_PREAUTH_FAILED"),
        ("tcp", "TGS", True, None),
        ("tcp", "AS", False, "KDC_ERR_PREAUTH_FAILED"),
        ("tcp", "AS", True, None),
    ]
    first = wire.events.events[0]
    assert (first.client, first.server, first.realm) == (
        f"alice@{REALM}",
        f"krbtgt/{REALM}",
        REALM,
    )
    assert first.client_address == "127.0.0.1" and first.duration >= 0


def test_a_reply_too_big_for_a_datagram_asks_for_tcp(wire: Wire) -> None:
    with wire.udp() as udp:
        udp.send(AS_TAG + b"big")
        assert udp.recv(65536) == b"TOO-BIG"
    with wire.tcp() as tcp:
        assert tcp_exchange(tcp, AS_TAG + b"big") == b"R" * BIG
    assert [e.error for e in wire.events.events] == ["KRB_ERR_RESPONSE_TOO_BIG", None]


def test_udp_garbage_gets_no_reply_and_the_kdc_goes_on(wire: Wire) -> None:
    """Bogus datagrams (issue 14 §3): no reply to any, and the next request is answered —
    the first datagram to come back is its reply, so none came for the garbage."""
    garbage = [
        bytes.fromhex("6AFF"),
        bytes.fromhex("6CFF"),
        bytes.fromhex("FFFF"),
        AS_TAG,  # truncated
        b"",
        b"\x6a" + b"\xff" * 65_000,  # as large as a datagram goes
        TGS_TAG + b"down",  # the database is down: say nothing, the client retries
    ]
    with wire.udp() as udp:
        for datagram in garbage:
            udp.send(datagram)
        udp.send(AS_TAG + b"ok")
        assert udp.recv(65536) == b"R" * 100
    # Only what could be run has an event: the request turned away with the database down.
    seen = [(e.transport, e.exchange, e.error) for e in wire.events.events]
    assert seen == [("udp", "TGS", "UNAVAILABLE"), ("udp", "AS", None)]


@pytest.mark.parametrize(
    "sent",
    [
        b"\x80\x00\x00\x04abcd",  # the reserved high bit
        (MAX_MESSAGE_SIZE + 1).to_bytes(4, "big"),  # over the size bound: not read
    ],
    ids=["high-bit", "oversized"],
)
def test_tcp_closes_a_connection_it_cannot_frame(wire: Wire, sent: bytes) -> None:
    """At once: not after reading 2 GiB or at the deadline (tests/test_attacks.py too)."""
    with wire.tcp() as tcp:
        tcp.sendall(sent)
        assert closed_by_kdc(tcp)
    with wire.tcp() as tcp:  # and goes on
        assert tcp_exchange(tcp, AS_TAG + b"ok") == b"R" * 100


def test_tcp_answers_garbage_with_its_krb_error_and_goes_on(wire: Wire) -> None:
    with wire.tcp() as tcp:
        for garbage in (bytes.fromhex("6AFF"), bytes.fromhex("FFFF"), b""):
            assert tcp_exchange(tcp, garbage) == GARBAGE_ERROR
        assert tcp_exchange(tcp, AS_TAG + b"ok") == b"R" * 100
    assert [(e.transport, e.exchange) for e in wire.events.events] == [("tcp", "AS")]


class _DeniedSocket(socket.socket):
    def bind(self, address: Any) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")


def test_a_port_that_cannot_be_had_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    sockets = open_kerberos_sockets("127.0.0.1", 0)
    try:
        with pytest.raises(ConfigError, match="pass --kerberos-port with another port, or 0"):
            open_kerberos_sockets("127.0.0.1", sockets.port)
    finally:
        sockets.close()
    monkeypatch.setattr(socket, "socket", _DeniedSocket)
    with pytest.raises(ConfigError) as denied:
        open_kerberos_sockets("127.0.0.1", 88)
    assert "port 88" in str(denied.value) and "above 1024" in str(denied.value)
    assert "--kerberos-port 0" in str(denied.value)


# -- end to end: orthrus-kdc serve, its workers sharing the sockets --------------------------

SERVE_WITH_DOUBLE = Path(__file__).with_name("kerberos_serve_double.py")


def _serve_argv(realm_dir: Path, *args: str) -> list[str]:
    return [sys.executable, str(SERVE_WITH_DOUBLE), "--dir", str(realm_dir), "serve", *args]


def test_serve_answers_kerberos_beside_http_from_its_workers(realm_dir: Path) -> None:
    port, kerberos_port = free_port(), free_port()
    argv = _serve_argv(realm_dir, "--port", str(port), "--kerberos-port", str(kerberos_port))
    log = realm_dir / "serve-kerberos.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*argv, "--workers", "2"], stdout=out, stderr=subprocess.STDOUT, env=clean_env()
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/livez", process)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(10)
            udp.connect(("127.0.0.1", kerberos_port))
            for _ in range(20):
                udp.send(AS_TAG + b"ok")
                assert udp.recv(65536) == b"R" * 100
        with socket.create_connection(("127.0.0.1", kerberos_port), timeout=10) as tcp:
            assert tcp_exchange(tcp, TGS_TAG + b"refuse") == b"KRB-ERROR"
    finally:
        stop(process)
    lines = [json.loads(line) for line in (realm_dir / "audit.log").read_text().splitlines()]
    wire = [(a["event"], a["transport"], a["result"]) for a in lines if "transport" in a]
    assert wire.count(("as", "udp", "ok")) == 20
    assert ("tgs", "tcp", "refused") in wire


def test_serve_stops_at_once_when_the_kerberos_port_is_taken(realm_dir: Path) -> None:
    held = open_kerberos_sockets("127.0.0.1", 0)
    try:
        argv = _serve_argv(realm_dir, "--port", str(free_port()), "--kerberos-port", str(held.port))
        result = subprocess.run(argv, capture_output=True, text=True, env=clean_env(), timeout=60)
    finally:
        held.close()
    assert result.returncode != 0
    assert "pass --kerberos-port with another port, or 0" in result.stderr
    assert "Traceback" not in result.stderr
