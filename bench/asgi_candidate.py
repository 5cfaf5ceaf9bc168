"""A candidate server for the KDC, for measurement only (bench/server_candidates.py): a
small ASGI app that answers POST /v1/as, /v1/tgs, /v1/kpasswd with the KDC's exchange runner
(kdc.exchanges), as kdc.http_api does in WSGI, and Flask (without that front) through a2wsgi
for the rest; served by uvicorn on uvloop with httptools (llhttp).

uvicorn, uvloop, httptools and a2wsgi are not dependencies of Orthrus: server_candidates
installs them into a scratch directory. ``KDC_DIR`` names the KDC directory."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from a2wsgi import WSGIMiddleware  # type: ignore[import-not-found]

from kdc.app import RUNNER, create_app
from kdc.backends import make_backends
from kdc.config import load_settings
from kdc.exchanges import Arrival
from kdc.store import Store


def make_app() -> Any:
    """The ASGI app (uvicorn --factory)."""
    settings = load_settings(Path(os.environ["KDC_DIR"]))
    workers = int(os.environ.get("KDC_WORKERS", "1"))
    flask_app = create_app(settings, Store.open(settings), make_backends(settings, workers))
    runner = flask_app.extensions[RUNNER]
    wsgi = WSGIMiddleware(flask_app.wsgi_app.app, workers=4)  # Flask behind, without the front
    limit = settings.max_request_bytes

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    if message["type"] == "lifespan.startup":
                        await send({"type": "lifespan.startup.complete"})
                    elif message["type"] == "lifespan.shutdown":
                        await send({"type": "lifespan.shutdown.complete"})
                        return
            return
        path = scope["path"]
        route = runner.routes.get(path)
        if route is None or scope["method"] != "POST":
            await wsgi(scope, receive, send)
            return
        started, now = time.perf_counter(), time.time()
        address = scope["client"][0] if scope.get("client") else None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                break
            chunks.append(body)
            if not message.get("more_body"):
                break
        request_id = uuid.uuid4().hex
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:64]
        arrival = Arrival("http", address, request_id, started, now)
        answer = runner.refused(route.kind, arrival) or (
            runner.too_large()
            if size > limit
            else runner.run_json(route, b"".join(chunks), arrival)
        )
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(answer.body)).encode()),
            (b"x-request-id", request_id.encode()),
            *((k.encode(), v.encode()) for k, v in answer.headers),
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    return app
