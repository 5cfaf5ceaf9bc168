"""Durations as people type them for ticket lifetimes (``10h``, ``7d``, ``1h30m``, ``90s``)."""

from __future__ import annotations

import re

__all__ = ["format_duration", "parse_duration"]

_PART = re.compile(r"(\d{1,9})([dhms])")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    """Seconds in ``text``: a plain number of seconds or parts like ``1d2h30m10s``."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    position, total = 0, 0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += int(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise ValueError(f"{text!r} is not a duration; write e.g. 10h, 7d, 1h30m or 3600")
    return total


def format_duration(seconds: int) -> str:
    """MIT's ``kadmin`` form: ``7 days 00:00:00``."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days} {'day' if days == 1 else 'days'} {hours:02d}:{minutes:02d}:{secs:02d}"
