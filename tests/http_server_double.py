"""One connection of the KDC's HTTP server (kdc.http_server) without a socket: a transport
that records what is written and whether it is read, and a front that leaves every request
to the WSGI app given. For tests that must say exactly which octets arrive in which read."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from types import SimpleNamespace
from typing import Any

from kdc.http_server import HTTPConnection, Served

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RecordingTransport:
    """What HTTPConnection uses of an asyncio transport."""

    def __init__(self) -> None:
        self.reading = True
        self.closed = False
        self.written = bytearray()

    def get_extra_info(self, name: str) -> tuple[str, int]:
        return ("127.0.0.1", 40000)

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


def connect(
    app: WSGIApp, executor: Executor, max_body: int = 65536
) -> tuple[HTTPConnection, RecordingTransport]:
    """A connection made (call it on a running loop) whose every request goes to ``app``."""
    front = SimpleNamespace(answer=lambda *args: None, app=app)
    served = Served(front, executor, 10.0, max_body, "http", False)  # type: ignore[arg-type]
    connection = HTTPConnection(served)
    transport = RecordingTransport()
    connection.connection_made(transport)  # type: ignore[arg-type]
    return connection, transport
