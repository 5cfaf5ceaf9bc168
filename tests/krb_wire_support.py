"""Kerberos over UDP and TCP in-process for tests: a KDC's exchange runner with a test double
of the Kerberos exchanges (``orthrus.kerberos.kdc.answer``: same signature, and its
``KerberosAnswer``) behind a real :class:`kdc.kerberos_wire.KerberosListener` on free
127.0.0.1 ports."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from kdc.app import make_runner
from kdc.backends import make_backends
from kdc.config import load_settings
from kdc.kerberos_wire import MAX_UDP_REPLY, KerberosListener, frame, open_kerberos_sockets
from kdc.store import Store
from orthrus.kerberos.kdc import Exchange as KDCExchange
from orthrus.kerberos.kdc import KerberosAnswer
from orthrus.realm import KDCContext
from orthrus_io.errors import Unavailable
from orthrus_io.events import ExchangeEvent

AS_TAG, TGS_TAG = b"\x6a", b"\x6c"  # [APPLICATION 10] AS-REQ, [APPLICATION 12] TGS-REQ
BIG = 3 * MAX_UDP_REPLY
GARBAGE_ERROR = b"KRB-ERROR: not a request"


def answer(
    request: bytes, ctx: KDCContext, now: float, max_reply: int | None = None
) -> KerberosAnswer:
    """A double of the Kerberos exchanges: ``6a`` + word is an AS-REQ, ``6c`` + word a TGS-REQ
    (``down``: the database is down; ``big``: a reply longer than a datagram; ``refuse``: a
    KRB-ERROR), anything else garbage: a KRB-ERROR with no exchange, which the KDC sends over
    TCP only."""
    kind: KDCExchange | None = {AS_TAG: "AS", TGS_TAG: "TGS"}.get(request[:1])  # type: ignore[assignment]
    word = request[1:]
    if kind is None or word not in (b"ok", b"big", b"down", b"refuse"):
        return KerberosAnswer(GARBAGE_ERROR, None, "KRB_ERR_GENERIC", "not a KDC request")
    if word == b"down":
        raise Unavailable("database down")
    names = {"client": f"alice@{ctx.policy.realm}", "server": f"krbtgt/{ctx.policy.realm}"}
    if word == b"refuse":
        return KerberosAnswer(b"KRB-ERROR", kind, "KDC_ERR_PREAUTH_FAILED", "wrong key", **names)
    reply = b"R" * (BIG if word == b"big" else 100)
    if max_reply is not None and len(reply) > max_reply:
        return KerberosAnswer(b"TOO-BIG", kind, "KRB_ERR_RESPONSE_TOO_BIG", "use TCP", **names)
    return KerberosAnswer(reply, kind, **names)


class Recorder:
    def __init__(self) -> None:
        self.events: list[ExchangeEvent] = []

    def emit(self, event: ExchangeEvent) -> None:
        self.events.append(event)


@dataclass
class Wire:
    port: int
    events: Recorder
    listener: KerberosListener

    def udp(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", self.port))
        return sock

    def tcp(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


@contextlib.contextmanager
def serve_kerberos(realm_dir: Path, **overrides: Any) -> Iterator[Wire]:
    timeout = overrides.pop("timeout", 30)
    max_connections = overrides.pop("max_connections", 16)
    settings = msgspec.structs.replace(load_settings(realm_dir, env={}), **overrides)
    store = Store.open(settings)
    events = Recorder()
    runner = make_runner(settings, store, make_backends(settings), events, kerberos=answer)
    sockets = open_kerberos_sockets("127.0.0.1", 0)
    listener = KerberosListener(runner, sockets, timeout, max_connections)
    loop = asyncio.new_event_loop()  # the listener's, in a thread as a KDC worker's loop
    thread = threading.Thread(target=loop.run_until_complete, args=(listener.serve(),), daemon=True)
    thread.start()
    try:
        yield Wire(sockets.port, events, listener)
    finally:
        loop.call_soon_threadsafe(listener.stop)
        thread.join(10)
        loop.close()
        sockets.close()
        store._engine.dispose()
    assert not thread.is_alive()


def tcp_exchange(sock: socket.socket, message: bytes) -> bytes:
    sock.sendall(frame(message))
    return recv_frame(sock)


def recv_frame(sock: socket.socket) -> bytes:
    prefix = recv_exactly(sock, 4)
    return recv_exactly(sock, int.from_bytes(prefix, "big"))


def recv_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        assert chunk, "the KDC closed the connection"
        data += chunk
    return data


def closed_by_kdc(sock: socket.socket) -> bool:
    """True when the KDC closes the connection; waits for it up to the socket's timeout
    (10 s), and fails (TimeoutError) if the KDC keeps the connection open."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
