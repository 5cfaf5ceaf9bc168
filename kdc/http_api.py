"""The JSON API's HTTP front: the exchanges, and the rate limit on ``/v1/*``; Flask behind.

``POST /v1/as``, ``/v1/tgs``, ``/v1/kpasswd`` and ``/v1/otp/enroll`` are answered here by the
exchange runner (:mod:`kdc.exchanges`), and only here: Flask has no route for them. Flask's
request and response objects, URL routing and request context cost more CPU than an exchange
itself (measured: ~250 µs of ~450 µs per request), and a second path through Flask would
have to be kept in step with this one. Everything under ``/v1/`` passes the rate limit
first; the rest (``/v1/realm``, JWKS, health, metrics, OpenAPI) goes to Flask.

:meth:`ExchangeFront.answer` is the front itself, with no I/O: the KDC's server
(:mod:`kdc.http_server`) calls it on its event loop with the body it has read, and sends
what it answers None to Flask in a thread. :meth:`ExchangeFront.__call__` is the same front
as a WSGI application (PEP 3333), which :func:`kdc.app.create_app` returns, for WSGI test
clients and servers: it reads the body from ``wsgi.input``.

A body is read up to ``max_request_bytes``: a longer one, announced or chunked, is 413
``KRB_ERR_FIELD_TOOLONG`` and never decoded.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from werkzeug.http import HTTP_STATUS_CODES

from kdc.exchanges import (
    INTERNAL_ERROR,
    Arrival,
    ExchangeRunner,
    JSONAnswer,
    JSONRoute,
    error_json,
)

__all__ = ["ExchangeFront", "Reply", "internal_error"]

log = logging.getLogger("orthrus.kdc")

JSON = "application/json"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
#: The body of a request, read when needed: its bytes; None: longer than
#: ``max_request_bytes``; a string: why it is refused (400).
BodyReader = Callable[[], bytes | str | None]


class Reply(NamedTuple):
    """An HTTP answer: status line as WSGI writes it (``"200 OK"``), headers, body."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes


def internal_error(path: str) -> Reply:
    """500 with the KDC's error JSON, for the exception being handled (its traceback goes to
    the log, never to the client)."""
    log.exception("internal error on %s", path)
    body = error_json("KRB_ERR_GENERIC", INTERNAL_ERROR)
    return Reply(_status_line(500), [("Content-Type", JSON)], body)


def _status_line(status: int) -> str:
    """As Werkzeug writes it (``400 BAD REQUEST``), as Flask's own answers."""
    return f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"


class ExchangeFront:
    """The exchanges of the JSON API, and the rate limit on ``/v1/*``; ``app`` (Flask) behind."""

    def __init__(self, app: WSGIApp, runner: ExchangeRunner) -> None:
        self.app = app
        self.runner = runner
        self._max = runner.settings.max_request_bytes

    def answer(
        self,
        method: str,
        path: str,
        address: str | None,
        request_id: str,
        body: BodyReader,
    ) -> Reply | None:
        """The answer to a request for ``path`` (percent-decoded, PEP 3333's ``PATH_INFO``)
        from ``address``, or None: ``self.app``'s to answer. ``request_id``: its
        ``X-Request-Id`` ("" if none; one is made then); ``body`` is called only for an
        exchange's POST."""
        if not path.startswith("/v1/"):
            return None
        started, now = time.perf_counter(), time.time()
        request_id = request_id[:64] or uuid.uuid4().hex
        route = self.runner.routes.get(path)
        arrival = Arrival("http", address, request_id, started, now)
        answer = self.runner.refused(route.kind if route else None, arrival)
        if answer is None:
            if route is None:
                return None
            answer = self._exchange(method, body, route, path, arrival)
        headers = [
            ("Content-Type", JSON),
            ("Content-Length", str(len(answer.body))),
            ("X-Request-Id", request_id),
            *answer.headers,
        ]
        return Reply(_status_line(answer.status), headers, answer.body)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        reply = self.answer(
            environ.get("REQUEST_METHOD", ""),
            environ.get("PATH_INFO", ""),
            environ.get("REMOTE_ADDR"),
            environ.get("HTTP_X_REQUEST_ID", ""),
            lambda: self._body(environ),
        )
        if reply is None:
            return self.app(environ, start_response)
        start_response(reply.status, reply.headers)
        return [reply.body]

    def _exchange(
        self, method: str, body: BodyReader, route: JSONRoute, path: str, arrival: Arrival
    ) -> JSONAnswer:
        if method != "POST":
            message = error_json("KRB_ERR_GENERIC", f"Method Not Allowed: {method} {path}")
            return JSONAnswer(405, message, (("Allow", "POST"),))
        request = body()
        if request is None:
            return self.runner.too_large()
        if isinstance(request, str):
            return JSONAnswer(400, error_json("KRB_ERR_GENERIC", f"{request}: POST {path}"))
        return self.runner.run_json(route, request, arrival)

    def _body(self, environ: dict[str, Any]) -> bytes | str | None:
        """The body of a WSGI request (:data:`BodyReader`)."""
        length = environ.get("CONTENT_LENGTH") or ""
        stream = environ["wsgi.input"]
        if length:
            if not (length.isascii() and length.isdigit()):
                return "Bad Request"
            if int(length) > self._max:
                return None
            body = _read(stream, int(length))
            return body if len(body) == int(length) else "Bad Request"  # the client left
        body = _read(stream, self._max + 1)  # chunked: the stream ends where the body does
        return body if len(body) <= self._max else None


def _read(stream: Any, limit: int) -> bytes:
    """At most ``limit`` bytes of ``stream``, fewer only if it ends first."""
    chunks = []
    missing = limit
    while missing > 0:
        chunk = stream.read(missing)
        if not chunk:
            break
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)
