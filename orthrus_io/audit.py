"""The audit log: one JSON line per AS, TGS, AP, password change and admin action.

Lines hold the time (ISO-8601 UTC), the exchange or action, the principal, the service, the
client address, the transport (http, udp, tcp), the result, the error name and the request
id — never a password, key or ticket. Written with structlog's JSON renderer, appended with
one ``write`` per line so that the processes of one host can share the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TextIO

import structlog

from orthrus_io.events import ExchangeEvent

__all__ = ["AuditSink", "open_audit_log"]


class AuditSink:
    """Writes events as JSON lines through a structlog logger (no global configuration)."""

    def __init__(self, stream: TextIO, component: str) -> None:
        self._log = structlog.wrap_logger(
            structlog.WriteLogger(stream),
            processors=[
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.JSONRenderer(sort_keys=True),
            ],
        )
        self._component = component

    def emit(self, event: ExchangeEvent) -> None:
        fields: dict[str, Any] = {
            "component": self._component,
            "principal": event.client,
            "service": event.server,
            "client_address": event.client_address,
            "result": "ok" if event.ok else "refused",
            "error": event.error,
            "request_id": event.request_id,
            "transport": event.transport,
            "realm": event.realm,
            "duration_ms": round(event.duration * 1000, 3),
        }
        if event.action:
            fields["action"] = event.action
        fields.update(event.extra)
        self._log.info(event.exchange.lower(), **{k: v for k, v in fields.items() if v is not None})


def open_audit_log(path: Path) -> TextIO:
    """Open ``path`` for appending (mode 0600), line-buffered."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return os.fdopen(fd, "a", buffering=1, encoding="utf-8")
