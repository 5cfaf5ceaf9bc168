"""The database connection: an SQLAlchemy 2 engine over SQLite (WAL, durable commits) or
PostgreSQL, and the error a lost or refused connection becomes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from orthrus_io.errors import Unavailable

__all__ = ["DatabaseUnavailable", "Transaction", "database_errors", "make_engine", "ping"]

#: Opens one ORM session in one transaction (:meth:`kdc.store.Store.transaction`).
Transaction = Callable[[], AbstractContextManager[Session]]


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached or answered with an error; the URL hides its password."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, full sync and foreign keys."""
    engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


@contextmanager
def database_errors(engine: Engine) -> Iterator[None]:
    """Turn a lost or refused database connection into :class:`DatabaseUnavailable`."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        url = engine.url.render_as_string(hide_password=True)
        first_line = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DatabaseUnavailable(f"database {url} is unavailable: {first_line}") from None


def ping(engine: Engine) -> None:
    """Raise :class:`DatabaseUnavailable` if the database cannot be reached."""
    with database_errors(engine), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
