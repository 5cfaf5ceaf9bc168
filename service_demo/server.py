"""Running the demo under gunicorn through its Python API (``BaseApplication``)."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from service_demo.settings import DemoSettings

__all__ = ["DemoServer", "serve"]


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
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from service_demo import create_app

        return create_app(self.settings)


def serve(settings: DemoSettings) -> None:
    """Serve until SIGTERM/SIGINT."""
    DemoServer(settings).run()
