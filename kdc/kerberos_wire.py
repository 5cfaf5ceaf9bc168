"""Kerberos on the wire: the KDC's UDP and TCP listeners (RFC 4120 §7.2.1, §7.2.2).

Each message is answered by the exchange runner (:meth:`kdc.exchanges.ExchangeRunner.
run_kerberos`), the one the JSON API uses: same store, lockout, rate limit, replay cache,
audit line and metrics, the event saying ``transport`` ``udp`` or ``tcp``.

- **UDP**: one datagram, one message. A reply longer than :data:`MAX_UDP_REPLY` (MIT's
  ``kdc_max_dgram_reply_size``) becomes KRB_ERR_RESPONSE_TOO_BIG, and the client asks again
  over TCP (§7.2.1). Garbage — empty, truncated, oversized, not a request — gets no reply at
  all: nothing to amplify, and nothing else to do, so it neither stops nor slows the KDC.
- **TCP**: each message is preceded by its length, 4 octets big-endian (§7.2.2); several
  messages per connection. A length with the reserved high bit set, or above
  :data:`~orthrus.der.codec.MAX_MESSAGE_SIZE`, closes the connection (§7.2.2 allows either
  that or KRB_ERR_FIELD_TOOLONG), as does a message the runner has no reply to (over the
  rate limit, a back end down); garbage gets the exchanges' KRB-ERROR. Each
  message — waiting for it, reading it, writing its reply — has ``timeout`` seconds
  (``request_timeout``), so slow or idle clients cannot hold connections; at most
  ``max_connections`` are open per process, more are closed at once.

The listeners run on each KDC worker's event loop, beside its HTTP server
(:mod:`kdc.server`), on sockets the ``serve`` process opened (:func:`open_kerberos_sockets`)
and its workers inherit; the exchange runs on that loop, as MIT's ``krb5kdc`` runs it in its
one thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any, cast

from kdc.exchanges import Arrival, ExchangeRunner
from orthrus.der.codec import MAX_MESSAGE_SIZE
from orthrus.errors import ConfigError

__all__ = [
    "MAX_UDP_REPLY",
    "KerberosListener",
    "KerberosSockets",
    "frame",
    "message_length",
    "open_kerberos_sockets",
]

log = logging.getLogger("orthrus.kdc")

#: The longest reply sent in one datagram (MIT's default ``kdc_max_dgram_reply_size``).
MAX_UDP_REPLY = 4096
#: TCP connections open at once per KDC process.
MAX_CONNECTIONS = 256
_HIGH_BIT = 0x8000_0000


def message_length(prefix: bytes) -> int | None:
    """The length a TCP message's 4-octet prefix announces (RFC 4120 §7.2.2), or None when
    the reserved high bit is set or the length is above ``MAX_MESSAGE_SIZE``."""
    length = int.from_bytes(prefix, "big")
    if length & _HIGH_BIT or length > MAX_MESSAGE_SIZE:
        return None
    return length


def frame(message: bytes) -> bytes:
    """``message`` with its TCP length prefix."""
    return len(message).to_bytes(4, "big") + message


@dataclass(frozen=True, slots=True)
class KerberosSockets:
    """The bound UDP socket and listening TCP socket of ``--kerberos-port``."""

    udp: socket.socket
    tcp: socket.socket

    @property
    def port(self) -> int:
        return int(self.tcp.getsockname()[1])

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()


def open_kerberos_sockets(host: str, port: int) -> KerberosSockets:
    """UDP and TCP sockets bound to ``host:port`` (port 0: any free port, the same for
    both); a ``ConfigError`` that says what to do if they cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(8 if port == 0 else 1):
        tcp = socket.socket(family, socket.SOCK_STREAM)
        udp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((host, port))
            udp.bind((host, tcp.getsockname()[1]))
            tcp.listen(128)
            return KerberosSockets(udp, tcp)
        except OSError as exc:
            tcp.close()
            udp.close()
            if port == 0 and exc.errno == errno.EADDRINUSE:
                continue  # the free TCP port's UDP twin was taken: another pair
            raise ConfigError(_bind_error(host, port, exc)) from None
    raise ConfigError(f"found no port free for both UDP and TCP on {host}")


def _bind_error(host: str, port: int, exc: OSError) -> str:
    where = f"cannot listen for Kerberos on {host} port {port} ({exc.strerror})"
    if exc.errno == errno.EACCES:
        return (
            f"{where}: ports below 1024 need root or CAP_NET_BIND_SERVICE; pass "
            "--kerberos-port with a port above 1024 (clients' krb5.conf: kdc = HOST:PORT), "
            "or --kerberos-port 0 to serve the HTTP API alone"
        )
    return f"{where}; pass --kerberos-port with another port, or 0 to serve the HTTP API alone"


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, runner: ExchangeRunner) -> None:
        self._runner = runner
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if not data or len(data) > MAX_MESSAGE_SIZE:
            return
        arrival = Arrival("udp", addr[0], None, time.perf_counter(), time.time())
        reply = self._runner.run_kerberos(data, arrival, MAX_UDP_REPLY)
        if reply and self._transport is not None:
            self._transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("Kerberos over UDP: %s", exc)  # e.g. ICMP port unreachable from a client


class KerberosListener:
    """Serves ``sockets`` with ``runner``."""

    def __init__(
        self,
        runner: ExchangeRunner,
        sockets: KerberosSockets,
        timeout: float,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self._runner = runner
        self._sockets = sockets
        self._timeout = timeout
        self._max = max_connections
        self._open = 0
        self._stopping = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self) -> None:
        """Listen on both sockets, on the running loop, until :meth:`stop`."""
        loop = self._loop = asyncio.get_running_loop()
        udp, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(self._runner), sock=self._sockets.udp
        )
        try:
            async with await asyncio.start_server(self._connection, sock=self._sockets.tcp):
                await self._stopping.wait()
        finally:
            udp.close()

    def stop(self) -> None:
        """Stop serving (from any thread): :meth:`serve` then returns."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._open >= self._max:
            writer.close()
            return
        self._open += 1
        peer = writer.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else None
        try:
            # Late, cut short or gone: the connection ends.
            with contextlib.suppress(TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                more = True
                while more:
                    more = await self._one_message(reader, writer, address)
        finally:
            self._open -= 1
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError):
                async with asyncio.timeout(self._timeout):
                    await writer.wait_closed()

    async def _one_message(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str | None
    ) -> bool:
        """Read, answer and send one message; False: the connection is to be closed."""
        async with asyncio.timeout(self._timeout):
            length = message_length(await reader.readexactly(4))
            if length is None:
                return False
            message = await reader.readexactly(length)
            arrival = Arrival("tcp", address, None, time.perf_counter(), time.time())
            reply = self._runner.run_kerberos(message, arrival)
            if reply is None:
                return False
            writer.write(frame(reply))
            await writer.drain()
        return True
