"""Reading a lab trace (:mod:`orthrus_io.trace`) and the lab's activity log, robustly.

An event's id is its line number in the trace, so ids never change as the file grows. A
line that is not a trace record — cut short by a crash, or edited by hand — is skipped with
a warning naming its line, never a crash.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Activity",
    "TraceEvent",
    "follow_trace",
    "get_path",
    "read_activity",
    "read_trace",
    "record_activity",
]

Warn = Callable[[str], None]

_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "v": int,
    "time": (int, float),
    "component": str,
    "exchange": str,
    "ok": bool,
}
_STEP = re.compile(r"([A-Za-z_]+)(?:\[(\d+)\])?")


def get_path(record: Any, where: str) -> Any:
    """The value at ``request.padata[0].value``-style path ``where`` in ``record``, or None."""
    value = record
    for step in where.split("."):
        match = _STEP.fullmatch(step)
        if match is None or not isinstance(value, dict):
            return None
        value = value.get(match.group(1))
        if match.group(2) is not None:
            index = int(match.group(2))
            if not isinstance(value, list) or index >= len(value):
                return None
            value = value[index]
    return value


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One exchange of the trace; ``id`` is its line number."""

    id: int
    record: dict[str, Any]

    @property
    def time(self) -> float:
        return float(self.record["time"])

    @property
    def component(self) -> str:
        return str(self.record["component"])

    @property
    def exchange(self) -> str:
        return str(self.record["exchange"])

    @property
    def ok(self) -> bool:
        return bool(self.record["ok"])

    def text(self, name: str) -> str | None:
        value = self.record.get(name)
        return str(value) if value is not None else None

    @property
    def client(self) -> str | None:
        return self.text("client")

    @property
    def server(self) -> str | None:
        return self.text("server")

    @property
    def error(self) -> str | None:
        return self.text("error")

    @property
    def labels(self) -> dict[str, Any]:
        labels = self.record.get("labels")
        return labels if isinstance(labels, dict) else {}

    @property
    def extra(self) -> dict[str, Any]:
        extra = self.record.get("extra")
        return extra if isinstance(extra, dict) else {}

    @property
    def request(self) -> dict[str, Any]:
        request = self.record.get("request")
        return request if isinstance(request, dict) else {}

    @property
    def reply(self) -> dict[str, Any]:
        reply = self.record.get("reply")
        return reply if isinstance(reply, dict) else {}

    @property
    def parts(self) -> list[dict[str, Any]]:
        parts = self.record.get("parts")
        return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []

    @property
    def token(self) -> str | None:
        return self.text("token")

    def get(self, where: str) -> Any:
        return get_path(self.record, where)

    @property
    def ap_req(self) -> dict[str, Any]:
        """The AP-REQ of an AP or TGS exchange (``{}`` if none)."""
        if self.exchange == "AP":
            return self.request
        ap_req = self.request.get("ap_req")
        return ap_req if isinstance(ap_req, dict) else {}

    @property
    def ticket_sealed(self) -> str | None:
        value = get_path(self.ap_req, "ticket.enc_part")
        return value if isinstance(value, str) else None

    @property
    def authenticator_sealed(self) -> str | None:
        value = self.ap_req.get("authenticator")
        return value if isinstance(value, str) else None

    @property
    def ticket_kvno(self) -> int | None:
        value = get_path(self.ap_req, "ticket.kvno")
        return value if isinstance(value, int) else None

    @property
    def error_data(self) -> dict[str, Any]:
        data = get_path(self.reply, "error.data")
        return data if isinstance(data, dict) else {}


def _check(record: Any) -> str | None:
    if not isinstance(record, dict):
        return "not a JSON object"
    for key, kind in _REQUIRED.items():
        if not isinstance(record.get(key), kind):
            return f"no valid '{key}'"
    return None


def _parse_lines(data: bytes, first_line: int, warn: Warn, final: bool) -> tuple[list[Any], int]:
    """Records of the complete lines in ``data``; how many bytes were consumed."""
    out: list[Any] = []
    consumed = 0
    number = first_line
    while consumed < len(data):
        end = data.find(b"\n", consumed)
        if end < 0:
            if final:
                warn(f"trace line {number} is cut short (a crash while writing?); skipped")
                consumed = len(data)
            break
        line = data[consumed:end]
        consumed = end + 1
        if line.strip():
            try:
                record = json.loads(line)
            except ValueError:
                warn(f"trace line {number} is not valid JSON; skipped")
            else:
                problem = _check(record)
                if problem:
                    warn(f"trace line {number} is not a trace record ({problem}); skipped")
                else:
                    out.append((number, record))
        number += 1
    return out, consumed


def read_trace(path: Path, warn: Warn, since: float | None = None) -> list[TraceEvent]:
    """Every valid event of the trace (none if there is no trace yet), at or after ``since``."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    records, _ = _parse_lines(data, 1, warn, final=True)
    events = [TraceEvent(number, record) for number, record in records]
    if since is not None:
        events = [e for e in events if e.time >= since]
    return events


def follow_trace(
    path: Path, warn: Warn, after: int = 0, poll: float = 0.25
) -> Iterator[TraceEvent]:
    """Events as they are appended (after line ``after``), forever; a reset trace restarts."""
    offset, number = 0, 1
    while True:
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            size = 0
        if size < offset:  # the lab was reset: start again from the top
            offset, number = 0, 1
        if size > offset:
            with open(path, "rb") as handle:
                handle.seek(offset)
                data = handle.read(size - offset)
            records, consumed = _parse_lines(data, number, warn, final=False)
            offset += consumed
            number += data[:consumed].count(b"\n")
            for line, record in records:
                if line > after:
                    yield TraceEvent(line, record)
        else:
            time.sleep(poll)


@dataclass(frozen=True, slots=True)
class Activity:
    """Something one of the lab's tools did (decode, crack, forge, replay, tamper)."""

    time: float
    action: str
    data: dict[str, Any]


def record_activity(path: Path, action: str, **data: Any) -> None:
    """Append one line to the activity log (mode 0600)."""
    line = json.dumps({"time": time.time(), "action": action, **data}, separators=(",", ":"))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def read_activity(path: Path, warn: Warn, since: float | None = None) -> list[Activity]:
    """The activity log's entries (damaged lines skipped with a warning)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    out = []
    for number, line in enumerate(data.splitlines(), 1):
        try:
            record = json.loads(line)
            entry = Activity(float(record.pop("time")), str(record.pop("action")), record)
        except (ValueError, KeyError, TypeError, AttributeError):
            warn(f"activity line {number} is damaged; skipped")
            continue
        if since is None or entry.time >= since:
            out.append(entry)
    return out
