"""The KDC's gunicorn worker: threaded, a deadline per request, and keep-alive without a
round trip through the event loop between one request and the next.

gunicorn's ``gthread`` worker hands a kept-alive connection back to its main thread after
every answer: the thread pool's result goes through a pipe, the main thread puts the socket
in its poller, and when the next request arrives it queues the connection to the pool
again. On a KDC answering a client that sends request after request, those hand-offs
between threads cost more CPU than the exchange itself (measured with an empty WSGI app:
~290 µs of server CPU per request, ~150 µs without them). So after answering, a thread
that has nothing else queued waits briefly (``LINGER`` seconds) for the next request on the
same connection and serves it directly; if none comes, or other work is waiting, or the
worker is stopping, the connection goes back to the poller as before. Every request still
gets its own deadline (:class:`orthrus_io.deadlines.DeadlineThreadWorker`), and a thread
serves at most ``MAX_LINGERED`` requests in a row before letting the others have a turn.
"""

from __future__ import annotations

import select
import ssl
from typing import Any

from orthrus_io.deadlines import DeadlineThreadWorker

__all__ = ["KDCWorker"]

#: How long a thread waits for the next request on a kept-alive connection, seconds.
LINGER = 0.002
#: Requests one thread serves on one connection before it goes back to the poller.
MAX_LINGERED = 256


class KDCWorker(DeadlineThreadWorker):
    """``gthread`` + deadlines + a short wait for the next request on the same connection."""

    def handle(self, conn: Any) -> Any:
        keepalive = super().handle(conn)
        served = 1
        while keepalive is True and served < MAX_LINGERED and self._may_linger(conn):
            keepalive = super().handle(conn)
            served += 1
        return keepalive

    def _may_linger(self, conn: Any) -> bool:
        """True when the next request is here (or arrives within ``LINGER``) and nothing
        else waits for this thread."""
        if not self.alive or getattr(conn, "is_http2", False):
            return False
        queue = getattr(self.tpool, "_work_queue", None)
        if queue is None or not queue.empty():
            return False
        if conn.parser.unreader.buf.getvalue():
            return True  # pipelined: already read
        sock = conn.sock
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        try:
            readable, _, _ = select.select([sock], [], [], LINGER)
        except (OSError, ValueError):
            return False
        return bool(readable)
