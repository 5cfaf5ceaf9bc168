"""Talking to the KDC over HTTP: ``POST /v1/as`` and ``/v1/tgs`` with JSON bodies."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
import msgspec

from orthrus.codec import decode, encode
from orthrus.errors import ERROR_CODES, MalformedMessage, TransportError, error_class_for

__all__ = ["KDCTransport"]

T = TypeVar("T")


class _ErrorBody(msgspec.Struct):
    code: int
    name: str
    message: str
    data: dict[str, Any] = {}


class _ErrorReply(msgspec.Struct):
    error: _ErrorBody


class KDCTransport:
    """An HTTP connection to one KDC, kept alive between requests."""

    def __init__(self, url: str, client: httpx.Client) -> None:
        self.url = url.rstrip("/")
        self._client = client
        self._client.headers["Content-Type"] = "application/json"

    def close(self) -> None:
        self._client.close()

    def exchange(self, path: str, message: Any, reply_type: type[T]) -> T:
        """Send ``message``; return the decoded reply or raise the KDC's ``ProtocolError``."""
        try:
            response = self._client.post(f"{self.url}{path}", content=encode(message))
        except httpx.HTTPError as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            hint = (
                "trust its certificate with ORTHRUS_CA_FILE"
                if "CERTIFICATE" in detail.upper()
                else "check ORTHRUS_KDC_URL and that 'orthrus-kdc serve' is running"
            )
            raise TransportError(f"cannot reach the KDC at {self.url} ({detail}); {hint}") from None
        if response.status_code == 200:
            return decode(response.content, reply_type)
        try:
            body = decode(response.content, _ErrorReply).error
        except MalformedMessage:
            raise TransportError(
                f"{self.url} answered HTTP {response.status_code} without an Orthrus error; "
                "is ORTHRUS_KDC_URL the KDC?"
            ) from None
        if body.name not in ERROR_CODES:
            raise TransportError(f"the KDC answered an unknown error {body.name!r}")
        raise error_class_for(body.name)(body.name, body.message, body.data)
