"""The KDC's exchanges over HTTP, independent of any web framework.

:class:`ExchangeRunner` turns a request body into the answer (status and JSON) and emits the
exchange's event: the Flask routes of :mod:`kdc.app` use it for every exchange.

:class:`LeanExchanges` answers ``POST /v1/as`` and ``POST /v1/tgs`` with it directly from
WSGI, in front of Flask: Flask's request and response objects, URL routing and request
context cost more CPU than the exchange itself (measured: ~250 µs of ~450 µs per request).
It takes only plain requests — a ``Content-Length`` under the size limit, no
``Transfer-Encoding`` — from clients the rate limit does not apply to (``rate_limit`` off,
or an address in ``rate_limit_exempt``, loopback by default: a TLS proxy on the same host);
anything else goes to Flask, which refuses, limits or answers it as before. The answer is
the same either way: same decoding and core functions, same error JSON and status, same
``X-Request-Id``, same event (tests/kdc/test_kdc_lean_path.py holds the two side by side).
Whatever is added to Flask's request processing for these two routes must be added here too.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.http import HTTP_STATUS_CODES

from orthrus.codec import decode, encode
from orthrus.errors import ERROR_CODES, ProtocolError
from orthrus.kpasswd import KpasswdReq
from orthrus.messages import ASReq, TGSReq
from orthrus.realm import KDCContext
from orthrus_io.errors import Unavailable
from orthrus_io.events import EventSink, Exchange, ExchangeEvent

if TYPE_CHECKING:
    from kdc.config import KDCSettings

__all__ = [
    "ExchangeRunner",
    "LeanExchanges",
    "Route",
    "error_body",
    "exchange_names",
    "rate_limit_exempt",
]

log = logging.getLogger("orthrus.kdc")

JSON = "application/json"
Handler = Callable[[Any, KDCContext, float], Any]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def error_body(name: str, message: str) -> bytes:
    """The JSON of an error the KDC answers outside the protocol (503, 500, 400...)."""
    return encode({"error": {"code": ERROR_CODES[name], "name": name, "message": message}})


def unavailable_message(exc: Exception) -> str:
    return f"the KDC cannot serve now ({exc}); try again soon"


INTERNAL_ERROR = "internal error in the KDC; see its log"
#: The ``error`` of the event of a request turned away with 503 (a back end is down).
UNAVAILABLE = "UNAVAILABLE"


def exchange_names(message: object) -> dict[str, str | None]:
    """The client and server an exchange's event names, as far as the request tells."""
    if isinstance(message, KpasswdReq):
        return {"client": None, "server": str(message.ap_req.ticket.server)}
    if isinstance(message, ASReq):
        return {"client": str(message.client), "server": str(message.body.server)}
    if isinstance(message, TGSReq):
        return {"client": None, "server": str(message.body.server)}
    return {"client": None, "server": None}


@dataclass(frozen=True, slots=True)
class ExchangeRunner:
    """Decode, run the core's exchange, encode the answer, emit the event."""

    settings: KDCSettings
    ctx: KDCContext
    sink: EventSink

    def run(
        self,
        kind: Exchange,
        type_: type[Any],
        handle: Handler,
        body: bytes,
        started: float,
        now: float,
        client_address: str | None,
        request_id: str,
        late_client: Callable[[], str | None] | None = None,
    ) -> tuple[int, bytes]:
        """The status and JSON body of the answer to ``body``.

        ``late_client`` names the client when only the exchange learnt it (a password
        change names its principal inside the sealed request). A database or Redis that is
        down (``Unavailable``) propagates (the caller answers 503) after an event with the
        error ``UNAVAILABLE``, so the audit log and metrics count what was turned away;
        other exceptions propagate with no event.
        """
        names: dict[str, str | None] = {"client": None, "server": None}
        outcome = _Outcome(kind, names, started, now, client_address, request_id, body)
        try:
            message = decode(body, type_)
            names.update(exchange_names(message))
            reply = handle(message, self.ctx, now)
            names["client"] = str(getattr(reply, "client", "")) or names["client"]
        except ProtocolError as exc:
            status, payload = exc.http_status, encode(exc.to_json())
            error: tuple[str, str] | None = (exc.name, exc.message)
        except Unavailable as exc:
            self._emit(outcome, None, (UNAVAILABLE, unavailable_message(exc)))
            raise
        else:
            status, payload, error = 200, encode(reply), None
        if late_client is not None:
            names["client"] = names["client"] or late_client()
        self._emit(outcome, payload, error)
        return status, payload

    def _emit(
        self, outcome: _Outcome, payload: bytes | None, error: tuple[str, str] | None
    ) -> None:
        lab = self.settings.lab
        self.sink.emit(
            ExchangeEvent(
                exchange=outcome.kind,
                ok=error is None,
                time=outcome.now,
                duration=time.perf_counter() - outcome.started,
                error=error[0] if error else None,
                message=error[1] if error else None,
                client_address=outcome.client_address,
                request_id=outcome.request_id,
                realm=self.settings.realm,
                request=outcome.body if lab else None,
                reply=payload if lab else None,
                client=outcome.names["client"],
                server=outcome.names["server"],
            )
        )


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What an exchange's event says besides its result."""

    kind: Exchange
    names: dict[str, str | None]
    started: float
    now: float
    client_address: str | None
    request_id: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Route:
    kind: Exchange
    type_: type[Any]
    handle: Handler


def rate_limit_exempt(settings: KDCSettings) -> frozenset[str] | None:
    """The addresses :mod:`kdc.ratelimit` does not limit; None: it limits nobody."""
    if not settings.rate_limit:
        return None
    return frozenset(a.strip() for a in settings.rate_limit_exempt.split(",") if a.strip())


def _status_line(status: int) -> str:
    """As Werkzeug writes it (``400 BAD REQUEST``), so both paths answer alike."""
    line = _STATUS_LINES.get(status)
    if line is None:
        line = _STATUS_LINES[status] = (
            f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"
        )
    return line


_STATUS_LINES: dict[int, str] = {}


class LeanExchanges:
    """WSGI middleware: plain ``POST`` requests to ``routes`` answered without Flask."""

    def __init__(
        self,
        app: WSGIApp,
        runner: ExchangeRunner,
        routes: Mapping[str, Route],
        max_request_bytes: int,
        exempt: frozenset[str] | None,
    ) -> None:
        self.app = app
        self._runner = runner
        self._routes = dict(routes)
        self._max = max_request_bytes
        self._exempt = exempt

    def route(
        self,
        method: str | None,
        path: str | None,
        content_length: str | None,
        transfer_encoding: str | None,
        address: str | None,
    ) -> Route | None:
        """The route that answers this request here, or None: Flask answers it."""
        route = self._routes.get(path or "")
        if route is None or method != "POST":
            return None
        length = content_length or ""
        if (
            not length.isascii()
            or not length.isdigit()
            or int(length) >= self._max
            or transfer_encoding
            or (self._exempt is not None and address not in self._exempt)
        ):
            return None
        return route

    def answer(
        self,
        route: Route,
        path: str,
        body: bytes | None,
        address: str | None,
        request_id: str,
        started: float,
        now: float,
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        """Status line, headers and body of the answer (``body`` None: cut short)."""
        request_id = request_id[:64] or uuid.uuid4().hex
        if body is None:  # the client went away mid-body (as Flask: 400)
            status, payload = 400, error_body("KRB_ERR_GENERIC", f"Bad Request: POST {path}")
        else:
            try:
                status, payload = self._runner.run(
                    route.kind, route.type_, route.handle, body, started, now, address, request_id
                )
            except Unavailable as exc:
                log.error("%s", exc)
                status, payload = 503, error_body("KRB_ERR_GENERIC", unavailable_message(exc))
            except Exception:
                log.exception("internal error on %s", path)
                status, payload = 500, error_body("KRB_ERR_GENERIC", INTERNAL_ERROR)
        headers = [
            ("Content-Type", JSON),
            ("Content-Length", str(len(payload))),
            ("X-Request-Id", request_id),
        ]
        return _status_line(status), headers, payload

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        address = environ.get("REMOTE_ADDR")
        length = environ.get("CONTENT_LENGTH")
        route = self.route(
            environ.get("REQUEST_METHOD"),
            path,
            length,
            environ.get("HTTP_TRANSFER_ENCODING"),
            address,
        )
        if route is None:
            return self.app(environ, start_response)
        started, now = time.perf_counter(), time.time()
        body = _read(environ["wsgi.input"], int(length or 0))
        request_id = environ.get("HTTP_X_REQUEST_ID", "")
        status, headers, payload = self.answer(route, path, body, address, request_id, started, now)
        start_response(status, headers)
        return [payload]


def _read(stream: Any, length: int) -> bytes | None:
    """Exactly ``length`` bytes of the body, or None if the stream ends before."""
    chunks = []
    missing = length
    while missing > 0:
        chunk = stream.read(missing)
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)
