"""Accepting the KDC's HTTP connections in a worker: new connections go preferably to the
worker holding fewest.

Every worker accepts on the one listening socket its ``serve`` process bound, and the
kernel wakes them all when a client connects. A worker that already holds connections
waits :data:`ACCEPT_DELAY` seconds per connection it holds (at most
:data:`MAX_ACCEPT_DELAY`) before it tries, so that a worker holding fewer takes the
connection first; without it, the first worker to run takes every connection queued, and
two clients that connect together land on one worker and leave the other idle (measured:
1 run in 6; docs/architecture.md). gunicorn's ``KDCWorker`` did the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Callable

__all__ = ["ACCEPT_DELAY", "MAX_ACCEPT_DELAY", "accept_connections"]

ACCEPT_DELAY = 0.0005
MAX_ACCEPT_DELAY = 0.002


async def accept_connections(
    listening: socket.socket,
    factory: Callable[[], asyncio.Protocol],
    held: Callable[[], int],
    tls: ssl.SSLContext | None,
    handshake_timeout: float,
) -> None:
    """Accept on ``listening`` until cancelled, each connection served by a ``factory()``
    protocol (with TLS under ``tls``, its handshake within ``handshake_timeout``); ``held()``
    is how many connections this worker holds."""
    loop = asyncio.get_running_loop()
    listening.setblocking(False)
    readable = asyncio.Event()
    fd = listening.fileno()
    loop.add_reader(fd, readable.set)
    handshakes: set[asyncio.Task[None]] = set()
    try:
        while True:
            await readable.wait()
            readable.clear()
            if count := held():
                await asyncio.sleep(min(MAX_ACCEPT_DELAY, ACCEPT_DELAY * count))
            try:
                connection, _ = listening.accept()
            except (BlockingIOError, InterruptedError):
                continue  # another worker took it
            except OSError:
                continue  # the client left first (ECONNABORTED), or out of descriptors
            readable.set()  # more may be queued
            connection.setblocking(False)
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = loop.create_task(_connect(connection, factory, tls, handshake_timeout))
            handshakes.add(task)
            task.add_done_callback(handshakes.discard)
    finally:
        loop.remove_reader(fd)


async def _connect(
    connection: socket.socket,
    factory: Callable[[], asyncio.Protocol],
    tls: ssl.SSLContext | None,
    handshake_timeout: float,
) -> None:
    loop = asyncio.get_running_loop()
    timeout = handshake_timeout if tls else None
    try:
        await loop.connect_accepted_socket(
            factory, connection, ssl=tls, ssl_handshake_timeout=timeout
        )
    except (OSError, TimeoutError, ssl.SSLError):
        # A TLS handshake that failed or took too long (plain HTTP to the TLS port, say):
        # the connection is closed, nothing to log.
        with contextlib.suppress(OSError):
            connection.close()
