"""A replay cache the processes of one host share: one SQLite file (RFC 4120 §3.2.3).

Storing is one atomic insert-if-absent statement in WAL mode, so two processes given the same
authenticator at the same instant accept it once. For several hosts use
:class:`orthrus_io.redis_replay.RedisReplayCache`; for one process,
:class:`orthrus.replay.MemoryReplayCache`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path

from orthrus.errors import ConfigError
from orthrus_io.errors import Unavailable

__all__ = ["SQLiteReplayCache"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS replay "
    "(entry BLOB PRIMARY KEY, expires_at REAL NOT NULL) WITHOUT ROWID"
)
# Insert, or take over an entry that has expired; a live entry is left alone and no row
# changes, which is how a replay is told apart. One statement: atomic across processes.
_INSERT = (
    "INSERT INTO replay (entry, expires_at) VALUES (?, ?) "
    "ON CONFLICT (entry) DO UPDATE SET expires_at = excluded.expires_at "
    "WHERE replay.expires_at < ?"
)
_PRUNE = "DELETE FROM replay WHERE expires_at < ?"

_INHERITED: list[sqlite3.Connection] = []


class SQLiteReplayCache:
    """A replay cache in one SQLite file that the processes of one host share.

    Connections are opened lazily, one per thread and per process (a connection never
    crosses a ``fork``, so the cache may be built before gunicorn forks its workers).
    Expired entries are deleted every ``prune_every`` inserts.
    """

    def __init__(self, path: Path, prune_every: int = 1000, timeout: float = 5.0) -> None:
        self._path = Path(path)
        self._prune_every = prune_every
        self._timeout = timeout
        self._local = threading.local()
        self._count_lock = threading.Lock()
        self._inserts = 0
        self._connect()  # fail at start-up, not on the first request
        self.close()  # and hold no connection that a fork could copy

    @property
    def path(self) -> Path:
        return self._path

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            if self._local.pid == os.getpid():
                return conn
            # Opened before a fork: never use or close it here (closing could checkpoint
            # or unlink the WAL under the parent); keep it referenced so it is not closed.
            _INHERITED.append(conn)
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            os.close(fd)
            conn = sqlite3.connect(
                self._path, timeout=self._timeout, isolation_level=None, check_same_thread=True
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the replay cache {self._path}: {exc}") from None
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def check_and_store(self, entry: bytes, expires_at: float, now: float) -> bool:
        """Store ``entry`` until ``expires_at``; False if a live copy was already stored."""
        conn = self._connect()
        stored = conn.execute(_INSERT, (entry, expires_at, now)).rowcount == 1
        if stored:
            with self._count_lock:
                self._inserts += 1
                prune = self._inserts % self._prune_every == 0
            if prune:
                self.prune(now)
        return stored

    def prune(self, now: float) -> int:
        """Delete expired entries; return how many."""
        return self._connect().execute(_PRUNE, (now,)).rowcount

    def ping(self) -> None:
        """Raise :class:`~orthrus_io.errors.Unavailable` if the file cannot be read (readiness)."""
        try:
            self._connect().execute("SELECT 1 FROM replay LIMIT 1").fetchall()
        except (ConfigError, sqlite3.Error) as exc:
            raise Unavailable(f"the replay cache {self._path} is unavailable: {exc}") from None

    def __len__(self) -> int:
        row = self._connect().execute("SELECT count(*) FROM replay").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local.conn = None
