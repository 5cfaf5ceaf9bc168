"""A candidate server for the KDC, for measurement only (bench/server_candidates.py,
bench/server_limits.py): the issue's third candidate, an asyncio server of our own on uvloop
with httptools' parser (llhttp), sketched to see what it costs per request and whether it
bounds a request's head. Not the KDC's server: no TLS, no graceful stop, no access log, no
respawn, Flask's routes answered on the loop.

- each request — head and body — has ``request_timeout`` seconds from its first byte (from
  the connection's start for the first); then the connection is closed;
- a head longer than ``MAX_HEAD`` octets or with more than ``MAX_FIELDS`` fields is 431;
- ``POST /v1/as``, ``/v1/tgs``, ``/v1/kpasswd`` go to the KDC's exchange runner on the loop
  (as bench/asgi_candidate.py and kdc/http_api.py do); the rest to the Flask app, called
  inline through a WSGI environ (enough for ``/livez``);
- ``--workers`` processes forked after the socket is bound, one loop each.

uvloop and httptools are not dependencies of Orthrus: server_candidates installs them into
a scratch directory. ``KDC_DIR`` names the KDC directory.

    python -m bench.own_candidate --host 127.0.0.1 --port 8099 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import signal
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httptools  # type: ignore[import-not-found]
import uvloop  # type: ignore[import-not-found]

from kdc.app import RUNNER, create_app
from kdc.backends import make_backends
from kdc.config import load_settings
from kdc.exchanges import Arrival, ExchangeRunner, JSONAnswer
from kdc.store import Store

MAX_HEAD = 8192
MAX_FIELDS = 100


class _Worker:
    """What every connection of one worker process shares."""

    def __init__(self, workers: int) -> None:
        settings = load_settings(Path(os.environ["KDC_DIR"]))
        flask_app = create_app(settings, Store.open(settings), make_backends(settings, workers))
        self.runner: ExchangeRunner = flask_app.extensions[RUNNER]
        self.flask = flask_app.wsgi_app.app  # Flask without the WSGI front (as asgi_candidate)
        self.timeout = settings.request_timeout
        self.limit = settings.max_request_bytes


class _Connection(asyncio.Protocol):
    def __init__(self, worker: _Worker) -> None:
        self.worker = worker
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Any = None
        self.deadline: asyncio.TimerHandle | None = None
        self._new_request()

    def _new_request(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.size = 0
        self.head_bytes = 0
        self.in_head = True
        self.started = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self._arm()

    def _arm(self) -> None:
        self.deadline = self.loop.call_later(self.worker.timeout, self.transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.deadline is not None:
            self.deadline.cancel()

    def data_received(self, data: bytes) -> None:
        if not self.started:
            self.started = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._answer_and_close(400)
            return
        if self.in_head:
            self.head_bytes += len(data)
            if self.head_bytes > MAX_HEAD:
                self._answer_and_close(431)

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        # A head that came whole in one read: its size from what was parsed (a head still
        # arriving is counted in data_received, as httptools keeps a partial field itself).
        self.in_head = False
        parsed = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
        if len(self.headers) > MAX_FIELDS or parsed > MAX_HEAD:
            self._answer_and_close(431)

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size <= self.worker.limit + 1:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.transport.is_closing():
            return
        status, headers, body = self._respond()
        head = [f"HTTP/1.1 {status} X\r\n".encode()]
        head += [f"{k}: {v}\r\n".encode("latin-1") for k, v in headers]
        self.transport.write(b"".join(head) + b"\r\n" + body)
        if self.deadline is not None:
            self.deadline.cancel()
        if self.parser.should_keep_alive():
            self._new_request()
            self._arm()
        else:
            self.transport.close()

    def _respond(self) -> tuple[int, list[tuple[str, str]], bytes]:
        path = httptools.parse_url(self.url).path.decode("latin-1")
        method = self.parser.get_method().decode()
        route = self.worker.runner.routes.get(path)
        if route is None or method != "POST":
            return self._flask(method, path)
        address = self.transport.get_extra_info("peername")[0]
        request_id = dict(self.headers).get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = request_id or uuid.uuid4().hex
        arrival = Arrival("http", address, request_id, time.perf_counter(), time.time())
        runner = self.worker.runner
        answer: JSONAnswer = runner.refused(route.kind, arrival) or (
            runner.too_large()
            if self.size > self.worker.limit
            else runner.run_json(route, b"".join(self.body), arrival)
        )
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(answer.body))),
            ("X-Request-Id", request_id),
            *answer.headers,
        ]
        return answer.status, headers, answer.body

    def _flask(self, method: str, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "kdc",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": io.BytesIO(b"".join(self.body)),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "REMOTE_ADDR": self.transport.get_extra_info("peername")[0],
        }
        for name, value in self.headers:
            environ["HTTP_" + name.decode("latin-1").upper().replace("-", "_")] = value.decode(
                "latin-1"
            )
        started: list[Any] = []
        body = b"".join(self.worker.flask(environ, lambda s, h, e=None: started.extend((s, h))))
        status, headers = started
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        return int(status.split()[0]), [*headers, ("Content-Length", str(len(body)))], body

    def _answer_and_close(self, status: int) -> None:
        self.transport.write(
            f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        self.transport.close()


def _serve(sock: socket.socket, workers: int) -> None:
    async def main() -> None:
        worker = _Worker(workers)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Connection(worker), sock=sock)
        async with server:
            await server.serve_forever()

    uvloop.run(main())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sock = socket.create_server((args.host, args.port), backlog=128)
    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _serve(sock, args.workers)
            os._exit(0)
        children.append(pid)

    def stop(*_: Any) -> None:
        for child in children:
            os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        os.waitpid(child, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
