"""Per-client rate limits on the KDC's exchanges, on every transport, with ``limits``.

Lockout (:mod:`kdc.lockout`) bounds the guesses against one principal; a rate limit bounds
what one client address may send in all: password spraying across many principals, and
floods (RFC 4120 §1.5.2 leaves denial of service to the implementation). It applies to
``/v1/*`` over HTTP and to every Kerberos message over UDP and TCP, counted together per
address. Counters are in Redis when ``redis_url`` is set, so every KDC process and host
shares them (fixed windows, keys under ``<redis_prefix>:<realm>:ratelimit``), else in this
process; Redis down, they are counted in this process rather than refuse requests (lockout
and the replay cache still refuse, with 503, what they cannot check). A refused request
never reaches the exchange, so it changes no replay cache, lockout counter or database row.

Addresses in ``rate_limit_exempt`` are never limited: by default loopback, because a
reverse proxy on the same host carries every client under its own address and must limit
them itself (nginx ``limit_req``), and local tools and tests come from there.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

import limits
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from kdc.config import check_rate_limit

if TYPE_CHECKING:
    from kdc.config import KDCSettings

__all__ = ["RateLimit"]

log = logging.getLogger("orthrus.kdc")


class RateLimit:
    """The realm's limits per client address (``settings.rate_limit``)."""

    def __init__(self, settings: KDCSettings) -> None:
        check_rate_limit(settings.rate_limit)
        self._items = limits.parse_many(settings.rate_limit) if settings.rate_limit else []
        exempt = settings.rate_limit_exempt.split(",")
        self._exempt = frozenset(a.strip() for a in exempt if a.strip())
        self._prefix = f"{settings.redis_prefix}:{settings.realm}:ratelimit"
        storage = storage_from_string(settings.redis_url) if settings.redis_url else None
        self._shared = FixedWindowRateLimiter(storage) if storage else None
        self._local = FixedWindowRateLimiter(MemoryStorage())

    def refused(self, address: str | None) -> tuple[str, int] | None:
        """None if a request from ``address`` may go on; else the limit it passed and the
        seconds until it may retry. Counts the request."""
        if not self._items or (address or "") in self._exempt:
            return None
        who = address or "unknown"
        for item in self._items:
            limiter = self._shared or self._local
            try:
                allowed = limiter.hit(item, self._prefix, who)
            except Exception as exc:  # Redis down: count here rather than refuse everyone
                log.warning("rate limit counted in this process: %s", exc)
                limiter = self._local
                allowed = limiter.hit(item, self._prefix, who)
            if not allowed:
                reset = limiter.get_window_stats(item, self._prefix, who).reset_time
                return str(item), max(1, math.ceil(reset - time.time()))
        return None
