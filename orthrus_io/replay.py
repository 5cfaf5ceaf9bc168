"""A replay cache the processes of one host share: one SQLite file (RFC 4120 §3.2.3).

Storing is one atomic insert-if-absent statement in WAL mode, so two processes given the same
authenticator at the same instant accept it once. The file survives a restart, so a restarted
service still refuses the authenticators it accepted before. For several hosts use
:class:`orthrus_io.redis_replay.RedisReplayCache`; for one process,
:class:`orthrus.replay.MemoryReplayCache`.

The file records when it was created (its "since" row): it remembers every entry stored from
then on. A file that is missing, replaced or damaged is (re)created with a new time, and
authenticators made before it are refused (:func:`orthrus.replay.check_remembered`). The file
holds at most ``max_entries`` entries: expired ones are pruned first, and when every entry is
still live a new one is refused (``Unavailable``, answered 503) rather than an unexpired one
forgotten.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from orthrus.errors import ConfigError
from orthrus.timecheck import iso
from orthrus_io.errors import Unavailable

__all__ = ["SQLiteReplayCache"]

log = logging.getLogger("orthrus.replay")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS replay "
    "(entry BLOB PRIMARY KEY, expires_at REAL NOT NULL) WITHOUT ROWID",
    # One row: since when the file remembers everything, and how many entries it holds
    # (kept by the triggers, so that the bound costs no count(*) per insert).
    "CREATE TABLE IF NOT EXISTS replay_since "
    "(id INTEGER PRIMARY KEY CHECK (id = 1), since REAL NOT NULL, entries INTEGER NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS replay_added AFTER INSERT ON replay "
    "BEGIN UPDATE replay_since SET entries = entries + 1; END",
    "CREATE TRIGGER IF NOT EXISTS replay_removed AFTER DELETE ON replay "
    "BEGIN UPDATE replay_since SET entries = entries - 1; END",
)
# A file without the row (new, or written by an older version) remembers from now on.
_MARK = "INSERT OR IGNORE INTO replay_since (id, since, entries) SELECT 1, ?, count(*) FROM replay"
_SINCE = "SELECT since FROM replay_since"
# Insert while there is room, or take over an entry that has expired; a live entry is left
# alone and no row changes, which is how a replay is told apart. One statement: atomic
# across processes.
_INSERT = (
    "INSERT INTO replay (entry, expires_at) "
    "SELECT ?, ? WHERE (SELECT entries FROM replay_since) < ? "
    "ON CONFLICT (entry) DO UPDATE SET expires_at = excluded.expires_at "
    "WHERE replay.expires_at < ?"
)
_LIVE = "SELECT 1 FROM replay WHERE entry = ? AND expires_at >= ?"
_PRUNE = "DELETE FROM replay WHERE expires_at < ?"
# What SQLite says of a file that is not (or no longer) a database.
_DAMAGED = {"SQLITE_NOTADB", "SQLITE_CORRUPT"}

_INHERITED: list[sqlite3.Connection] = []

Clock = Callable[[], float]


class SQLiteReplayCache:
    """A replay cache in one SQLite file (mode 0600) that the processes of one host share.

    Connections are opened lazily, one per thread and per process (a connection never
    crosses a ``fork``, so the cache may be built before a server forks its workers).
    Expired entries are deleted every ``prune_every`` inserts, and whenever the file holds
    ``max_entries``. ``clock`` dates a new file's memory.
    """

    def __init__(
        self,
        path: Path,
        prune_every: int = 1000,
        timeout: float = 5.0,
        max_entries: int = 1_000_000,
        clock: Clock = time.time,
    ) -> None:
        self._path = Path(path)
        self._prune_every = prune_every
        self._timeout = timeout
        self._max_entries = max_entries
        self._clock = clock
        self._local = threading.local()
        self._count_lock = threading.Lock()
        self._inserts = 0
        self._connect()  # fail at start-up, not on the first request
        self.close()  # and hold no connection that a fork could copy

    @property
    def path(self) -> Path:
        return self._path

    def _connect(self, *, recheck: bool = True) -> sqlite3.Connection:
        """This thread's connection, opened in this process; unless ``recheck`` is False,
        reopened if the file was deleted or replaced since (one ``stat`` of the path)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            if self._local.pid == os.getpid():
                if not recheck or self._identity() == self._local.identity:
                    return conn
                # Deleted or replaced under us: entries written now would be lost to the
                # other processes, so open the file that is there (recreating it if absent).
                log.warning("replay cache %s was deleted or replaced: reopening it", self._path)
                self.close()
            else:
                # Opened before a fork: never use or close it here (closing could checkpoint
                # or unlink the WAL under the parent); keep it referenced so it is not closed.
                _INHERITED.append(conn)
        try:
            conn = self._open()
        except sqlite3.DatabaseError as exc:
            if exc.sqlite_errorname not in _DAMAGED:
                raise ConfigError(f"cannot open the replay cache {self._path}: {exc}") from None
            self._set_aside(exc)
            conn = self._open()
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            os.close(fd)
            identity = self._identity()
            conn = sqlite3.connect(
                self._path, timeout=self._timeout, isolation_level=None, check_same_thread=True
            )
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the replay cache {self._path}: {exc}") from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("BEGIN IMMEDIATE")  # one process creates the schema and the mark
            for statement in _SCHEMA:
                conn.execute(statement)
            created = conn.execute(_MARK, (self._clock(),)).rowcount == 1
            since = float(conn.execute(_SINCE).fetchone()[0])
            conn.execute("COMMIT")
        except sqlite3.Error:
            conn.close()
            raise
        if created:
            log.warning(
                "replay cache %s starts afresh at %s: authenticators made before then are "
                "refused until the clock-skew interval has passed (RFC 4120 §3.2.3)",
                self._path,
                iso(since),
            )
        self._local.conn, self._local.pid = conn, os.getpid()
        self._local.identity, self._local.since = identity, since
        return conn

    def _set_aside(self, exc: sqlite3.Error) -> None:
        """Move a damaged file aside (kept for inspection); the next open creates a new one."""
        damaged = self._path.with_name(self._path.name + ".damaged")
        log.warning("replay cache %s is damaged (%s): moved to %s", self._path, exc, damaged)
        try:
            os.replace(self._path, damaged)
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{self._path}{suffix}")
        except OSError as err:
            raise ConfigError(
                f"cannot replace the damaged replay cache {self._path}: {err}"
            ) from None

    def _identity(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self._path)
        except FileNotFoundError:
            return None
        return (info.st_dev, info.st_ino)

    def check_and_store(self, entry: bytes, expires_at: float, now: float) -> bool:
        """Store ``entry`` until ``expires_at``; False if a live copy was already stored.

        Raises :class:`~orthrus_io.errors.Unavailable` when the file is full of live
        entries or cannot be written: the request is refused, never accepted unchecked.
        """
        try:
            try:
                stored = self._store(entry, expires_at, now)
            except sqlite3.DatabaseError as exc:
                if exc.sqlite_errorname not in _DAMAGED:
                    raise
                # Damaged while in use: start a new file, which refuses what came before.
                damaged = self._identity() == self._local.identity
                self.close()
                if damaged:
                    self._set_aside(exc)
                stored = self._store(entry, expires_at, now)
        except (sqlite3.Error, ConfigError) as exc:
            raise Unavailable(f"the replay cache {self._path} is unavailable: {exc}") from None
        if stored:
            with self._count_lock:
                self._inserts += 1
                prune = self._inserts % self._prune_every == 0
            if prune:
                self.prune(now)
        return stored

    def _store(self, entry: bytes, expires_at: float, now: float) -> bool:
        conn = self._connect()
        for attempt in range(2):
            if conn.execute(_INSERT, (entry, expires_at, self._max_entries, now)).rowcount == 1:
                return True
            if conn.execute(_LIVE, (entry, now)).fetchone() is not None:
                return False
            if attempt == 0:
                self.prune(now)  # full: make room from expired entries, then try again
        raise Unavailable(
            f"the replay cache {self._path} holds {self._max_entries} unexpired entries, its "
            "limit: new requests are refused until entries expire (raise max_entries)"
        )

    def remembers_since(self) -> float:
        """When the file this thread uses was created: it remembers every entry since.

        That is the file this thread's connection opened, without looking at the path
        again: a file deleted or replaced since is noticed by the next store, which opens
        the new one, and callers ask again after storing (:func:`orthrus.replay.check_replay`).
        """
        self._connect(recheck=False)
        return float(self._local.since)

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
