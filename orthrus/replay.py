"""Replay caches (RFC 4120 §3.2.3, "Replay cache"): each authenticator is accepted once.

The core only defines the interface and an in-process cache; caches shared between
processes live at the edges (files, SQLite, Redis). An entry lives until the authenticator
it stands for would be refused by the skew check anyway.
"""

from __future__ import annotations

import threading
from typing import Protocol

__all__ = ["MemoryReplayCache", "ReplayCache"]


class ReplayCache(Protocol):
    """Remember an authenticator; say whether it was new."""

    def check_and_store(self, entry: bytes, expires_at: float, now: float) -> bool:
        """Store ``entry`` until ``expires_at``; True if it was not already stored."""
        ...


class MemoryReplayCache:
    """A replay cache for one process, safe across threads; pruned as it grows."""

    def __init__(self, prune_every: int = 4096) -> None:
        self._entries: dict[bytes, float] = {}
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

    def __len__(self) -> int:
        return len(self._entries)
