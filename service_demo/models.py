"""The notes store: one SQLite database through SQLAlchemy 2 (WAL, shared by the workers)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, String, Text, create_engine, event, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

__all__ = ["Base", "Note", "NoteStore"]

MAX_NOTES_LISTED = 1000


class Base(DeclarativeBase):
    pass


class Note(Base):
    """A note and the principal that owns it."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(255), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "created_at": self.created_at}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _private_file(path: Path) -> None:
    """Create ``path`` mode 0600 (or close an existing one of ours to others) before SQLite
    opens it: the notes are the users' private data, and SQLite gives its WAL and shared
    memory files the mode of the database file."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


class NoteStore:
    """Per-owner notes; every query is filtered by the owner, so nobody reads another's."""

    def __init__(self, path: Path) -> None:
        _private_file(path)
        self.engine: Engine = create_engine(f"sqlite:///{path}")
        event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_schema(self) -> None:
        Base.metadata.create_all(self.engine)

    def ping(self) -> None:
        """Raise if the database cannot be read (readiness)."""
        with self.engine.connect() as connection:
            connection.execute(select(func.count(Note.id)).where(Note.id == 0))

    def session(self) -> Session:
        return self._sessions()

    def list(self, owner: str) -> list[Note]:
        with self.session() as session:
            query = select(Note).where(Note.owner == owner).order_by(Note.id)
            return list(session.scalars(query.limit(MAX_NOTES_LISTED)))

    def add(self, owner: str, text: str) -> Note:
        with self.session() as session, session.begin():
            note = Note(owner=owner, text=text, created_at=int(time.time()))
            session.add(note)
        return note

    def stats(self) -> dict[str, int]:
        with self.session() as session:
            notes = session.scalar(select(func.count(Note.id))) or 0
            owners = session.scalar(select(func.count(func.distinct(Note.owner)))) or 0
        return {"notes": notes, "users": owners}
