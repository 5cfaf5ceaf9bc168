"""The KDC's gunicorn worker: threaded, a deadline per request, and keep-alive without a
round trip through the event loop between one request and the next.

gunicorn's ``gthread`` worker hands a kept-alive connection back to its main thread after
every answer: the thread pool's result goes through a pipe, the main thread puts the socket
in its poller, and when the next request arrives it queues the connection to the pool
again. On a KDC answering a client that sends request after request, those hand-offs
between threads cost more CPU than the exchange itself (measured with an empty WSGI app:
~290 µs of server CPU per request, ~150 µs without them). So after answering, a thread
that has nothing else queued waits briefly (``LINGER`` seconds) for the next request on the
same connection and serves it directly; if none comes, or other work is waiting, or the
worker is stopping, the connection goes back to the poller as before. Every request still
gets its own deadline (:class:`orthrus_io.deadlines.DeadlineThreadWorker`), and a thread
serves at most ``MAX_LINGERED`` requests in a row before letting the others have a turn.

New connections go preferably to the worker holding fewest: see ``ACCEPT_DELAY``.

Such a next request, when it is a plain ``POST /v1/as`` or ``POST /v1/tgs`` that the KDC's
lean path takes (:class:`kdc.exchanges.LeanExchanges`) and that arrived whole, is also read
without gunicorn's general HTTP parser, and answered with one ``send`` (headers and body
together, where gunicorn writes them separately). Only a strict subset of HTTP/1.1 is read
so: the exact request line, ``Content-Length`` once and digits only, no
``Transfer-Encoding``, ``Expect``, ``Connection``, ``Upgrade`` or forwarding headers, no
repeated header, header names of letters, digits and ``-``, values of printable ASCII, at
most 64 header lines in at most 8 KiB. Everything else — and the first request of every
connection, TLS, an access log or a PROXY-protocol listener — goes to gunicorn exactly as
before, which then accepts or refuses it: the bytes read are handed back to its parser
untouched. So this reading never accepts what gunicorn would refuse, and never frames a
request differently (tests/kdc/test_kdc_worker.py).
"""

from __future__ import annotations

import re
import select
import ssl
import time
from email.utils import formatdate
from typing import Any

from gunicorn import SERVER

from kdc.exchanges import LeanExchanges
from orthrus_io.deadlines import DeadlineThreadWorker

__all__ = ["KDCWorker", "read_plain_request"]

#: How long a thread waits for the next request on a kept-alive connection, seconds.
LINGER = 0.002
#: Requests one thread serves on one connection before it goes back to the poller.
MAX_LINGERED = 256
#: Before accepting a connection, a worker that already holds some waits this long per
#: connection it holds (at most ``MAX_ACCEPT_DELAY``), so that a worker holding fewer takes
#: it first: gunicorn's workers otherwise race for every new connection, and two clients
#: that happen to land on one worker leave the other idle.
ACCEPT_DELAY = 0.0005
MAX_ACCEPT_DELAY = 0.002

_MAX_HEAD = 8192
#: What gunicorn writes before the application's headers (gunicorn.http.wsgi.Response).
_HEAD = "HTTP/1.1 {}\r\nServer: " + SERVER + "\r\nDate: {}\r\nConnection: keep-alive\r\n{}\r\n"
_MAX_HEADER_LINES = 64
_REQUEST_LINES = {b"POST /v1/as HTTP/1.1": "/v1/as", b"POST /v1/tgs HTTP/1.1": "/v1/tgs"}
_HEADER = re.compile(rb"([A-Za-z0-9-]{1,64}):[ \t]*([\x20-\x7e]*?)[ \t]*\Z")
#: Headers whose presence sends the request to gunicorn's parser.
_NOT_PLAIN = frozenset(
    {
        b"transfer-encoding",
        b"expect",
        b"connection",
        b"upgrade",
        b"http2-settings",
        b"te",
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-real-ip",
        b"proxy",
        b"script_name",
    }
)


def read_plain_request(data: bytes) -> tuple[str, int, str, int] | None:
    """``(path, content length, X-Request-Id, head length)`` of a plain request at the start
    of ``data``, or None when it is anything else (or its head is not complete)."""
    end = data.find(b"\r\n\r\n", 0, _MAX_HEAD)
    if end < 0:
        return None
    lines = data[:end].split(b"\r\n")
    path = _REQUEST_LINES.get(lines[0])
    if path is None or len(lines) > _MAX_HEADER_LINES + 1:
        return None
    seen: set[bytes] = set()
    length: int | None = None
    request_id = ""
    for line in lines[1:]:
        match = _HEADER.match(line)
        if match is None:
            return None
        name = match.group(1).lower()
        if name in seen or name in _NOT_PLAIN:
            return None
        seen.add(name)
        value = match.group(2)
        if name == b"content-length":
            if not value.isdigit() or len(value) > 9:
                return None
            length = int(value)
        elif name == b"x-request-id":
            request_id = value.decode("ascii")
    if length is None:
        return None
    return path, length, request_id, end + 4


class _DateHeader:
    """``Date:`` as gunicorn writes it, formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def __call__(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._text = formatdate(now, localtime=False, usegmt=True)
            self._second = now
        return self._text


class KDCWorker(DeadlineThreadWorker):
    """``gthread`` + deadlines + a short wait for the next request on the same connection."""

    _date = _DateHeader()

    def accept(self, listener: Any) -> None:
        if self.nr_conns:
            time.sleep(min(MAX_ACCEPT_DELAY, ACCEPT_DELAY * self.nr_conns))
        super().accept(listener)

    def handle(self, conn: Any) -> Any:
        keepalive = super().handle(conn)
        served = 1
        while keepalive is True and served < MAX_LINGERED and self._may_linger(conn):
            answered = self._answer_plain(conn)
            keepalive = super().handle(conn) if answered is None else answered
            served += 1
        return keepalive

    def _may_linger(self, conn: Any) -> bool:
        """True when the next request is here (or arrives within ``LINGER``) and nothing
        else waits for this thread."""
        if not self.alive or getattr(conn, "is_http2", False):
            return False
        queue = getattr(self.tpool, "_work_queue", None)
        if queue is None or not queue.empty():
            return False
        if conn.parser.unreader.buf.getvalue():
            return True  # pipelined: already read
        sock = conn.sock
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        try:
            readable, _, _ = select.select([sock], [], [], LINGER)
        except (OSError, ValueError):
            return False
        return bool(readable)

    def _lean(self) -> LeanExchanges | None:
        cfg = self.cfg
        if (
            cfg.is_ssl
            or cfg.accesslog
            or getattr(cfg, "proxy_protocol", "off") not in ("off", False, None)
            or not cfg.keepalive
            or self.nr + 1 >= self.max_requests  # gunicorn closes after this one
            or len(self.keepalived_conns) >= self.max_keepalived  # ditto
        ):
            return None
        lean = getattr(self.wsgi, "wsgi_app", None)
        return lean if isinstance(lean, LeanExchanges) else None

    def _answer_plain(self, conn: Any) -> bool | None:
        """Answer the next request if it is plain (see the module); None: it is not, and
        gunicorn's parser gets every byte read so far."""
        lean = self._lean()
        if lean is None:
            return None
        unreader = conn.parser.unreader
        data = unreader.take_buffered()
        if not data:
            try:
                data = conn.sock.recv(65536)
            except OSError:
                return False
            if not data:
                return False  # the client closed the connection
        parsed = read_plain_request(data)
        address = conn.client[0] if isinstance(conn.client, tuple) else None
        route = None
        if parsed is not None and len(data) >= parsed[3] + parsed[1]:
            path, length = parsed[0], parsed[1]
            route = lean.route("POST", path, str(length), None, address)
        if route is None or parsed is None:
            unreader.unread(data)
            return None
        path, length, request_id, head = parsed
        started, now = time.perf_counter(), time.time()
        body, rest = data[head : head + length], data[head + length :]
        if rest:
            unreader.unread(rest)
        token = self.reaper.watch(conn, time.monotonic() + self.cfg.timeout)
        try:
            status, headers, payload = lean.answer(
                route, path, body, address, request_id, started, now
            )
            fields = "".join(f"{name}: {value}\r\n" for name, value in headers)
            head_text = _HEAD.format(status, self._date(), fields)
            conn.sock.sendall(head_text.encode("latin-1") + payload)
        except OSError:
            return False
        finally:
            self.reaper.forget(token)
        self.nr += 1
        return True
