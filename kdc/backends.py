"""The KDC's shared state, chosen by configuration: lockout counters and the TGS replay
cache live in Redis when ``redis_url`` is set (every process and host shares them), else in
this process (or, for the replay cache of several workers, a SQLite file beside the database).

Every replay cache knows since when it remembers (RFC 4120 §3.2.3): an in-process one from
the KDC's start, the file from its creation, Redis from its marker key; TGS-REQs made
before then are refused (:func:`orthrus.replay.check_remembered`).
"""

from __future__ import annotations

import time
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
            # Started now: it refuses TGS-REQs made before, which it cannot have seen.
            else MemoryReplayCache(started_at=time.time())
        )
    return Backends(replay, guard if settings.lockout_attempts else None)
