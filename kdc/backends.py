"""The KDC's shared state, chosen by configuration: lockout counters and the TGS replay
cache live in Redis when ``redis_url`` is set (every process and host shares them), else in
this process (or, for the replay cache of several workers, a SQLite file beside the database).
"""

from __future__ import annotations

from pathlib import Path

from kdc.config import KDCSettings
from kdc.lockout import LockoutPolicy, MemoryLockout, RedisLockout
from orthrus.realm import PreauthGuard
from orthrus.replay import MemoryReplayCache, ReplayCache
from orthrus_io.redis_replay import RedisReplayCache, connect_redis
from orthrus_io.replay import SQLiteReplayCache

__all__ = ["Backends", "make_backends"]


class Backends:
    """The replay cache and the lockout guard of one KDC process."""

    def __init__(self, replay_cache: ReplayCache, guard: PreauthGuard | None) -> None:
        self.replay_cache = replay_cache
        self.guard = guard


def make_backends(settings: KDCSettings, workers: int = 1) -> Backends:
    """Build the back ends ``settings`` ask for; Redis is checked now (clear error if down)."""
    policy = LockoutPolicy(
        settings.lockout_attempts, settings.lockout_window, settings.lockout_duration
    )
    prefix = f"{settings.redis_prefix}:{settings.realm}"
    if settings.redis_url:
        client = connect_redis(settings.redis_url)
        guard: PreauthGuard | None = RedisLockout(client, policy, f"{prefix}:lockout")
        replay: ReplayCache = RedisReplayCache(client, f"{prefix}:tgs")
    else:
        guard = MemoryLockout(policy)
        replay = (
            SQLiteReplayCache(Path(settings.directory) / "tgs-replay.sqlite")
            if workers > 1
            else MemoryReplayCache()
        )
    return Backends(replay, guard if settings.lockout_attempts else None)
