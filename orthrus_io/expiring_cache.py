"""A bounded, thread-safe LRU map whose entries expire: the caches the edges own (the
services' opened tickets, the KDC's opened TGTs), so that the core keeps no state."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, Protocol, TypeVar

__all__ = ["Expiring", "ExpiringCache"]


class Expiring(Protocol):
    """An entry that is no longer valid after ``expires_at`` (seconds since the epoch)."""

    @property
    def expires_at(self) -> float: ...


V = TypeVar("V", bound=Expiring)


class ExpiringCache(Generic[V]):
    """At most ``max_entries`` entries (least recently used goes first; 0: keeps none); an
    entry past its ``expires_at`` is never returned."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._max = max_entries
        self._entries: OrderedDict[bytes, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes, now: float) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires_at < now:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: bytes, entry: V) -> None:
        if self._max <= 0:
            return
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
