"""The JSON API's transport: a WSGI application in front of the Flask app.

``POST /v1/as``, ``/v1/tgs`` and ``/v1/kpasswd`` are answered here by the exchange runner
(:mod:`kdc.exchanges`), and only here: Flask has no route for them. Flask's request and
response objects, URL routing and request context cost more CPU than an exchange itself
(measured: ~250 µs of ~450 µs per request), and a second path through Flask would have to
be kept in step with this one. Everything under ``/v1/`` passes the rate limit first; the
rest (``/v1/realm``, JWKS, health, metrics, OpenAPI) goes to Flask.

The server (gunicorn) parses HTTP; this reads the WSGI environ and the body stream only.
A body is read up to ``max_request_bytes``: a longer one, announced or chunked, is 413
``KRB_ERR_FIELD_TOOLONG`` and never decoded.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.http import HTTP_STATUS_CODES

from kdc.exchanges import Arrival, ExchangeRunner, JSONAnswer, JSONRoute, error_json

__all__ = ["ExchangeFront"]

JSON = "application/json"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _status_line(status: int) -> str:
    """As Werkzeug writes it (``400 BAD REQUEST``), as Flask's own answers."""
    return f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"


class ExchangeFront:
    """WSGI: the exchanges of the JSON API, and the rate limit on ``/v1/*``; Flask behind."""

    def __init__(self, app: WSGIApp, runner: ExchangeRunner) -> None:
        self.app = app
        self.runner = runner
        self._max = runner.settings.max_request_bytes

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/v1/"):
            return self.app(environ, start_response)
        started, now = time.perf_counter(), time.time()
        address = environ.get("REMOTE_ADDR")
        request_id = environ.get("HTTP_X_REQUEST_ID", "")[:64] or uuid.uuid4().hex
        route = self.runner.routes.get(path)
        arrival = Arrival("http", address, request_id, started, now)
        answer = self.runner.refused(route.kind if route else None, arrival)
        if answer is None:
            if route is None:
                return self.app(environ, start_response)
            answer = self._exchange(environ, route, path, arrival)
        headers = [
            ("Content-Type", JSON),
            ("Content-Length", str(len(answer.body))),
            ("X-Request-Id", request_id),
            *answer.headers,
        ]
        start_response(_status_line(answer.status), headers)
        return [answer.body]

    def _exchange(
        self, environ: dict[str, Any], route: JSONRoute, path: str, arrival: Arrival
    ) -> JSONAnswer:
        method = environ.get("REQUEST_METHOD", "")
        if method != "POST":
            body = error_json("KRB_ERR_GENERIC", f"Method Not Allowed: {method} {path}")
            return JSONAnswer(405, body, (("Allow", "POST"),))
        request = self._body(environ)
        if request is None:
            return self.runner.too_large()
        if isinstance(request, str):
            return JSONAnswer(400, error_json("KRB_ERR_GENERIC", f"{request}: POST {path}"))
        return self.runner.run_json(route, request, arrival)

    def _body(self, environ: dict[str, Any]) -> bytes | str | None:
        """The body; None: longer than ``max_request_bytes``; a string: why it is refused."""
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
