"""Replay caches for services (RFC 4120 §3.2.3, "replay cache"; §10 on their importance).

Every accepted authenticator is remembered until it would fail the skew check anyway, so
the same AP-REQ cannot be accepted twice. Which cache depends on how the service runs:

- one process: :class:`orthrus.replay.MemoryReplayCache` (``replay_cache = "memory"``);
- several processes on one host (gunicorn workers): :class:`SQLiteReplayCache`, one file in
  WAL mode where storing is one atomic insert-if-absent, so two workers given the same
  authenticator at the same instant accept it once (``"sqlite"`` + ``replay_cache_path``);
- several hosts: :class:`~orthrus_io.redis_replay.RedisReplayCache`, ``SET NX PXAT``
  (``"redis"`` + ``redis_url``). When Redis cannot be reached a request is answered 503,
  never accepted unchecked.

The SQLite and Redis caches live in :mod:`orthrus_io`, shared with the KDC's TGS.
"""

from __future__ import annotations

from pathlib import Path

from orthrus.replay import MemoryReplayCache, ReplayCache
from orthrus_io.replay import SQLiteReplayCache
from service_lib.settings import VerifierSettings

__all__ = ["MemoryReplayCache", "ReplayCache", "SQLiteReplayCache", "open_replay_cache"]


def open_replay_cache(settings: VerifierSettings) -> ReplayCache:
    """The replay cache ``settings`` ask for (``Unavailable`` if Redis cannot be reached)."""
    if settings.replay_cache == "sqlite":
        assert settings.replay_cache_path is not None  # checked by the settings
        return SQLiteReplayCache(Path(settings.replay_cache_path))
    if settings.replay_cache == "redis":
        from orthrus_io.redis_replay import RedisReplayCache, connect_redis

        return RedisReplayCache(connect_redis(settings.redis_url), settings.redis_prefix)
    return MemoryReplayCache()
