"""Run the KDC under gunicorn (never Flask's development server)."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication

from kdc.backends import make_backends
from kdc.config import load_settings
from kdc.store import Store

if TYPE_CHECKING:
    from kdc.exchanges import KerberosAnswerer
    from kdc.kerberos_wire import KerberosSockets

__all__ = ["ServeOptions", "serve"]


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Where and how wide to serve."""

    host: str = "127.0.0.1"
    port: int = 8088
    workers: int = 1
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


class _KDCServer(BaseApplication):  # type: ignore[misc]
    def __init__(
        self, directory: Path, options: ServeOptions, kerberos: KerberosSockets | None
    ) -> None:
        self._directory = directory
        self._options = options
        self._kerberos = kerberos
        super().__init__()

    def load_config(self) -> None:
        config: dict[str, Any] = {
            "bind": f"{self._options.host}:{self._options.port}",
            "workers": self._options.workers,
            "threads": self._options.threads,
            # gthread with a deadline per request (headers, body, answer): slow clients
            # cannot hold the threads (orthrus_io.deadlines; request_timeout in kdc.toml).
            "worker_class": "kdc.worker.KDCWorker",
            "timeout": load_settings(self._directory).request_timeout,
            "keepalive": 30,
            "control_socket_disable": True,
            "accesslog": "-" if self._options.access_log else None,
            "proc_name": "orthrus-kdc",
            "limit_request_field_size": 16384,
            "child_exit": _child_exit,
        }
        if self._options.certfile:
            config["certfile"] = self._options.certfile
            config["keyfile"] = self._options.keyfile
        for key, value in config.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Runs in each worker after the fork: every worker opens its own database engine.
        # kdc.app (and so prometheus_client) is imported only here, after serve() has set
        # PROMETHEUS_MULTIPROC_DIR: the client picks its multiprocess mode at import time.
        from kdc.app import RUNNER, create_app

        logging.basicConfig(
            level=logging.INFO, format="[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"
        )
        settings = load_settings(self._directory)
        backends = make_backends(settings, self._options.workers)
        kerberos = _kerberos_exchanges() if self._kerberos is not None else None
        app = create_app(settings, Store.open(settings), backends, kerberos=kerberos)
        if self._kerberos is not None:
            from kdc.kerberos_wire import KerberosListener

            # The worker's own listener on the sockets serve() opened, with the app's runner.
            KerberosListener(
                app.extensions[RUNNER], self._kerberos, settings.request_timeout
            ).start()
        return app


def _child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


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


def serve(directory: Path, options: ServeOptions) -> None:
    """Check the realm opens, then serve it until stopped (SIGTERM/SIGINT)."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir(directory))
    settings = load_settings(directory)
    store = Store.open(settings)
    store.ping()
    store.signer()
    make_backends(settings, options.workers)
    _KDCServer(directory, options, _kerberos_sockets(options)).run()


def _kerberos_sockets(options: ServeOptions) -> KerberosSockets | None:
    """The Kerberos sockets, opened before the workers start so that a port that cannot be
    had stops ``serve`` at once with what to do; the workers inherit them."""
    if not options.kerberos_port:
        return None
    from kdc.kerberos_wire import open_kerberos_sockets

    return open_kerberos_sockets(options.host, options.kerberos_port)
