"""A small real service protected by Orthrus tickets: per-user notes.

Routes (docs/service_demo.md): ``GET /livez``, ``GET /readyz``, ``GET /metrics``; with a
ticket or session ``GET /whoami``, ``GET /notes``, ``POST /notes`` (JSON, or sealed as
KRB-PRIV, RFC 4120 §5.7); for group ``admins`` ``GET /admin/stats``. Tickets are checked
by :mod:`service_lib` (RFC 4120 §3.2.3).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException

from orthrus.errors import ConfigError
from orthrus_io.events import fan_out
from orthrus_io.trace import TraceSink
from service_demo.models import NoteStore
from service_demo.openapi import register_openapi
from service_demo.settings import DemoSettings
from service_demo.views import json_error, make_blueprint
from service_lib import TicketAuth, Verifier, register_ops_routes, service_events

__all__ = ["DemoSettings", "create_app"]

MAX_BODY = 256 * 1024

log = logging.getLogger("service_demo")


def create_app(settings: DemoSettings, verifier: Verifier | None = None) -> Flask:
    """The demo app for ``settings``; ``verifier`` replaces the one built from them (tests)."""
    if verifier is None:
        events = service_events(settings.audit_log_path)
        if settings.trace:
            trace = TraceSink(Path(settings.trace), "notes", settings.trace_labels())
            events = fan_out([events, trace])
        verifier = Verifier.from_settings(settings.verifier_settings(), events=events)
    if settings.realm and settings.realm not in {
        p.realm for p in verifier.keytab.snapshot().principals
    }:
        raise ConfigError(f"the keytab holds no principal of realm {settings.realm}")
    app = Flask("service_demo")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.json.sort_keys = False  # type: ignore[attr-defined]
    store = NoteStore(settings.db_path)
    store.create_schema()
    app.extensions["service_demo"] = store
    auth = TicketAuth(
        app, verifier, sessions=settings.sessions, browser_sessions=settings.browser_sessions
    )
    backend = (settings.backend_url, settings.backend_principal) if settings.backend_url else None
    app.register_blueprint(make_blueprint(auth, backend))
    register_ops_routes(app, verifier, {"notes_db": store.ping})
    register_openapi(app)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app


def _http_error(error: HTTPException) -> Any:
    name = (error.name or "Error").upper().replace(" ", "_")
    return json_error(error.code or 500, name, error.description or "")


def _unexpected(error: Exception) -> Any:
    # Logged with its traceback on the server; the client gets no detail.
    log.exception("unexpected error")
    return json_error(500, "INTERNAL_ERROR", "the service failed; see its log")
