"""The audit line of every administrative action, local (``orthrus-kdc``, naming the OS
user) or remote (the admin API, naming the admin principal): one writer for both."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from kdc.config import KDCSettings
from orthrus_io.audit import AuditSink, open_audit_log
from orthrus_io.events import ExchangeEvent

__all__ = ["AdminAction", "audit_admin"]


@dataclass(frozen=True, slots=True)
class AdminAction:
    """Who did (or was refused) what, on which principal, from where."""

    admin: str
    action: str
    target: object = None
    error: tuple[str, str] | None = None
    client_address: str | None = None
    request_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def audit_admin(settings: KDCSettings, done: AdminAction) -> None:
    """Append the action's line to the realm's audit log (nothing if the log is off)."""
    path = settings.audit_log_path
    if path is None:
        return
    with open_audit_log(path) as stream:
        AuditSink(stream, "kdc-admin").emit(
            ExchangeEvent(
                exchange="ADMIN",
                ok=done.error is None,
                time=time.time(),
                action=done.action,
                client=str(done.target) if done.target is not None else None,
                realm=settings.realm,
                error=done.error[0] if done.error else None,
                message=done.error[1] if done.error else None,
                client_address=done.client_address,
                request_id=done.request_id,
                transport="http" if done.client_address is not None else None,
                extra={"admin": done.admin, **done.extra},
            )
        )
