"""The KDC's one exchange runner, the same for every transport (sans-IO).

A transport (:mod:`kdc.http` for the JSON API over HTTP, :mod:`kdc.kerberos_wire` for
Kerberos over UDP and TCP) reads a request's bytes, says how they came (:class:`Arrival`)
and writes back the bytes it is given. Between the two, :class:`ExchangeRunner` does the
rest, once for all: the rate limit, decoding, the core's exchange, encoding the answer, and
the exchange's event (audit line, metrics, log line, lab trace). It does no I/O of its own
besides what the exchanges do (principal lookups, replay cache, lockout) and the sinks.
Each request's exchange runs in a lookup scope (:attr:`ExchangeRunner.lookup_scope`): its
principal lookups ask the database for changes once, not once each.

Every error body of the JSON API is built here (:func:`error_json`), so that a 4xx, 429,
503 or 500 has one shape whoever answers it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from orthrus.codec import decode, encode
from orthrus.errors import ERROR_CODES, MalformedMessage, ProtocolError
from orthrus.kpasswd import KpasswdReq
from orthrus.messages import ASReq, TGSReq
from orthrus.realm import KDCContext
from orthrus_io.errors import UNAVAILABLE, Unavailable
from orthrus_io.events import EventSink, Exchange, ExchangeEvent, Transport

if TYPE_CHECKING:
    from kdc.config import KDCSettings
    from kdc.ratelimit import RateLimit

__all__ = [
    "INTERNAL_ERROR",
    "Arrival",
    "ExchangeNames",
    "ExchangeRunner",
    "JSONAnswer",
    "JSONRoute",
    "KerberosAnswerer",
    "KerberosOutcome",
    "error_json",
]

log = logging.getLogger("orthrus.kdc")

INTERNAL_ERROR = "internal error in the KDC; see its log"


def error_json(name: str, message: str, code: int | None = None) -> bytes:
    """The JSON body of every error the KDC answers over HTTP outside the core's own
    (``ProtocolError.to_json``): 400/404/405 from the HTTP layer, 429, 503, 500."""
    number = ERROR_CODES[name] if code is None else code
    return encode({"error": {"code": number, "name": name, "message": message}})


@dataclass(frozen=True, slots=True)
class Arrival:
    """What a transport knows about a request besides its bytes."""

    transport: Transport
    client_address: str | None
    request_id: str | None
    #: ``time.perf_counter()`` when the request was taken up (for the event's duration).
    started: float
    #: ``time.time()``: the KDC's clock for the exchange.
    now: float


@dataclass(slots=True)
class ExchangeNames:
    """The client and server an exchange's event names: from the request, or filled in by
    the exchange when only it learns them (a password change names its principal inside
    the sealed request)."""

    client: str | None = None
    server: str | None = None


#: An exchange of the JSON API: (decoded request, context, now, names) -> reply message.
Handler = Callable[[Any, KDCContext, float, ExchangeNames], Any]


@dataclass(frozen=True, slots=True)
class JSONRoute:
    """One exchange of the JSON API: its kind, request type and handler."""

    kind: Exchange
    type_: type[Any]
    handle: Handler


@dataclass(frozen=True, slots=True)
class JSONAnswer:
    """The answer of the JSON API: HTTP status, body, extra headers."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


class KerberosOutcome(Protocol):
    """What the Kerberos exchanges answer (``orthrus.kerberos.kdc.KerberosAnswer``)."""

    @property
    def reply(self) -> bytes: ...
    @property
    def exchange(self) -> Exchange | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def message(self) -> str | None: ...
    @property
    def client(self) -> str | None: ...
    @property
    def server(self) -> str | None: ...


class KerberosAnswerer(Protocol):
    """The Kerberos exchanges on DER (RFC 4120 §3.1, §3.3), ``orthrus.kerberos.kdc.answer``:
    ``max_reply`` set, a longer reply becomes KRB_ERR_RESPONSE_TOO_BIG (RFC 4120 §7.2.1);
    ``handle_as``, when given, answers the AS-REQs (the decoys of ``kdc.enumeration``)."""

    def __call__(
        self,
        request: bytes,
        ctx: KDCContext,
        now: float,
        max_reply: int | None = None,
        handle_as: Callable[[Any, KDCContext, float], Any] = ...,
    ) -> KerberosOutcome: ...


def _names(message: object) -> ExchangeNames:
    """The client and server as far as the request tells."""
    if isinstance(message, ASReq):
        return ExchangeNames(str(message.client), str(message.body.server))
    if isinstance(message, TGSReq):
        return ExchangeNames(None, str(message.body.server))
    if isinstance(message, KpasswdReq):
        return ExchangeNames(None, str(message.ap_req.ticket.server))
    return ExchangeNames()


@dataclass(frozen=True, slots=True)
class ExchangeRunner:
    """Rate limit, decode, exchange, encode, event: one implementation for every transport."""

    settings: KDCSettings
    ctx: KDCContext
    sink: EventSink
    routes: Mapping[str, JSONRoute]
    rate_limit: RateLimit
    #: The Kerberos exchanges; None: this KDC answers only the JSON API.
    kerberos: KerberosAnswerer | None = None
    #: A scope for one request's principal lookups (``PrincipalLookups.scope`` of the
    #: store: one change check per request); by default none.
    lookup_scope: Callable[[], AbstractContextManager[None]] = nullcontext

    def refused(self, kind: Exchange | None, arrival: Arrival) -> JSONAnswer | None:
        """429 with ``Retry-After`` when the client passed the rate limit (counts it); the
        refusal of an exchange is an event too (audit, metrics, a lab's trace)."""
        over = self._over_limit(kind, arrival, {"status": 429})
        if over is None:
            return None
        message, retry_after = over
        body = error_json("KRB_ERR_GENERIC", message)
        return JSONAnswer(429, body, (("Retry-After", str(retry_after)),))

    def _over_limit(
        self, kind: Exchange | None, arrival: Arrival, extra: dict[str, Any]
    ) -> tuple[str, int] | None:
        address = arrival.client_address
        over = self.rate_limit.refused(address)
        if over is None:
            return None
        limit, retry_after = over
        message = f"too many requests from {address} (limit {limit}); retry in {retry_after} s"
        if kind is not None:
            error = ("KRB_ERR_GENERIC", message)
            extra = {**extra, "rate_limit": limit}
            self._emit(kind, arrival, ExchangeNames(), error, b"", None, extra)
        return message, retry_after

    def too_large(self) -> JSONAnswer:
        """413 KRB_ERR_FIELD_TOOLONG: a body over ``max_request_bytes``, never decoded."""
        limit = self.settings.max_request_bytes
        error = MalformedMessage(f"request larger than {limit} bytes", too_long=True)
        return JSONAnswer(413, encode(error.to_json()))

    def run_json(self, route: JSONRoute, body: bytes, arrival: Arrival) -> JSONAnswer:
        """The answer to a JSON request (its transport checked the rate limit: :meth:`refused`).

        A back end that is down (``Unavailable``) is 503 and an event with the error
        ``UNAVAILABLE``, so the audit log and metrics count what was turned away; any other
        exception is 500 with no event (and its traceback in the log, never to the client).
        """
        names = ExchangeNames()
        try:
            with self.lookup_scope():
                message = decode(body, route.type_)
                names = _names(message)
                reply = route.handle(message, self.ctx, arrival.now, names)
            names.client = names.client or str(getattr(reply, "client", "")) or None
        except ProtocolError as exc:
            payload = encode(exc.to_json())
            self._emit(route.kind, arrival, names, (exc.name, exc.message), body, payload)
            return JSONAnswer(exc.http_status, payload)
        except Unavailable as exc:
            why = _unavailable_message(exc)
            log.error("%s", exc)
            self._emit(route.kind, arrival, names, (UNAVAILABLE, why), body, None)
            return JSONAnswer(503, error_json(UNAVAILABLE, why, 503))
        except Exception:
            log.exception("internal error in the %s exchange", route.kind)
            return JSONAnswer(500, error_json("KRB_ERR_GENERIC", INTERNAL_ERROR))
        payload = encode(reply)
        self._emit(route.kind, arrival, names, None, body, payload)
        return JSONAnswer(200, payload)

    def run_kerberos(
        self, request: bytes, arrival: Arrival, max_reply: int | None = None
    ) -> bytes | None:
        """The DER reply to a Kerberos message, or None: say nothing (over the rate limit, a
        back end down, or over UDP a message that is no KDC request: RFC 4120 §7.2.1 lets
        the KDC drop it; over TCP it gets its KRB-ERROR). Only an exchange that could be
        decoded has an event."""
        if self.kerberos is None:
            return None
        if self._over_limit(_KERBEROS_KINDS.get(request[:1]), arrival, {}) is not None:
            return None
        try:
            with self.lookup_scope():
                outcome = self.kerberos(request, self.ctx, arrival.now, max_reply)
        except Unavailable as exc:
            log.error("%s", exc)
            kind = _KERBEROS_KINDS.get(request[:1])
            if kind is not None:
                down = (UNAVAILABLE, _unavailable_message(exc))
                self._emit(kind, arrival, ExchangeNames(), down, request, None)
            return None
        except Exception:
            log.exception("internal error in a Kerberos exchange over %s", arrival.transport)
            return None
        if outcome.exchange is None:
            return None if arrival.transport == "udp" else outcome.reply
        names = ExchangeNames(outcome.client, outcome.server)
        error = (outcome.error, outcome.message or "") if outcome.error else None
        self._emit(outcome.exchange, arrival, names, error, request, outcome.reply)
        return outcome.reply

    def _emit(
        self,
        kind: Exchange,
        arrival: Arrival,
        names: ExchangeNames,
        error: tuple[str, str] | None,
        request: bytes,
        reply: bytes | None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        lab = self.settings.lab
        self.sink.emit(
            ExchangeEvent(
                exchange=kind,
                ok=error is None,
                time=arrival.now,
                duration=time.perf_counter() - arrival.started,
                error=error[0] if error else None,
                message=error[1] if error else None,
                client_address=arrival.client_address,
                request_id=arrival.request_id,
                realm=self.settings.realm,
                transport=arrival.transport,
                request=request if lab else None,
                reply=reply if lab else None,
                client=names.client,
                server=names.server,
                extra=extra or {},
            )
        )


#: The exchange a Kerberos message is, by its first byte: [APPLICATION 10] AS-REQ,
#: [APPLICATION 12] TGS-REQ (RFC 4120 §5.4.1), for the event of one that could not be run.
_KERBEROS_KINDS: dict[bytes, Exchange] = {b"\x6a": "AS", b"\x6c": "TGS"}


def _unavailable_message(exc: Exception) -> str:
    return f"the KDC cannot serve now ({exc}); try again soon"
