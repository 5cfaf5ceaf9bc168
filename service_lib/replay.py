"""Replay caches for services (RFC 4120 §3.2.3, "replay cache"; §10 on their importance).

Every accepted authenticator is remembered until it would fail the skew check anyway, so
the same AP-REQ cannot be accepted twice. Which cache depends on how the service runs:

- by default, :class:`SQLiteReplayCache`: one file (mode 0600) in the service's state
  directory, which survives a restart and which the processes of one host (gunicorn
  workers) share; storing is one atomic insert-if-absent, so two workers given the same
  authenticator at the same instant accept it once (``"sqlite"``, ``replay_cache_path``);
- several hosts: :class:`~orthrus_io.redis_replay.RedisReplayCache`, ``SET NX PX``
  (``"redis"`` + ``redis_url``). When Redis cannot be reached a request is answered 503,
  never accepted unchecked;
- one process, when asked for: :class:`orthrus.replay.MemoryReplayCache` (``"memory"``).

Each knows since when it remembers everything (its start, the file's creation, Redis's
marker key): authenticators made before then are refused (RFC 4120 §3.2.3), so a restart,
a flushed Redis or a deleted file never lets a used authenticator in again.

The SQLite and Redis caches live in :mod:`orthrus_io`, shared with the KDC's TGS.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from orthrus.replay import MemoryReplayCache, ReplayCache
from orthrus_io.replay import SQLiteReplayCache
from service_lib.settings import VerifierSettings

__all__ = ["MemoryReplayCache", "ReplayCache", "SQLiteReplayCache", "open_replay_cache"]


def open_replay_cache(
    settings: VerifierSettings, clock: Callable[[], float] = time.time
) -> ReplayCache:
    """The replay cache ``settings`` ask for (``Unavailable`` if Redis cannot be reached);
    ``clock`` dates the start of an in-memory cache or a new file."""
    if settings.replay_cache == "sqlite":
        return SQLiteReplayCache(
            settings.replay_cache_file, max_entries=settings.replay_cache_max_entries, clock=clock
        )
    if settings.replay_cache == "redis":
        from orthrus_io.redis_replay import RedisReplayCache, connect_redis

        return RedisReplayCache(connect_redis(settings.redis_url), settings.redis_prefix)
    return MemoryReplayCache(started_at=clock())
