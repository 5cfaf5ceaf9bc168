"""Per-client rate limits on the KDC's exchanges (``POST /v1/*``), with Flask-Limiter.

Lockout (:mod:`kdc.lockout`) bounds the guesses against one principal; a rate limit bounds
what one client address may send in all: password spraying across many principals, and
floods (RFC 4120 §1.5.2 leaves denial of service to the implementation). Counters are in
Redis when ``redis_url`` is set, so every KDC process and host shares them (fixed windows,
keys under ``<redis_prefix>:<realm>:ratelimit``), else in this process. A refused request
gets ``429`` with ``Retry-After`` and the KDC's JSON error body; it never reaches the
exchange, so it changes no replay cache, lockout counter or database row. It is still an
event (audit log, metrics, a lab's trace): refused, ``KRB_ERR_GENERIC``, status 429.

Addresses in ``rate_limit_exempt`` are never limited: by default loopback, because a
reverse proxy on the same host carries every client under its own address and must limit
them itself (nginx ``limit_req``), and local tools and tests come from there.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request
from flask_limiter import Limiter, RateLimitExceeded, RequestLimit

from orthrus.codec import encode
from orthrus.errors import ERROR_CODES
from orthrus_io.events import EventSink, Exchange, ExchangeEvent

if TYPE_CHECKING:
    from kdc.config import KDCSettings

__all__ = ["install_rate_limits"]

_NAME = "KRB_ERR_GENERIC"
JSON = "application/json"


def _body(message: str) -> dict[str, Any]:
    return {"error": {"code": ERROR_CODES[_NAME], "name": _NAME, "message": message}}


def _client_address() -> str:
    return request.remote_addr or "unknown"


#: The exchange of each limited path, for the event of a refused request.
_EXCHANGES: dict[str, Exchange] = {"/v1/as": "AS", "/v1/tgs": "TGS", "/v1/kpasswd": "KPASSWD"}


def install_rate_limits(app: Flask, settings: KDCSettings, events: EventSink) -> Limiter | None:
    """Limit ``POST /v1/*`` per client address to ``settings.rate_limit`` (None when ""); each
    refusal is an event for ``events``."""
    rate_limit = settings.rate_limit  # checked when the settings were made
    if not rate_limit:
        return None
    exempt = settings.rate_limit_exempt.split(",")
    exempt_addresses = frozenset(a.strip() for a in exempt if a.strip())
    prefix = f"{settings.redis_prefix}:{settings.realm}:ratelimit"

    def on_breach(limit: RequestLimit) -> Response:
        retry_after = max(1, math.ceil(limit.reset_at - time.time()))
        message = (
            f"too many requests from {_client_address()} (limit {limit.limit}); "
            f"retry in {retry_after} s"
        )
        response = Response(encode(_body(message)), status=429, mimetype=JSON)
        response.headers["Retry-After"] = str(retry_after)
        exchange = _EXCHANGES.get(request.path)
        if exchange is not None:
            events.emit(
                ExchangeEvent(
                    exchange,
                    ok=False,
                    time=time.time(),
                    error=_NAME,
                    message=message,
                    client_address=_client_address(),
                    request_id=request.headers.get("X-Request-Id", "")[:64] or None,
                    realm=settings.realm,
                    extra={"status": 429, "rate_limit": str(limit.limit)},
                )
            )
        return response

    limiter = Limiter(
        _client_address,
        app=app,
        default_limits=[rate_limit],
        storage_uri=settings.redis_url or "memory://",
        key_prefix=prefix,
        strategy="fixed-window",
        # Redis down: count in this process rather than fail requests (lockout and the
        # replay cache still refuse, with 503, what they cannot check).
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        on_breach=on_breach,
    )

    @limiter.request_filter
    def not_limited() -> bool:
        return not request.path.startswith("/v1/") or _client_address() in exempt_addresses

    @app.errorhandler(RateLimitExceeded)
    def too_many(exc: RateLimitExceeded) -> Response:
        # More specific than the app's HTTPException handler: the answer on_breach built.
        if isinstance(exc.response, Response):
            return exc.response
        return Response(encode(_body(str(exc.description))), status=429, mimetype=JSON)

    return limiter
