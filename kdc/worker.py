"""The KDC's gunicorn worker: ``gthread`` with a deadline per request
(:class:`orthrus_io.deadlines.DeadlineThreadWorker`), new connections going preferably to
the worker holding fewest.

Only gunicorn's public worker interface is used (``accept``, ``nr_conns``): HTTP is read by
gunicorn's parser, and what a request does is the exchange runner's (kdc.exchanges).
"""

from __future__ import annotations

import time
from typing import Any

from orthrus_io.deadlines import DeadlineThreadWorker

__all__ = ["KDCWorker"]

#: Before accepting a connection, a worker that already holds some waits this long per
#: connection it holds (at most ``MAX_ACCEPT_DELAY``), so that a worker holding fewer takes
#: it first: gunicorn's workers otherwise race for every new connection, and two clients
#: that happen to land on one worker leave the other idle.
ACCEPT_DELAY = 0.0005
MAX_ACCEPT_DELAY = 0.002


class KDCWorker(DeadlineThreadWorker):
    """``gthread`` + deadlines + new connections to the least busy worker."""

    def accept(self, listener: Any) -> None:
        if self.nr_conns:
            time.sleep(min(MAX_ACCEPT_DELAY, ACCEPT_DELAY * self.nr_conns))
        super().accept(listener)
