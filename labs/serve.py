"""Serving a lab's own Flask apps (the legacy service, the impostor, the web page) with
gunicorn, as every Orthrus server is served — never Flask's development server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

__all__ = ["serve_app"]


class _LabServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, factory: Callable[[], Flask], bind: str, name: str, threads: int) -> None:
        self._factory = factory
        self._bind = bind
        self._name = name
        self._threads = threads
        super().__init__()

    def load_config(self) -> None:
        options: dict[str, Any] = {
            "bind": self._bind,
            "workers": 1,
            "threads": self._threads,
            "worker_class": "gthread",
            "timeout": 30,
            "graceful_timeout": 3,
            "control_socket_disable": True,
            "proc_name": self._name,
            "limit_request_field_size": 16 * 1024,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._factory()


def serve_app(
    factory: Callable[[], Flask], host: str, port: int, name: str, threads: int = 4
) -> None:
    """Serve the app ``factory`` builds (in the worker, after the fork) until SIGTERM."""
    _LabServer(factory, f"{host}:{port}", name, threads).run()
