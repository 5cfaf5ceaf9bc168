"""A replay cache in Redis, shared by every process and host (RFC 4120 §3.2.3).

Storing is one ``SET entry 1 NX PX ttl`` — atomic set-if-absent with expiry — so of N
simultaneous copies of one authenticator exactly one is accepted. The time to live is
relative (``expires_at - now``, both by the verifier's clock): an absolute ``PXAT`` would be
read by Redis's clock, and a verifier whose clock is behind Redis's by more than the skew
window would store entries that expire at once, accepting every replay. When Redis cannot be
reached the cache raises :class:`~orthrus_io.errors.Unavailable`: the caller answers 503 and
never accepts a request unchecked.

Redis may forget every entry (a restart without persistence, ``FLUSHDB``, eviction). A marker
key ``PREFIX:rc-since`` holds the time the entries started to be kept: it is written with
``SET NX`` when absent and read in the same transaction as each store, so every process
notices a loss at its next request and dates it alike (RFC 4120 §3.2.3; see
:func:`orthrus.replay.check_remembered`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from orthrus.b64 import b64u_encode
from orthrus.timecheck import iso
from orthrus_io.errors import Unavailable
from orthrus_io.settings import redact_url

__all__ = ["RedisReplayCache", "connect_redis"]

log = logging.getLogger("orthrus.replay")

Clock = Callable[[], float]


def connect_redis(url: str) -> redis.Redis:
    """A client for ``url``, checked now; ``Unavailable`` names the URL without its password."""
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise Unavailable(f"Redis at {redact_url(url)} is unavailable: {exc}") from None
    return client


class RedisReplayCache:
    """Replay entries as Redis keys ``PREFIX:rc:<entry>`` that expire with the skew window,
    and the marker ``PREFIX:rc-since``: since when they are all kept."""

    def __init__(self, client: redis.Redis, prefix: str, clock: Clock = time.time) -> None:
        self._redis = client
        self._prefix = f"{prefix}:rc:"
        self._marker = f"{prefix}:rc-since"
        self._local = threading.local()
        # Mark now if Redis has no marker (new, or lost while no service ran), so that
        # requests made after this start are accepted.
        self._opened_since = self._mark(clock(), None, 0)[0]

    def _mark(self, now: float, key: str | None, ttl_ms: int) -> tuple[float, bool]:
        """Make the marker if absent and read it, and store ``key`` if given: one round trip,
        one transaction. Returns the marker's time and whether ``key`` was stored."""
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.set(self._marker, repr(now), nx=True)
            pipe.get(self._marker)
            if key is not None:
                pipe.set(key, b"1", nx=True, px=ttl_ms)
            marked, since, *stored = pipe.execute()
        except redis.RedisError as exc:
            raise Unavailable(f"Redis is unavailable for the replay cache: {exc}") from None
        if marked:
            log.warning(
                "the replay cache in Redis (%s*) starts afresh at %s (new, restarted, flushed "
                "or evicted): authenticators made before then are refused until the "
                "clock-skew interval has passed (RFC 4120 §3.2.3)",
                self._prefix,
                iso(now),
            )
        return float(since), bool(stored and stored[0])

    def check_and_store(self, entry: bytes, expires_at: float, now: float) -> bool:
        ttl_ms = max(int((expires_at - now) * 1000), 1)
        self._local.since, stored = self._mark(now, self._prefix + b64u_encode(entry), ttl_ms)
        return stored

    def remembers_since(self) -> float:
        """The marker's time as this thread's latest store saw it (else at the opening)."""
        since: float = getattr(self._local, "since", self._opened_since)
        return since

    def ping(self) -> None:
        """Raise :class:`~orthrus_io.errors.Unavailable` if Redis cannot be reached (readiness)."""
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            raise Unavailable(f"Redis is unavailable for the replay cache: {exc}") from None
