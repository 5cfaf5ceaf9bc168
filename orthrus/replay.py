"""Replay caches (RFC 4120 §3.2.3, "Replay cache"): each authenticator is accepted once.

The core only defines the interface, an in-process cache and the check that a cache which
may have lost entries makes; caches shared between processes live at the edges (files,
SQLite, Redis). An entry lives until the authenticator it stands for would be refused by the
skew check anyway.

A cache remembers every entry stored in it since some moment: its creation, or the last time
it lost entries (a restarted or flushed Redis, a deleted or damaged file, a process that
started). RFC 4120 §3.2.3: "If a server loses track of authenticators presented within the
allowable clock skew, it MUST reject all requests until the clock skew interval has passed";
:func:`check_remembered` refuses every authenticator made before that moment, which is exactly
the ones that could have been accepted and forgotten. Once the skew interval has passed,
the skew check refuses them anyway.
"""

from __future__ import annotations

import math
import threading
from typing import Protocol

from orthrus.errors import APError
from orthrus.timecheck import iso

__all__ = ["MemoryReplayCache", "ReplayCache", "check_remembered", "check_replay"]


class ReplayCache(Protocol):
    """Remember an authenticator; say whether it was new, and since when the cache remembers."""

    def check_and_store(self, entry: bytes, expires_at: float, now: float) -> bool:
        """Store ``entry`` until ``expires_at``; True if it was not already stored."""
        ...

    def remembers_since(self) -> float:
        """The moment from which this cache remembers every entry stored in it.

        As seen by this thread's latest :meth:`check_and_store` (a cache shared between
        processes learns of a loss in the same round trip as the store), else its opening.
        """
        ...


def check_replay(
    cache: ReplayCache,
    entry: bytes,
    expires_at: float,
    now: float,
    client_time: float,
    where: str,
) -> None:
    """The replay check (RFC 4120 §3.2.3), last of all: store ``entry`` until ``expires_at``,
    or raise ``KRB_AP_ERR_REPEAT`` if it was already stored or if the authenticator (made at
    ``client_time``) is older than what ``cache`` remembers (:func:`check_remembered`).

    The memory is checked first, so that an authenticator refused for a loss already known
    is not stored; and again after the store, which may be what notices a loss (Redis).
    """
    check_remembered(cache, client_time, where)
    if not cache.check_and_store(entry, expires_at, now):
        raise APError(
            "KRB_AP_ERR_REPEAT",
            "this authenticator was already used: a replayed request; send a fresh one",
        )
    check_remembered(cache, client_time, where)


def check_remembered(cache: ReplayCache, client_time: float, where: str) -> None:
    """Refuse with ``KRB_AP_ERR_REPEAT`` an authenticator made before ``cache`` remembers.

    One made (``client_time``, its ctime and cusec) before the cache's memory starts may
    have been accepted and forgotten (RFC 4120 §3.2.3). The client's next authenticator is
    fresh and accepted.
    """
    since = cache.remembers_since()
    if client_time < since:
        raise APError(
            "KRB_AP_ERR_REPEAT",
            f"the {where}'s replay cache was reset at {iso(since)} and may have forgotten "
            f"authenticators made before then; this one was made {since - client_time:.1f} s "
            "earlier, so it is refused: retry with a fresh authenticator",
            {"replay_cache_since": math.floor(since), "client_time": math.floor(client_time)},
        )


class MemoryReplayCache:
    """A replay cache for one process, safe across threads; pruned as it grows.

    ``started_at`` is when it started, by its owner's clock: it remembers nothing older, so
    authenticators made before then are refused (:func:`check_remembered`). Services and the
    KDC pass their clock's time; the default (the beginning of time) is for callers that
    vouch nothing was accepted before, such as tests on a fixed timeline.
    """

    def __init__(self, started_at: float = -math.inf, prune_every: int = 4096) -> None:
        self._entries: dict[bytes, float] = {}
        self._started_at = started_at
        self._prune_every = prune_every
        self._inserts = 0
        self._lock = threading.Lock()

    def check_and_store(self, entry: bytes, expires_at: float, now: float) -> bool:
        with self._lock:
            stored = self._entries.get(entry)
            if stored is not None and stored >= now:
                return False
            self._entries[entry] = expires_at
            self._inserts += 1
            if self._inserts % self._prune_every == 0:
                self._entries = {k: v for k, v in self._entries.items() if v >= now}
            return True

    def remembers_since(self) -> float:
        return self._started_at

    def __len__(self) -> int:
        return len(self._entries)
