"""``orthrus-kdc serve``: the KDC's own server, on uvloop with httptools (never Flask's
development server).

``serve`` checks the realm opens, binds the HTTP socket and opens the Kerberos sockets, then
forks ``--workers`` processes (:mod:`kdc.supervisor`: respawn, graceful stop). Each worker
runs one uvloop event loop holding the HTTP server (:mod:`kdc.http_server`), the Kerberos
UDP and TCP listeners (:mod:`kdc.kerberos_wire`) and the exchange runner they share, with a
pool of ``--threads`` threads for what Flask answers. The kernel spreads new connections
over the workers, which all accept on the one socket. docs/architecture.md says why this
server and not gunicorn's (CPU per request, and the bounds on a request's time and size).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import ssl
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kdc.backends import make_backends
from kdc.config import load_settings
from kdc.store import Store
from kdc.supervisor import Supervisor
from orthrus_io.tls import server_ssl_context

if TYPE_CHECKING:
    from kdc.exchanges import KerberosAnswerer
    from kdc.kerberos_wire import KerberosSockets

__all__ = ["ServeOptions", "serve"]

log = logging.getLogger("orthrus.kdc")
#: Connections the kernel queues for the workers' accept.
BACKLOG = 2048
#: Beyond ``request_timeout``, how long a stopping worker may take before it is killed.
STOP_MARGIN = 5.0


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Where and how wide to serve."""

    host: str = "127.0.0.1"
    port: int = 8088
    workers: int = 1
    #: Threads per worker for the requests Flask answers (administration, metrics...).
    threads: int = 4
    access_log: bool = False
    certfile: str | None = None
    keyfile: str | None = None
    #: Kerberos over UDP and TCP on ``host`` (RFC 4120 §7.2); 0: none.
    kerberos_port: int = 88


#: The Kerberos exchanges the listeners run; None: ``orthrus.kerberos.kdc.answer``, imported
#: only when serving (it compiles the ASN.1 module: seconds, not for every CLI command).
KERBEROS_EXCHANGES: KerberosAnswerer | None = None


def _kerberos_exchanges() -> KerberosAnswerer:
    """The Kerberos exchanges on DER (RFC 4120 §3.1, §3.3) this KDC answers with."""
    if KERBEROS_EXCHANGES is not None:
        return KERBEROS_EXCHANGES
    from orthrus.kerberos.kdc import answer

    return answer


@dataclass(frozen=True, slots=True)
class _Listening:
    """What ``serve`` opens before it forks, for every worker."""

    directory: Path
    options: ServeOptions
    http: socket.socket
    tls: ssl.SSLContext | None
    kerberos: KerberosSockets | None

    def close(self) -> None:
        self.http.close()
        if self.kerberos is not None:
            self.kerberos.close()


def serve(directory: Path, options: ServeOptions) -> None:
    """Check the realm opens, then serve it until stopped (SIGTERM/SIGINT)."""
    _log_setup()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir(directory))
    settings = load_settings(directory)
    tls = server_ssl_context(options.certfile, options.keyfile) if options.certfile else None
    kerberos = _kerberos_sockets(options)
    http = _http_socket(options)
    store = Store.open(settings)
    store.ping()
    store.signer()
    make_backends(settings, options.workers)
    listening = _Listening(directory, options, http, tls, kerberos)
    scheme = "https" if tls else "http"
    log.info("orthrus-kdc serving %s://%s:%d", scheme, options.host, http.getsockname()[1])
    from prometheus_client import multiprocess  # after PROMETHEUS_MULTIPROC_DIR is set

    supervisor = Supervisor(
        options.workers,
        lambda: _worker(listening),
        multiprocess.mark_process_dead,
        listening.close,
        settings.request_timeout + STOP_MARGIN,
    )
    supervisor.run()


def _log_setup() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S %z",
    )


def _http_socket(options: ServeOptions) -> socket.socket:
    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    try:
        sock = socket.create_server((options.host, options.port), family=family, backlog=BACKLOG)
    except OSError as exc:
        from orthrus.errors import ConfigError

        raise ConfigError(
            f"cannot listen for HTTP on {options.host} port {options.port} ({exc.strerror}); "
            "pass --port with another port"
        ) from None
    sock.set_inheritable(True)
    return sock


def _worker(listening: _Listening) -> None:
    """A worker process: serve on one uvloop loop until SIGTERM, then exit."""
    import uvloop

    status = 0
    try:
        uvloop.run(_serve_worker(listening))
    except Exception:
        log.exception("worker failed")
        status = 3
    logging.shutdown()
    os._exit(status)


async def _serve_worker(listening: _Listening) -> None:
    # kdc.app (and so prometheus_client) is imported only here, after serve() has set
    # PROMETHEUS_MULTIPROC_DIR: the client picks its multiprocess mode at import time.
    from kdc.app import RUNNER, create_app
    from kdc.http_api import ExchangeFront
    from kdc.http_server import HTTPConnection, Served

    options = listening.options
    settings = load_settings(listening.directory)
    backends = make_backends(settings, options.workers)
    kerberos = _kerberos_exchanges() if listening.kerberos is not None else None
    app = create_app(settings, Store.open(settings), backends, kerberos=kerberos)
    front = app.wsgi_app
    assert isinstance(front, ExchangeFront)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def stop() -> None:
        if stopping.is_set():
            os._exit(0)  # a second SIGTERM: at once
        stopping.set()

    loop.add_signal_handler(signal.SIGTERM, stop)
    executor = ThreadPoolExecutor(options.threads, thread_name_prefix="orthrus-wsgi")
    served = Served(
        front,
        executor,
        settings.request_timeout,
        settings.max_request_bytes,
        "https" if listening.tls else "http",
        options.workers > 1,
        _access_logger() if options.access_log else None,
    )
    server = await loop.create_server(
        lambda: HTTPConnection(served),
        sock=listening.http,
        ssl=listening.tls,
        ssl_handshake_timeout=settings.request_timeout if listening.tls else None,
        backlog=BACKLOG,
    )
    listener = None
    if listening.kerberos is not None:
        from kdc.kerberos_wire import KerberosListener

        listener = KerberosListener(
            app.extensions[RUNNER], listening.kerberos, settings.request_timeout
        )
    kerberos_task = loop.create_task(listener.serve()) if listener else None
    await stopping.wait()
    log.info("stopping: no new connections; finishing the requests in flight")
    server.close()
    if listener is not None:
        listener.stop()
    served.stop()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(settings.request_timeout):
            await served.drained()
            if kerberos_task is not None:
                await kerberos_task
    executor.shutdown(wait=False, cancel_futures=True)


def _access_logger() -> logging.Logger:
    """One line per request to standard output, nothing else (gunicorn's ``--access-logfile
    -``)."""
    logger = logging.getLogger("orthrus.kdc.access")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def _metrics_dir(directory: Path) -> Path:
    """A fresh directory for this server's workers' metric files (prometheus-client
    multiprocess): ``metrics/<pid>``, one per ``serve`` process, so that several servers of
    one KDC directory neither delete nor add up each other's samples. Directories left by
    servers that no longer run are removed."""
    parent = directory / "metrics"
    parent.mkdir(mode=0o700, exist_ok=True)
    for old in parent.iterdir():
        if not (old.name.isdigit() and _running(int(old.name))):
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
    metrics = parent / str(os.getpid())
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(mode=0o700)
    return metrics


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kerberos_sockets(options: ServeOptions) -> KerberosSockets | None:
    """The Kerberos sockets, opened before the workers start so that a port that cannot be
    had stops ``serve`` at once with what to do; the workers inherit them."""
    if not options.kerberos_port:
        return None
    from kdc.kerberos_wire import open_kerberos_sockets

    return open_kerberos_sockets(options.host, options.kerberos_port)
