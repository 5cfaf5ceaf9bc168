"""The demo service's OpenAPI 3.1 description, served at ``GET /openapi.json``.

Every route but the public ones needs ``Authorization: Ticket <AP-REQ>`` (docs/http.md) or
an ``Orthrus-Session`` token; refusals are the JSON error of :mod:`service_lib.http`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response

from orthrus.codec import encode
from orthrus.priv import KrbPriv
from orthrus_io.openapi import json_body, json_response, message_schemas, openapi_document

__all__ = ["demo_openapi", "register_openapi"]

_NOTE_IN = {
    "type": "object",
    "required": ["text"],
    "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 4000}},
    "additionalProperties": False,
}
_ANY: dict[str, Any] = {"type": "object"}
_REFUSED = {
    "4XX": json_response(
        "refused: 400 malformed, 401 (with WWW-Authenticate: Ticket) no or bad ticket, "
        "403 missing group, 413 body too large"
    ),
    "503": json_response("the replay cache is unreachable"),
}
_AUTH = [{"ticket": []}, {"session": [], "session_proof": []}]


def _get(summary: str, secured: bool = True) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {"200": json_response("the document", _ANY), **_REFUSED},
    }
    if secured:
        operation["security"] = _AUTH
    return {"get": operation}


def demo_openapi() -> dict[str, Any]:
    """The description of the demo's routes."""
    (priv,), components = message_schemas([KrbPriv])
    notes = _get("the caller's notes")
    notes["post"] = {
        "summary": "add a note (JSON, or sealed as KRB-PRIV under the authenticator's subkey)",
        "security": _AUTH,
        "requestBody": {
            "required": True,
            "content": {
                **json_body(_NOTE_IN)["content"],
                **json_body(priv, "application/orthrus-priv")["content"],
            },
        },
        "responses": {"201": json_response("the note", _ANY), **_REFUSED},
    }
    paths = {
        "/livez": _get("the process runs", secured=False),
        "/readyz": _get("keytab, replay cache and notes database answer", secured=False),
        "/whoami": _get(
            "the authenticated principal, its groups, its login factors, the service that "
            "delegated it (if one did) and ticket times"
        ),
        "/whoami/otp": _get("the same, only for a login with a one-time code (else 403)"),
        "/backend/whoami": _get(
            "the back end's /whoami, called in the user's name (constrained delegation)"
        ),
        "/notes": notes,
        "/admin/stats": _get("counts of notes and users (group admins)"),
        "/openapi.json": _get("this description", secured=False),
    }
    document = openapi_document(
        "Orthrus service_demo", "Per-user notes behind Orthrus tickets", paths, components
    )
    document["components"]["securitySchemes"] = {
        "ticket": {"type": "http", "scheme": "Ticket", "description": "an AP-REQ (docs/http.md)"},
        "session": {
            "type": "apiKey",
            "in": "header",
            "name": "Orthrus-Session",
            "description": "a session token, handed out with the answer to a ticket request "
            "sent with 'Prefer: orthrus-session' (docs/http.md §4)",
        },
        "session_proof": {
            "type": "apiKey",
            "in": "header",
            "name": "Orthrus-Session-Proof",
            "description": "a proof of the session key for this request (docs/http.md §4)",
        },
    }
    return document


def register_openapi(app: Flask) -> None:
    """Serve :func:`demo_openapi` at ``GET /openapi.json``."""
    document = encode(demo_openapi())

    @app.get("/openapi.json")
    def openapi_json() -> Response:
        return Response(document, mimetype="application/json")
