"""A deadline on every request served by gunicorn's threaded worker (slow clients, slowloris).

gunicorn's ``gthread`` worker waits (5 s) for a request's first byte before it gives a
thread to a connection, but then reads the headers and the body with blocking calls and no
time limit: a client that sends one byte now and then holds a thread for as long as it
likes, and as many such clients as there are threads stop the server (measured: 6 slow
connections made a 1-worker, 4-thread KDC answer nothing). :class:`DeadlineThreadWorker`
gives each request ``timeout`` seconds (gunicorn's setting) from the moment a thread takes
it — headers, body and answer — and after that shuts the connection down, which makes the
blocked read return and frees the thread. One reaper thread per worker process watches the
deadlines.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

__all__ = ["DeadlineReaper", "DeadlineThreadWorker"]


class DeadlineReaper:
    """Shuts down the sockets of connections whose deadline has passed."""

    def __init__(self, tick: float = 0.25) -> None:
        self._tick = tick
        self._lock = threading.Lock()
        self._watched: dict[int, tuple[Any, float]] = {}
        self._ids = itertools.count()
        self.cut = 0  #: connections cut so far (for tests and logs)
        thread = threading.Thread(target=self._run, name="orthrus-deadlines", daemon=True)
        thread.start()

    def watch(self, conn: Any, deadline: float) -> int:
        """Watch ``conn`` (anything with a ``sock``) until :meth:`forget`; returns a token."""
        token = next(self._ids)
        with self._lock:
            self._watched[token] = (conn, deadline)
        return token

    def forget(self, token: int) -> None:
        with self._lock:
            self._watched.pop(token, None)

    def _run(self) -> None:
        while True:
            time.sleep(self._tick)
            now = time.monotonic()
            with self._lock:
                late = [t for t, (_, deadline) in self._watched.items() if deadline <= now]
                for token in late:
                    conn, _ = self._watched.pop(token)
                    # conn.sock, not a socket saved earlier: TLS replaces it in the worker.
                    with contextlib.suppress(OSError, ValueError):
                        conn.sock.shutdown(socket.SHUT_RDWR)
                    self.cut += 1


class DeadlineThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's ``gthread`` worker with a deadline of ``timeout`` seconds per request."""

    reaper: DeadlineReaper

    def init_process(self) -> None:
        self.reaper = DeadlineReaper()
        super().init_process()

    def handle(self, conn: Any) -> Any:
        token = self.reaper.watch(conn, time.monotonic() + self.cfg.timeout)
        try:
            return super().handle(conn)
        finally:
            self.reaper.forget(token)
