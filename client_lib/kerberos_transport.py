"""Talking to a KDC on the Kerberos wire (RFC 4120 §7.2.1, §7.2.2): DER messages over UDP,
or over TCP with a 4-octet length prefix.

``krb5://host[:port]`` sends each request over UDP first and again over TCP when the KDC
answers ``KRB_ERR_RESPONSE_TOO_BIG`` (§7.2.1), as MIT's clients do; ``krb5+tcp://`` uses TCP
only. The port defaults to 88. The transport does no protocol work beyond the framing and
telling a KRB-ERROR from a reply: the flows (:mod:`client_lib.kerberos_wire`) build and
check the messages.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from client_lib.config import KERBEROS_SCHEMES, is_kerberos_url
from client_lib.errors import BadPassword, KDCUnreachable
from orthrus.der import MAX_MESSAGE_SIZE, decode_krb_error
from orthrus.errors import ConfigError, MalformedMessage, TransportError
from orthrus.kerberos.client import error_of

__all__ = [
    "KERBEROS_SCHEMES",
    "AsyncKerberosTransport",
    "KerberosAddress",
    "KerberosTransport",
    "is_kerberos_url",
]

_DEFAULT_PORT = 88
_LENGTH = struct.Struct(">I")
#: KRB-ERROR is ``[APPLICATION 30]``: its DER starts with this octet (RFC 4120 §5.9.1).
_KRB_ERROR_TAG = 0x7E
_RESPONSE_TOO_BIG = 52
#: The largest datagram a UDP read takes (RFC 4120 §7.2.1 sets no limit; IP's is 65,535).
_MAX_DATAGRAM = 65535


@dataclass(frozen=True, slots=True)
class KerberosAddress:
    """Where the KDC listens, and whether to skip UDP."""

    host: str
    port: int
    tcp_only: bool

    @classmethod
    def parse(cls, url: str) -> KerberosAddress:
        """``krb5://host[:port]`` or ``krb5+tcp://host[:port]`` (``ConfigError`` otherwise)."""
        parts = urlsplit(url)
        try:
            port = parts.port or _DEFAULT_PORT
        except ValueError:
            port = 0
        if parts.scheme not in KERBEROS_SCHEMES or not parts.hostname or not port:
            raise ConfigError(
                f"ORTHRUS_KDC_URL {url!r} is not a Kerberos KDC address: write "
                "krb5://HOST:PORT (UDP, then TCP) or krb5+tcp://HOST:PORT"
            )
        if parts.path.strip("/") or parts.query or parts.username:
            raise ConfigError(f"ORTHRUS_KDC_URL {url!r}: a krb5:// URL has only a host and port")
        return cls(parts.hostname, port, parts.scheme == "krb5+tcp")


class KerberosTransport:
    """Sends a flow's DER requests to one KDC; each exchange is one request and its reply."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.address = KerberosAddress.parse(url)
        self.timeout = timeout

    def close(self) -> None:
        """Nothing stays open between exchanges."""

    def exchange(self, path: str, message: bytes, reply_type: Any, url: str | None = None) -> bytes:
        """Send ``message`` (``path`` and ``reply_type`` are the flow's; the reply's decoding
        is the flow's job; ``url``, another realm's KDC, is never set on this wire: the flows
        refuse cross-realm over krb5://); return the reply's octets, or raise the KDC's
        KRB-ERROR as the client's :class:`~orthrus.errors.ProtocolError`."""
        del path, reply_type, url
        reply = None if self.address.tcp_only else self._udp(message)
        if reply is None or _error_code(reply) == _RESPONSE_TOO_BIG:
            reply = self._tcp(message)
        if reply[:1] == bytes([_KRB_ERROR_TAG]):
            error = error_of(decode_krb_error(reply))
            if error.name == "KDC_ERR_PREAUTH_FAILED":
                raise BadPassword(
                    "the KDC refused the key: a wrong password, or a keytab holding an old key "
                    f"(the KDC said: {error.message})"
                )
            raise error
        return reply

    def _unreachable(self, exc: OSError | TimeoutError) -> KDCUnreachable:
        detail = str(exc) or type(exc).__name__
        return KDCUnreachable(
            f"cannot reach the KDC at {self.url} ({detail}); check ORTHRUS_KDC_URL and that "
            "the KDC (krb5kdc, or 'orthrus-kdc serve --kerberos-port N') is running"
        )

    def _udp(self, message: bytes) -> bytes:
        """One datagram each way (RFC 4120 §7.2.1)."""
        address = (self.address.host, self.address.port)
        try:
            with socket.socket(_family(self.address.host), socket.SOCK_DGRAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(address)
                sock.send(message)
                return sock.recv(_MAX_DATAGRAM)
        except OSError as exc:
            raise self._unreachable(exc) from None

    def _tcp(self, message: bytes) -> bytes:
        """The request and the reply each after its 4-octet big-endian length; the top bit
        of the length is reserved and must be 0 (RFC 4120 §7.2.2)."""
        address = (self.address.host, self.address.port)
        try:
            with socket.create_connection(address, timeout=self.timeout) as sock:
                sock.sendall(_LENGTH.pack(len(message)) + message)
                (length,) = _LENGTH.unpack(_read_exactly(sock, _LENGTH.size))
                if length & 0x80000000 or length > MAX_MESSAGE_SIZE:
                    raise TransportError(
                        f"the KDC at {self.url} announced a {length}-octet reply over TCP "
                        f"(over the {MAX_MESSAGE_SIZE} bound): is ORTHRUS_KDC_URL a KDC?"
                    )
                return _read_exactly(sock, length)
        except OSError as exc:
            raise self._unreachable(exc) from None


class AsyncKerberosTransport:
    """The same for asyncio: each exchange runs in a worker thread, so waiting for the KDC
    never blocks the event loop."""

    def __init__(self, url: str, timeout: float) -> None:
        self._blocking = KerberosTransport(url, timeout)

    async def aclose(self) -> None:
        """Nothing stays open between exchanges."""

    async def exchange(
        self, path: str, message: bytes, reply_type: Any, url: str | None = None
    ) -> bytes:
        """:meth:`KerberosTransport.exchange`, awaited."""
        return await asyncio.to_thread(self._blocking.exchange, path, message, reply_type, url)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    chunks: list[bytes] = []
    left = count
    while left:
        chunk = sock.recv(min(left, 65536))
        if not chunk:
            raise ConnectionError("the KDC closed the connection before its reply was complete")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _error_code(reply: bytes) -> int | None:
    if reply[:1] != bytes([_KRB_ERROR_TAG]):
        return None
    try:
        return decode_krb_error(reply).error_code
    except MalformedMessage:
        return None
