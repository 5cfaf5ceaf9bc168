"""Orthrus service side: verify ``Authorization: Ticket`` requests (RFC 4120 §3.2.3).

- :class:`Verifier` — one call, :meth:`Verifier.verify`, from a token to an
  :class:`Identity`; :meth:`Verifier.reply_token` for mutual authentication (§3.2.4);
- :class:`KeytabSource` — the keytab, reloaded when it changes (key rotation);
- :class:`SQLiteReplayCache` / :class:`MemoryReplayCache` — replay caches;
- :class:`TicketAuth` — the Flask extension (``@auth.required``); identity on
  ``flask.g.orthrus_identity``; :mod:`service_lib.flask_priv` for sealed bodies;
- :class:`TicketAuthMiddleware` — plain WSGI middleware (``REMOTE_USER``);
- :func:`delegated_session` — call a back end as the client (constrained delegation,
  :mod:`service_lib.delegation`);
- :func:`service_events` — audit log and Prometheus metrics for ``Verifier(events=)``;
  :func:`register_ops_routes` — ``/readyz`` and ``/metrics`` for a Flask app.
"""

from service_lib.delegation import (
    DelegatedAuth,
    Delegator,
    delegated_session,
    forwarded_session,
)
from service_lib.flask_ext import G_IDENTITY, TicketAuth, current_identity, current_verifier
from service_lib.flask_priv import is_sealed_request, read_sealed_request, sealed_response
from service_lib.http import (
    ENVIRON_IDENTITY,
    PRIV_CONTENT_TYPE,
    SESSION_COOKIE,
    SESSION_HEADER,
    SESSION_PROOF_HEADER,
)
from service_lib.identity import Identity
from service_lib.keytab_source import KeySnapshot, KeytabSource
from service_lib.ops import readiness_problems, register_ops_routes, service_events
from service_lib.replay import MemoryReplayCache, SQLiteReplayCache, open_replay_cache
from service_lib.sessions import SessionTokens
from service_lib.settings import VerifierSettings, load_verifier_settings
from service_lib.verifier import Verifier
from service_lib.wsgi import TicketAuthMiddleware

__all__ = [
    "ENVIRON_IDENTITY",
    "G_IDENTITY",
    "PRIV_CONTENT_TYPE",
    "SESSION_COOKIE",
    "SESSION_HEADER",
    "SESSION_PROOF_HEADER",
    "DelegatedAuth",
    "Delegator",
    "Identity",
    "KeySnapshot",
    "KeytabSource",
    "MemoryReplayCache",
    "SQLiteReplayCache",
    "SessionTokens",
    "TicketAuth",
    "TicketAuthMiddleware",
    "Verifier",
    "VerifierSettings",
    "current_identity",
    "current_verifier",
    "delegated_session",
    "forwarded_session",
    "is_sealed_request",
    "load_verifier_settings",
    "open_replay_cache",
    "read_sealed_request",
    "readiness_problems",
    "register_ops_routes",
    "sealed_response",
    "service_events",
]
