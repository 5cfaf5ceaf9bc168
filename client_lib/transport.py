"""Talking to the KDC over HTTP: ``POST /v1/as`` and ``/v1/tgs`` with JSON bodies.

The client's exchanges are written once, as flows (generators that yield a :class:`KDCCall`
and get its decoded reply back, or the KDC's error thrown in); :func:`drive` runs a flow
over a blocking ``httpx.Client`` and :func:`drive_async` over an ``httpx.AsyncClient``.
Every check lives in the flow (and the sans-IO core it calls), none in the transport.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx
import msgspec

from client_lib.errors import BadPassword, KDCUnreachable
from orthrus.codec import decode, encode
from orthrus.errors import (
    ERROR_CODES,
    MalformedMessage,
    ProtocolError,
    TransportError,
    error_class_for,
)

__all__ = [
    "AsyncExchanger",
    "AsyncKDCTransport",
    "ErrorReply",
    "Exchanger",
    "Flow",
    "KDCCall",
    "KDCTransport",
    "drive",
    "drive_async",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class KDCCall:
    """One round trip a flow asks for: the path, the message, and the reply's type; and
    the URL of another realm's KDC (a cross-realm TGS-REQ), None for the client's own."""

    path: str
    message: Any
    reply_type: type[Any]
    kdc_url: str | None = None


#: An exchange with the KDC, independent of how its messages travel.
Flow = Generator[KDCCall, Any, T]


class Exchanger(Protocol):
    """What :func:`drive` sends a flow's calls through: HTTP (:class:`KDCTransport`) or the
    Kerberos wire (:class:`client_lib.kerberos_transport.KerberosTransport`)."""

    def exchange(self, path: str, message: Any, reply_type: Any, url: str | None = None) -> Any: ...

    def close(self) -> None: ...


class AsyncExchanger(Protocol):
    """The same for :func:`drive_async`."""

    async def exchange(
        self, path: str, message: Any, reply_type: Any, url: str | None = None
    ) -> Any: ...

    async def aclose(self) -> None: ...


class ErrorBody(msgspec.Struct):
    """What the ``error`` member holds."""

    code: int
    name: str
    message: str
    data: dict[str, Any] = {}


class ErrorReply(msgspec.Struct):
    """An Orthrus error body: ``{"error": {"code", "name", "message", "data"?}}``."""

    error: ErrorBody


class _Endpoint:
    """What both transports share: the URL, and reading a reply or an error."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def unreachable(self, exc: httpx.HTTPError) -> KDCUnreachable:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = (
            "trust its certificate with ORTHRUS_CA_FILE"
            if "CERTIFICATE" in detail.upper()
            else "check ORTHRUS_KDC_URL and that 'orthrus-kdc serve' is running"
        )
        return KDCUnreachable(f"cannot reach the KDC at {self.url} ({detail}); {hint}")

    def reply(self, response: httpx.Response, reply_type: type[T]) -> T:
        """The decoded reply, or the KDC's ``ProtocolError`` raised."""
        if response.status_code == 200:
            return decode(response.content, reply_type)
        try:
            body = decode(response.content, ErrorReply).error
        except MalformedMessage:
            raise TransportError(
                f"{self.url} answered HTTP {response.status_code} without an Orthrus error; "
                "is ORTHRUS_KDC_URL the KDC?"
            ) from None
        if body.name not in ERROR_CODES:
            raise TransportError(f"the KDC answered an unknown error {body.name!r}")
        if body.name == "KDC_ERR_PREAUTH_FAILED":
            raise BadPassword(body.message, body.data)
        raise error_class_for(body.name)(body.name, body.message, body.data)


class KDCTransport(_Endpoint):
    """A blocking HTTP connection to one KDC, kept alive between requests."""

    def __init__(self, url: str, client: httpx.Client) -> None:
        super().__init__(url)
        self._client = client
        self._client.headers["Content-Type"] = "application/json"

    def close(self) -> None:
        self._client.close()

    def exchange(self, path: str, message: Any, reply_type: type[T], url: str | None = None) -> T:
        """Send ``message`` (to ``url``, another realm's KDC, if given); return the decoded
        reply or raise the KDC's ``ProtocolError``."""
        try:
            response = self._client.post(f"{url or self.url}{path}", content=encode(message))
        except httpx.HTTPError as exc:
            raise self.unreachable(exc) from None
        return self.reply(response, reply_type)


class AsyncKDCTransport(_Endpoint):
    """The same, over an ``httpx.AsyncClient``: waiting for the KDC never blocks the loop."""

    def __init__(self, url: str, client: httpx.AsyncClient) -> None:
        super().__init__(url)
        self._client = client
        self._client.headers["Content-Type"] = "application/json"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def exchange(
        self, path: str, message: Any, reply_type: type[T], url: str | None = None
    ) -> T:
        """Send ``message`` (to ``url``, another realm's KDC, if given); return the decoded
        reply or raise the KDC's ``ProtocolError``."""
        try:
            response = await self._client.post(f"{url or self.url}{path}", content=encode(message))
        except httpx.HTTPError as exc:
            raise self.unreachable(exc) from None
        return self.reply(response, reply_type)


def drive(flow: Flow[T], transport: Exchanger) -> T:
    """Run ``flow`` to its end over a blocking transport."""
    try:
        call = next(flow)
        while True:
            try:
                reply = transport.exchange(call.path, call.message, call.reply_type, call.kdc_url)
            except ProtocolError as exc:  # the flow decides: retry (pre-auth) or re-raise
                call = flow.throw(exc)
            else:
                call = flow.send(reply)
    except StopIteration as done:
        result: T = done.value
        return result


async def drive_async(flow: Flow[T], transport: AsyncExchanger) -> T:
    """Run ``flow`` to its end over an async transport."""
    try:
        call = next(flow)
        while True:
            try:
                reply = await transport.exchange(
                    call.path, call.message, call.reply_type, call.kdc_url
                )
            except ProtocolError as exc:
                call = flow.throw(exc)
            else:
                call = flow.send(reply)
    except StopIteration as done:
        result: T = done.value
        return result
