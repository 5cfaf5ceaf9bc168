"""Running the demo under gunicorn through its Python API (``BaseApplication``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from gunicorn.app.base import BaseApplication

from service_demo.settings import DemoSettings

__all__ = ["DemoServer", "serve"]

_METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class DemoServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn with the demo app; each worker builds its own app (no preloading), so no
    database or replay-cache connection crosses a fork."""

    def __init__(self, settings: DemoSettings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        options: dict[str, Any] = {
            "bind": f"{self.settings.host}:{self.settings.port}",
            "workers": self.settings.workers,
            "worker_class": "sync",
            "timeout": 30,
            "graceful_timeout": 5,
            "control_socket_disable": True,  # else gunicorn 27 makes ~/.gunicorn/gunicorn.ctl
            "proc_name": "service_demo",
            "limit_request_field_size": 16 * 1024,
            "child_exit": _child_exit,
        }
        if self.settings.certfile:
            options["certfile"] = self.settings.certfile
            options["keyfile"] = self.settings.keyfile
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Runs in each worker after the fork, after serve() set PROMETHEUS_MULTIPROC_DIR:
        # the metrics module (prometheus-client) is first imported here.
        from service_demo import create_app

        return create_app(self.settings)


def _child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def serve(settings: DemoSettings) -> None:
    """Serve until SIGTERM/SIGINT.

    ``/metrics`` adds up every worker's samples (prometheus-client's multiprocess mode):
    they go to ``$PROMETHEUS_MULTIPROC_DIR`` if the operator set it (then they empty it
    before each start), else to a private temporary directory removed on exit.
    """
    own_dir, master = None, os.getpid()
    if not os.environ.get(_METRICS_ENV):
        own_dir = tempfile.mkdtemp(prefix="service_demo-metrics-")
        os.environ[_METRICS_ENV] = own_dir
    try:
        DemoServer(settings).run()
    finally:
        # A worker's exit (SystemExit) unwinds through here too: only the master cleans up.
        if own_dir is not None and os.getpid() == master:
            shutil.rmtree(own_dir, ignore_errors=True)
