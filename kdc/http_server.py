"""The KDC's HTTP/1.1 server, one connection at a time (RFC 9112): httptools' parser
(llhttp) reads requests, :class:`HTTPConnection` bounds them and writes the answers.

- **Exchanges on the loop.** Each request goes first to the JSON API's front
  (:meth:`kdc.http_api.ExchangeFront.answer`), run inline: the exchanges take well under a
  millisecond of CPU and do no slow I/O. What the front leaves to Flask (administration,
  whose ``cpw`` runs Argon2id; ``/metrics``; the realm document) is called through WSGI in
  a thread of the worker's pool (:mod:`kdc.wsgi_call`), so it never blocks the loop.
- **Order.** Requests pipelined on one connection are answered in the order they came,
  whichever answer is ready first.
- **Time.** Each request has ``request_timeout`` seconds from its first byte — the first
  from the moment the connection was accepted, TLS handshake included — until its answer
  is written; then the connection is closed, so a slow client (slowloris) holds nothing.
  Between requests a kept-alive connection may stay idle :data:`KEEPALIVE` seconds.
- **Size.** A request line longer than :data:`MAX_TARGET` octets is 414; a head longer
  than :data:`MAX_HEAD` octets or with more than :data:`MAX_FIELDS` fields is 431; a body
  longer than ``max_request_bytes`` is not kept, and is 413 (the exchange runner's
  ``too_large``); what llhttp cannot parse (duplicate ``Content-Length``, a bad chunk...)
  is 400. Each of these ends the connection.
- **Memory.** A client that sends requests and leaves the answers unread is no longer read
  once the transport's write buffer is full or :data:`MAX_PIPELINED` answers wait: what
  one connection holds stays bounded, and its deadline still ends it.
- **Access log.** One line per answer, in gunicorn's default format (the Common Log Format
  with referer and user agent), when the worker has an access logger.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import time
import urllib.parse
from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, NoReturn

import httptools

from kdc.exchanges import error_json
from kdc.http_api import ExchangeFront, Reply, internal_error
from kdc.wsgi_call import HTTPRequest, call_wsgi, wsgi_environ

__all__ = [
    "KEEPALIVE",
    "MAX_FIELDS",
    "MAX_HEAD",
    "MAX_PIPELINED",
    "MAX_TARGET",
    "HTTPConnection",
    "Served",
]

#: Seconds a kept-alive connection may wait for its next request (gunicorn's ``keepalive``).
KEEPALIVE = 30.0
#: The longest request head, in octets (request line and fields).
MAX_HEAD = 16 * 1024
#: The most fields a request head may have.
MAX_FIELDS = 100
#: The longest request target, in octets (gunicorn's ``limit_request_line``).
MAX_TARGET = 4094
#: Answers waiting on one connection (pipelined requests) before it is read no further.
MAX_PIPELINED = 16
#: After an answer that refuses a request, how long what the client still sends is read and
#: dropped before the connection is closed: closing a socket with unread data resets it,
#: and the client could lose the answer.
LINGER = 2.0
#: Fields of an answer the server writes itself (RFC 9112 §6, §9.6).
_OWN_FIELDS = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive"})


@dataclass(slots=True)
class Served:
    """What every connection of one worker shares."""

    front: ExchangeFront
    #: Where Flask's requests run (``--threads``).
    executor: Executor
    #: ``request_timeout``: seconds per request.
    timeout: float
    #: ``max_request_bytes``: the longest body kept.
    max_body: int
    scheme: str
    multiprocess: bool
    access_log: logging.Logger | None = None
    connections: set[HTTPConnection] = field(default_factory=set, init=False)
    #: Set by :meth:`stop`: each connection closes once it has nothing to answer.
    stopping: bool = field(default=False, init=False)
    _drained: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    def stop(self) -> None:
        """Stop taking requests: idle connections are closed now, the others once their
        requests are answered."""
        self.stopping = True
        for connection in list(self.connections):
            connection.close_if_idle()
        self._check_drained()

    def forget(self, connection: HTTPConnection) -> None:
        """``connection`` is closed."""
        self.connections.discard(connection)
        self._check_drained()

    def _check_drained(self) -> None:
        if self.stopping and not self.connections:
            self._drained.set()

    async def drained(self) -> None:
        """Until every connection is closed (after :meth:`stop`)."""
        await self._drained.wait()


class _Refused(Exception):
    """A request the server refuses itself (raised in the parser's callbacks)."""

    def __init__(self, status: HTTPStatus, why: str) -> None:
        super().__init__(why)
        self.status = status


@dataclass(slots=True)
class _Pending:
    """An answer to write, in its request's turn: a reply, or Flask's future one."""

    request: HTTPRequest | None
    reply: Reply | asyncio.Future[Reply]
    close: bool


class HTTPConnection(asyncio.Protocol):
    """One client connection (asyncio protocol)."""

    def __init__(self, served: Served) -> None:
        self._served = served
        self._loop = asyncio.get_running_loop()
        self._accepted = self._loop.time()  # before a TLS handshake: the factory runs first
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._client: tuple[str, int] | None = None
        self._server: tuple[str, int] = ("", 0)
        self._timer: asyncio.TimerHandle | None = None
        self._idle = False
        self._pending: deque[_Pending] = deque()
        self._receiving = False  # a request has begun and is not complete
        self._done = False  # no more requests on this connection: what follows is dropped
        self._refused: _Refused | None = None  # why a callback stopped the parser
        self._write_blocked = False  # the transport's buffer is full: the client reads slowly
        self._reading_paused = False
        self._heads = 0  # requests begun on this connection
        self._new_request()

    def _new_request(self) -> None:
        self._target = bytearray()
        self._fields: list[tuple[str, str]] = []
        self._head_size = 0
        self._in_head = False
        self._body: list[bytes] = []
        self._body_size = 0

    # -- asyncio -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self._client = (str(peer[0]), int(peer[1]))
        local = transport.get_extra_info("sockname")
        if isinstance(local, tuple):
            self._server = (str(local[0]), int(local[1]))
        self._served.connections.add(self)
        self._deadline(self._accepted)
        if self._served.stopping:
            self._close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._done = True
        if self._timer is not None:
            self._timer.cancel()
        for pending in self._pending:
            if isinstance(pending.reply, asyncio.Future):
                pending.reply.cancel()
        self._pending.clear()
        self._served.forget(self)

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        # Which head was arriving before this read: only a read that lies wholly within one
        # head is counted below (one that also holds a body or other requests is not head).
        head_before = self._heads if self._in_head else -1
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._done = True  # its request is answered (over HTTP/1.1), then the end
            if not self._pending:
                self._close()
            return
        except httptools.HttpParserError as exc:
            # A callback's refusal comes out as httptools' "callback error": what it
            # refused is kept in self._refused.
            refused = self._refused or _Refused(HTTPStatus.BAD_REQUEST, str(exc) or "malformed")
            self._refuse(refused.status, str(refused))
            return
        if self._in_head and self._heads == head_before:
            # httptools keeps a field that is still arriving: count what arrives. The read
            # that began the head is not counted: at most one read more is kept.
            self._head_size += len(data)
            if self._head_size > MAX_HEAD:
                self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "head too large")

    def pause_writing(self) -> None:
        self._write_blocked = True
        self._throttle()

    def resume_writing(self) -> None:
        self._write_blocked = False
        self._throttle()

    def _throttle(self) -> None:
        """Read only while the client takes its answers (see "Memory" above)."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        hold = self._write_blocked or len(self._pending) >= MAX_PIPELINED
        if hold != self._reading_paused:
            self._reading_paused = hold
            if hold:
                transport.pause_reading()
            else:
                transport.resume_reading()

    def eof_received(self) -> bool:
        """The client sent all it will: answer what it asked, then close."""
        self._done = True
        return bool(self._pending)

    def close_if_idle(self) -> None:
        """Close now if no request is being received or answered (a graceful stop)."""
        if not self._receiving and not self._pending:
            self._close()

    # -- the parser's callbacks ----------------------------------------------------------

    def _stop(self, status: HTTPStatus, why: str) -> NoReturn:
        """Refuse the request: stops the parser (an exception through httptools)."""
        self._refused = _Refused(status, why)
        raise self._refused

    def on_message_begin(self) -> None:
        if self._done:
            self._stop(HTTPStatus.BAD_REQUEST, "request after the last")
        self._receiving = self._in_head = True
        self._heads += 1
        if self._idle:
            self._deadline(self._loop.time())

    def on_url(self, part: bytes) -> None:
        self._target += part
        if len(self._target) > MAX_TARGET:
            self._stop(HTTPStatus.REQUEST_URI_TOO_LONG, "request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields.append((name.decode("latin-1").lower(), value.decode("latin-1")))
        if len(self._fields) > MAX_FIELDS:
            self._stop(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "too many fields")

    def on_headers_complete(self) -> None:
        self._in_head = False
        size = len(self._target) + sum(len(n) + len(v) + 4 for n, v in self._fields)
        if size > MAX_HEAD:
            self._stop(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "head too large")
        expect = next((v for n, v in self._fields if n == "expect"), "")
        if expect.lower() == "100-continue" and not self._pending and self._transport:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size <= self._served.max_body:
            self._body.append(body)  # past the limit nothing is kept: the answer is 413

    def on_message_complete(self) -> None:
        self._receiving = False
        request = self._request()
        keep_alive = self._parser.should_keep_alive()
        too_large = self._body_size > self._served.max_body
        self._new_request()
        if not keep_alive:
            self._done = True
        self._dispatch(request, too_large, close=not keep_alive)

    # -- answers ---------------------------------------------------------------------------

    def _request(self) -> HTTPRequest:
        try:
            url = httptools.parse_url(bytes(self._target))
        except httptools.HttpParserInvalidURLError:
            self._stop(HTTPStatus.BAD_REQUEST, "malformed request target")
        return HTTPRequest(
            method=self._parser.get_method().decode("latin-1"),
            target=self._target.decode("latin-1"),
            path=urllib.parse.unquote_to_bytes(url.path or b"/").decode("latin-1"),
            query=(url.query or b"").decode("latin-1"),
            version=self._parser.get_http_version(),
            headers=tuple(self._fields),
            body=b"".join(self._body),
            client=self._client,
            server=self._server,
            scheme=self._served.scheme,
        )

    def _dispatch(self, request: HTTPRequest, too_large: bool, close: bool) -> None:
        served = self._served
        address = self._client[0] if self._client else None
        body = None if too_large else request.body
        try:
            reply = served.front.answer(
                request.method, request.path, address, request.header("x-request-id"), lambda: body
            )
        except Exception:
            reply = internal_error(request.path)
        if reply is None and too_large:
            reply = self._refusal(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
        if reply is not None:
            self._pending.append(_Pending(request, reply, close))
        else:
            environ = wsgi_environ(request, served.multiprocess)
            future = self._loop.run_in_executor(
                served.executor, call_wsgi, served.front.app, environ
            )
            future.add_done_callback(lambda _: self._flush())
            self._pending.append(_Pending(request, future, close))
        self._flush()

    def _refuse(self, status: HTTPStatus, why: str) -> None:
        """Answer ``status`` after the answers already due, then close."""
        self._receiving = False
        self._done = True
        self._pending.append(_Pending(None, self._refusal(status, why), close=True))
        self._flush()

    @staticmethod
    def _refusal(status: HTTPStatus, why: str) -> Reply:
        body = error_json("KRB_ERR_GENERIC", f"{status.phrase}: {why}")
        return Reply(
            f"{status.value} {status.phrase}", [("Content-Type", "application/json")], body
        )

    def _flush(self) -> None:
        """Write the answers that are ready, in their requests' order."""
        self._write_ready()
        self._throttle()

    def _write_ready(self) -> None:
        while self._pending and self._transport is not None:
            pending = self._pending[0]
            reply = pending.reply
            if isinstance(reply, asyncio.Future):
                if not reply.done():
                    return
                if reply.cancelled():
                    return
                reply = reply.result()
            self._pending.popleft()
            last = not self._pending and not self._receiving
            close = pending.close or ((self._done or self._served.stopping) and last)
            self._write(pending.request, reply, close)
            if close:
                if pending.request is None:
                    self._linger()
                else:
                    self._close()
                return
            if last:
                self._idle_timer()
            else:
                self._deadline(self._loop.time())  # the next request's turn

    def _write(self, request: HTTPRequest | None, reply: Reply, close: bool) -> None:
        assert self._transport is not None
        head = bytearray(b"HTTP/1.1 %s\r\n" % reply.status.encode("latin-1"))
        length = str(len(reply.body))
        for name, value in reply.headers:
            if name.lower() in _OWN_FIELDS:
                if name.lower() == "content-length" and request and request.method == "HEAD":
                    length = value  # the length a GET would have had (RFC 9110 §8.6)
                continue
            head += b"%s: %s\r\n" % (name.encode("latin-1"), value.encode("latin-1"))
        head += b"Date: %s\r\nContent-Length: %s\r\n" % (_date(), length.encode())
        if close:
            head += b"Connection: close\r\n"
        elif request is not None and request.version == "1.0":
            head += b"Connection: keep-alive\r\n"
        head += b"\r\n"
        body = b"" if request is not None and request.method == "HEAD" else reply.body
        self._transport.write(bytes(head) + body)
        if self._served.access_log is not None:
            self._served.access_log.info("%s", _access_line(request, reply, self._client))

    # -- time ------------------------------------------------------------------------------

    def _deadline(self, start: float) -> None:
        self._set_timer(start + self._served.timeout)
        self._idle = False

    def _idle_timer(self) -> None:
        if self._served.stopping:
            self._close()
            return
        self._set_timer(self._loop.time() + KEEPALIVE)
        self._idle = True

    def _set_timer(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._close)

    def _close(self) -> None:
        self._done = True
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def _linger(self) -> None:
        """Close after an answer that refused a request: stop writing now, drop what the
        client still sends for :data:`LINGER` seconds at most, then close."""
        transport = self._transport
        if transport is None or not transport.can_write_eof():
            self._close()
            return
        with contextlib.suppress(OSError, RuntimeError):
            transport.write_eof()
        self._set_timer(self._loop.time() + LINGER)


_dates: dict[int, bytes] = {}


def _date() -> bytes:
    """The ``Date`` field's value (RFC 9110 §6.6.1), made once a second."""
    now = int(time.time())
    value = _dates.get(now)
    if value is None:
        _dates.clear()
        value = _dates[now] = email.utils.formatdate(now, usegmt=True).encode()
    return value


def _access_line(request: HTTPRequest | None, reply: Reply, client: Any) -> str:
    """gunicorn's default access-log line: ``%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s
    "%(f)s" "%(a)s"``."""
    when = time.strftime("[%d/%b/%Y:%H:%M:%S %z]")
    host = client[0] if client else "-"
    status = reply.status.split(" ", 1)[0]
    if request is None:
        return f'{host} - - {when} "-" {status} {len(reply.body)} "-" "-"'
    line = f"{request.method} {request.target} HTTP/{request.version}"
    referer = request.header("referer") or "-"
    agent = request.header("user-agent") or "-"
    return f'{host} - - {when} "{line}" {status} {len(reply.body)} "{referer}" "{agent}"'
