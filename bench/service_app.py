"""``service_demo`` under gunicorn with one extra route for the benchmark:
``GET /open/whoami``, the same view as ``GET /whoami`` (same JSON, same Flask app, same
server) without ``@auth.required`` — the unprotected baseline of the protected endpoint.

``python -m bench.service_app`` takes ``python -m service_demo``'s options.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask, jsonify

from service_demo.__main__ import parse_args
from service_demo.models import NoteStore
from service_demo.server import DemoServer


def add_open_route(app: Flask) -> Flask:
    @app.get("/open/whoami")
    def open_whoami() -> Any:
        # What /whoami answers, for a fixed identity: the work of the view, no ticket.
        return jsonify(
            principal="alice@BENCH.TEST",
            groups=["staff"],
            service="HTTP/bench.test@BENCH.TEST",
            auth_method="none",
            ticket={"authtime": 0, "starttime": 0, "endtime": 0},
        )

    return app


class BenchServer(DemoServer):  # type: ignore[misc]
    def load(self) -> Any:
        return add_open_route(super().load())


def main() -> None:
    settings = parse_args()
    metrics = tempfile.mkdtemp(prefix="bench-service-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics
    master = os.getpid()
    # Before forking, as ``python -m service_demo`` does: workers that each found no table
    # and created it raced ("table notes already exists"), one died at boot, gunicorn shut
    # down, and the run's next connection was refused.
    NoteStore(settings.db_path).create_schema()
    try:
        BenchServer(settings).run()
    finally:
        if os.getpid() == master:
            shutil.rmtree(metrics, ignore_errors=True)


if __name__ == "__main__":
    main()
