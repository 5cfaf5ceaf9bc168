"""The HTTP edge of the verifier: names on the wire, and errors turned into responses.

Requests carry ``Authorization: Ticket <AP-REQ>`` (RFC 9110 §11.6.2; the scheme is
:mod:`orthrus.httpauth`'s). Refusals are answered once, here, for every framework:

- 401 with ``WWW-Authenticate: Ticket realm="R"`` for a missing, expired, replayed, forged
  or otherwise refused credential (RFC 9110 §15.5.2);
- 400 for a header or token that does not parse (no challenge: the client is broken);
- 403 when the client is known but lacks a group (RFC 9110 §15.5.4);
- 503 when the replay cache cannot be reached (the request is not accepted unchecked).

The body is always JSON ``{"error": {"code", "name", "message"}}`` with the Kerberos error's
number and name (RFC 4120 §7.5.9), never a traceback; ``Cache-Control: no-store``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from orthrus.errors import MalformedMessage, ProtocolError
from orthrus.httpauth import (
    REPLY_HEADER,
    SCHEME,
    SESSION_HEADER,
    SESSION_PROOF_HEADER,
    challenge,
    parse_authorization,
)
from orthrus_io.errors import UNAVAILABLE, Unavailable
from service_lib.identity import Identity

__all__ = [
    "ENVIRON_IDENTITY",
    "PRIV_CONTENT_TYPE",
    "REPLY_HEADER",
    "SESSION_COOKIE",
    "SESSION_HEADER",
    "SESSION_PROOF_HEADER",
    "ErrorResponse",
    "error_response",
    "forbidden",
    "missing_factors",
    "no_credentials",
    "reply_header_value",
    "request_target",
    "ticket_token",
    "unavailable_response",
]

#: Content type of a body that is one KRB-PRIV message (:mod:`orthrus.priv`).
PRIV_CONTENT_TYPE = "application/orthrus-priv"
#: Cookie carrying a session token for browsers (HTTPS only, when the service enables it).
SESSION_COOKIE = "orthrus_session"
#: Where the WSGI middleware puts the :class:`Identity` in the environ.
ENVIRON_IDENTITY = "orthrus.identity"

_FORBIDDEN = "KDC_ERR_POLICY"


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """Status, headers and JSON body of a refusal."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def status_line(self) -> str:
        reasons = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 503: "Unavailable"}
        return f"{self.status} {reasons.get(self.status, 'Error')}"


def status_for(error: ProtocolError) -> int:
    """400 for what does not parse, 403 for a missing group, 401 for any other refusal."""
    if isinstance(error, MalformedMessage):
        return 400
    if error.name == _FORBIDDEN:
        return 403
    return 401


def error_response(error: ProtocolError, realm: str) -> ErrorResponse:
    """The response for ``error``: its status, a challenge on 401, a JSON body."""
    status = status_for(error)
    headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
    if status == 401:
        headers.append(("WWW-Authenticate", challenge(realm)))
    return ErrorResponse(status, headers, _json(error.to_json()))


def unavailable_response(error: Unavailable) -> ErrorResponse:
    """503 when a back end the check needs (the replay cache in Redis) cannot be reached:
    the request is refused, never accepted unchecked; the client may retry."""
    body = {"error": {"code": 503, "name": UNAVAILABLE, "message": str(error)}}
    headers = [
        ("Content-Type", "application/json"),
        ("Cache-Control", "no-store"),
        ("Retry-After", "1"),
    ]
    return ErrorResponse(503, headers, _json(body))


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def no_credentials(header: str | None, realm: str) -> ProtocolError:
    """The error for a request without a usable ``Authorization: Ticket`` header."""
    if header:
        scheme = header.strip().partition(" ")[0][:32]
        return ProtocolError(
            "KRB_AP_ERR_MSG_TYPE",
            f"the Authorization header uses the {scheme!r} scheme; this service takes "
            f"'{SCHEME}' (a service ticket for realm {realm})",
        )
    return ProtocolError(
        "KRB_ERR_GENERIC",
        f"authentication required: send 'Authorization: {SCHEME} <AP-REQ>' with a service "
        f"ticket of realm {realm} (orthrus kinit, then orthrus fetch)",
    )


def forbidden(identity: Identity, groups: Iterable[str]) -> ProtocolError:
    """The 403 error for a client outside ``groups``."""
    missing = sorted(set(groups) - set(identity.groups))
    return ProtocolError(
        _FORBIDDEN,
        f"{identity.principal} is not in group(s) {', '.join(missing)}; ask an administrator "
        "to add you, then get a new ticket (orthrus kinit)",
        {"missing_groups": missing},
    )


def missing_factors(identity: Identity, factors: Iterable[str]) -> ProtocolError:
    """The 403 error for a client whose ticket lacks login ``factors`` (``otp``): the data's
    ``missing_factors`` names them."""
    missing = sorted(set(factors) - set(identity.auth_factors))
    return ProtocolError(
        _FORBIDDEN,
        f"this page needs a login with {', '.join(missing)}: {identity.principal}'s ticket "
        "was obtained without it; log in again with your one-time code (orthrus kinit), "
        "then retry",
        {"missing_factors": missing},
    )


def ticket_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Ticket`` header value; None for none or another
    scheme; ``MalformedMessage`` for ``Ticket`` without a token."""
    return parse_authorization(authorization)


def request_target(path: str, query: str = "") -> str:
    """What :func:`orthrus.httpauth.http_binding` binds: the percent-decoded path as the
    server sees it (script root included), then ``?`` and the raw query if there is one."""
    return f"{path}?{query}" if query else path


def reply_header_value(token: str) -> str:
    """The ``Authentication-Info`` value for an AP-REP token (RFC 7615)."""
    return f"{SCHEME} {token}"
