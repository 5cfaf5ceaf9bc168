"""A browser page served by Flask: the class dashboard (the lab's sequence-diagram page is a
blueprint of its own, :func:`labs.web.trace_page`, mounted by the lab and the dashboard)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, send_from_directory

__all__ = ["page_app"]


def page_app(import_name: str, static: Path, index: str) -> Flask:
    """A Flask app serving one page (``index`` from ``static`` at ``/``), its static files
    and ``/livez``; the caller adds the page's API to it."""
    app = Flask(import_name, static_folder=None)

    @app.get("/")
    def index_page() -> Response:
        return send_from_directory(static, index, max_age=0)

    @app.get("/static/<path:name>")
    def static_file(name: str) -> Response:
        return send_from_directory(static, name, max_age=0)

    @app.get("/livez")
    def livez() -> Any:
        return jsonify(status="ok")

    return app
