"""Whether anything was committed to the principal database since a lookup last read it:
``PRAGMA data_version`` for an SQLite file, LISTEN/NOTIFY for PostgreSQL
(:mod:`kdc.pg_changes`). :mod:`kdc.lookups` keeps its cached entries while nothing changed."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine, event

from kdc.pg_changes import PostgresChanges

__all__ = ["Changes", "SQLiteChanges", "change_detector"]


class SQLiteChanges:
    """Whether any connection committed to an SQLite file since: ``PRAGMA data_version``.

    SQLite changes the value a connection reads whenever another connection, in this process
    or another, has committed in the meantime (https://sqlite.org/pragma.html#pragma_data_version);
    in WAL mode reading it touches only the shared-memory index. The values of one
    connection are comparable only with each other, so one connection (per process, opened
    lazily, never crossing a fork) serves every thread, under a lock. It never writes.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def version(self) -> int:
        with self._lock:
            if self._conn is None or self._pid != os.getpid():
                # A connection opened before a fork is left alone (never used or closed).
                self._conn = sqlite3.connect(
                    self._path, isolation_level=None, check_same_thread=False
                )
                self._pid = os.getpid()
            row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close this process's connection (with the engine: see :func:`change_detector`)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


class Changes(Protocol):
    """A change detector: :meth:`version` differs once anything was committed since."""

    def version(self) -> int: ...

    def close(self) -> None: ...


def change_detector(engine: Engine) -> Changes | None:
    """A change detector for an SQLite file or PostgreSQL database, else None (no cache)."""
    changes: Changes
    if engine.dialect.name == "postgresql":
        changes = PostgresChanges(engine)
    elif engine.dialect.name == "sqlite":
        path = engine.url.database
        if not path or path == ":memory:" or path.startswith("file:") or not Path(path).is_file():
            return None
        changes = SQLiteChanges(path)
    else:
        return None
    # Disposing of the engine closes every connection to the database; this one too, so
    # that nothing of this process holds it open (and SQLite's POSIX locks) after that.
    event.listen(engine, "engine_disposed", lambda _engine: changes.close())
    return changes
