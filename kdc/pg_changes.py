"""Whether any session committed a change to the principals on PostgreSQL: LISTEN/NOTIFY.

Migration 0004 makes every statement that changes ``principals``, ``keys`` or ``groups``
(and 0005, ``kerberos_keys``) ``NOTIFY orthrus_principals`` (https://www.postgresql.org/docs/current/sql-notify.html);
PostgreSQL delivers a notification once its transaction has committed, and never one of a
transaction rolled back. One connection per process LISTENs; every notification bumps a
counter, the version the lookup cache compares with, as it compares SQLite's
``data_version`` (kdc/change_detection.py).

Each :meth:`PostgresChanges.version` makes one round trip (``SELECT 1``) on that connection
rather than only reading what has already arrived: a committing session signals the
listening backends before its COMMIT returns, and a backend sends its pending notifications
before it answers the next query (ReadyForQuery), so a change committed before the lookup
began is always seen, whereas a mere look at the socket could run ahead of the
notification. A database whose schema predates migration 0005 does not notify every change:
then every lookup counts as after a change (no cache) until ``orthrus-kdc upgrade``. A lost
connection is opened again and counts as a change (the cache is dropped), since whatever
was committed while nobody listened went unheard.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from sqlalchemy import Engine

from orthrus_io.errors import Unavailable

__all__ = ["CHANNEL", "PostgresChanges"]

#: The channel the triggers of migrations 0004 and 0005 notify.
CHANNEL = "orthrus_principals"

#: How many of the tables the lookup reads have the trigger (resolved by the search path,
#: as the lookup's own queries are); all of them: :data:`_TABLES`.
_TRIGGERS = """
SELECT count(DISTINCT tgrelid) FROM pg_trigger
WHERE tgname IN ('orthrus_principals_changed', 'orthrus_keys_changed', 'orthrus_groups_changed',
                 'orthrus_kerberos_keys_changed')
  AND tgrelid IN (to_regclass('principals'), to_regclass('keys'), to_regclass('groups'),
                  to_regclass('kerberos_keys'))
"""
_TABLES = 4


class PostgresChanges:
    """A change counter fed by ``LISTEN orthrus_principals`` on a connection of its own.

    The connection is opened lazily, once per process (never used across a fork), with the
    engine's own connection arguments; every thread shares it under a lock. It never writes.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Any = None
        self._pid = 0
        self._version = 0
        self._notified = False
        self._lock = threading.Lock()

    def _heard(self, _notify: object) -> None:
        self._version += 1

    def _listen(self) -> Any:
        cargs, cparams = self._engine.dialect.create_connect_args(self._engine.url)
        conn = self._engine.dialect.loaded_dbapi.connect(*cargs, **cparams)
        conn.autocommit = True
        conn.add_notify_handler(self._heard)
        conn.execute(f"LISTEN {CHANNEL}")
        row = conn.execute(_TRIGGERS).fetchone()
        self._notified = row is not None and row[0] == _TABLES
        return conn

    def version(self) -> int:
        """The number of changes heard; raises :class:`Unavailable` if PostgreSQL is down."""
        import psycopg  # only a PostgreSQL engine gets here; psycopg is then loaded already

        with self._lock:
            # Twice: a connection found broken (a restart, a network blip) is opened again
            # at once; only a database that refuses a new one is unavailable.
            for attempt in range(2):
                try:
                    return self._poll()
                except psycopg.Error as exc:
                    self._drop()
                    if attempt:
                        url = self._engine.url.render_as_string(hide_password=True)
                        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                        raise Unavailable(f"database {url} is unavailable: {first_line}") from None
            raise AssertionError("unreachable")

    def _poll(self) -> int:
        if self._conn is None or self._pid != os.getpid() or self._conn.closed:
            # A new connection has missed what happened before its LISTEN.
            self._version += 1
            self._conn = self._listen()
            self._pid = os.getpid()
        self._conn.execute("SELECT 1")
        if not self._notified:
            self._version += 1
        return self._version

    def _drop(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def close(self) -> None:
        """Close this process's connection (with the engine, as for SQLite)."""
        with self._lock:
            self._drop()
