"""A replay cache in Redis, shared by every process and host (RFC 4120 §3.2.3).

Storing is one ``SET entry 1 NX PX ttl`` — atomic set-if-absent with expiry — so of N
simultaneous copies of one authenticator exactly one is accepted. The time to live is
relative (``expires_at - now``, both by the verifier's clock): an absolute ``PXAT`` would be
read by Redis's clock, and a verifier whose clock is behind Redis's by more than the skew
window would store entries that expire at once, accepting every replay. When Redis cannot be
reached the cache raises :class:`~orthrus_io.errors.Unavailable`: the caller answers 503 and
never accepts a request unchecked.
"""

from __future__ import annotations

import redis

from orthrus.b64 import b64u_encode
from orthrus_io.errors import Unavailable
from orthrus_io.settings import redact_url

__all__ = ["RedisReplayCache", "connect_redis"]


def connect_redis(url: str) -> redis.Redis:
    """A client for ``url``, checked now; ``Unavailable`` names the URL without its password."""
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise Unavailable(f"Redis at {redact_url(url)} is unavailable: {exc}") from None
    return client


class RedisReplayCache:
    """Replay entries as Redis keys ``PREFIX:rc:<entry>`` that expire with the skew window."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = f"{prefix}:rc:"

    def check_and_store(self, entry: bytes, expires_at: float, now: float) -> bool:
        key = self._prefix + b64u_encode(entry)
        try:
            ttl_ms = max(int((expires_at - now) * 1000), 1)
            stored = self._redis.set(key, b"1", nx=True, px=ttl_ms)
        except redis.RedisError as exc:
            raise Unavailable(f"Redis is unavailable for the replay cache: {exc}") from None
        return bool(stored)

    def ping(self) -> None:
        """Raise :class:`~orthrus_io.errors.Unavailable` if Redis cannot be reached (readiness)."""
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            raise Unavailable(f"Redis is unavailable for the replay cache: {exc}") from None
