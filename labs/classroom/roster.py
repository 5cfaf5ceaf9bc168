"""Reading a class roster: a CSV file whose first column holds the students' names.

A header row (``name``, ``student``...) is skipped. A name becomes a principal
(``NAME@REALM``) and a per-student service (``HTTP/legacy-NAME``), so only lower-case
letters, digits, ``.``, ``_`` and ``-`` are taken; anything else is refused with its line,
never silently changed (two students must never end up with one principal).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from orthrus.errors import ConfigError

__all__ = ["MAX_STUDENTS", "read_roster"]

MAX_STUDENTS = 500
_NAME = re.compile(r"[a-z][a-z0-9._-]{0,31}")
_HEADERS = {"name", "names", "student", "students", "login", "user", "username"}
#: Names the realm itself uses; a student with one of them would collide with it.
_RESERVED = {"krbtgt", "kadmin", "instructor", "http", "legacy", "notes"}


def read_roster(path: Path) -> list[str]:
    """The student names in ``path`` (a CSV), in order; ``ConfigError`` naming a bad line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the roster {path}: {exc}") from None
    names: list[str] = []
    for number, row in enumerate(csv.reader(text.splitlines()), 1):
        cell = row[0].strip().lower() if row and row[0].strip() else ""
        if not cell or (number == 1 and cell in _HEADERS):
            continue
        if not _NAME.fullmatch(cell) or cell in _RESERVED:
            raise ConfigError(
                f"{path} line {number}: {cell[:40]!r} is not a usable student name (a lower-case "
                "letter, then up to 31 letters, digits, '.', '_' or '-'; not a reserved name)"
            )
        if cell in names:
            raise ConfigError(f"{path} line {number}: {cell!r} is already on the roster")
        names.append(cell)
    if not names:
        raise ConfigError(f"the roster {path} names no student (one name per line, first column)")
    if len(names) > MAX_STUDENTS:
        raise ConfigError(f"the roster {path} has {len(names)} students; at most {MAX_STUDENTS}")
    return names
