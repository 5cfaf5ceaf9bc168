"""The demo's HTTP API; every route but ``/livez`` needs an Orthrus ticket (or session)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import msgspec
from flask import Blueprint, Response, current_app, g, jsonify, request

from orthrus.errors import MalformedMessage, TransportError
from service_demo.models import NoteStore
from service_lib import (
    G_IDENTITY,
    Identity,
    TicketAuth,
    delegated_session,
    forwarded_session,
    is_sealed_request,
    read_sealed_request,
    sealed_response,
)

__all__ = ["MAX_NOTE_LENGTH", "make_blueprint"]

MAX_NOTE_LENGTH = 4000


class NoteIn(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NOTE_LENGTH)]


def _store() -> NoteStore:
    store: NoteStore = current_app.extensions["service_demo"]
    return store


def _identity() -> Identity:
    identity: Identity = getattr(g, G_IDENTITY)
    return identity


def _note_in(data: bytes) -> NoteIn:
    try:
        return msgspec.json.decode(data, type=NoteIn)
    except msgspec.ValidationError as exc:
        raise MalformedMessage(f'a note is JSON {{"text": ...}}: {exc}') from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        # msgspec raises UnicodeDecodeError for invalid UTF-8 in a string: a 400, not a 500.
        raise MalformedMessage('a note is JSON {"text": ...}') from None


def make_blueprint(auth: TicketAuth, backend: tuple[str, str] | None = None) -> Blueprint:
    """The routes, protected by ``auth``; ``backend`` is the URL and principal of the
    service ``/backend/whoami`` calls as the user."""
    api = Blueprint("notes", __name__)

    @api.get("/livez")
    def livez() -> Any:
        return jsonify(status="ok")

    @api.get("/whoami")
    @auth.required
    def whoami() -> Any:
        return _whoami()

    @api.get("/whoami/otp")
    @auth.required(factors=["otp"])
    def whoami_with_otp() -> Any:
        # Only for a login that gave a one-time code (RFC 6238): 403 missing_factors else.
        return _whoami()

    @api.get("/backend/whoami")
    @auth.required
    def backend_whoami() -> Any:
        """The back end's ``/whoami``, called as the user: with the TGT the user forwarded
        if there is one (it names the user alone), else by constrained delegation (it names
        the user, and this service as ``delegated_by``)."""
        if backend is None:
            return json_error(404, "NO_BACKEND", "this service is started without --backend-url")
        url, principal = backend
        identity = _identity()
        forwarded = identity.forwarded_tgt is not None
        try:
            session = (forwarded_session if forwarded else delegated_session)(identity, principal)
            with session:
                reply = session.get(f"{url.rstrip('/')}/whoami")
            answer = reply.json()
        except (httpx.HTTPError, ValueError, TransportError) as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return json_error(502, "BAD_GATEWAY", f"the back end {principal} failed: {detail}")
        return jsonify(
            front=identity.name,
            delegation="forwarded-tgt" if forwarded else "s4u2proxy",
            backend_status=reply.status_code,
            backend=answer,
        ), (200 if reply.status_code == 200 else 502)

    @api.get("/notes")
    @auth.required
    def list_notes() -> Any:
        notes = _store().list(_identity().name)
        return jsonify(notes=[note.to_json() for note in notes])

    @api.post("/notes")
    @auth.required
    def add_note() -> Any:
        sealed = is_sealed_request()
        if sealed:
            data = read_sealed_request()
        elif request.mimetype == "application/json":
            data = request.get_data(cache=False)
        else:
            raise MalformedMessage("send the note as application/json or application/orthrus-priv")
        note = _store().add(_identity().name, _note_in(data).text)
        if sealed:
            return sealed_response(json.dumps(note.to_json()).encode(), 201)
        return jsonify(note.to_json()), 201

    @api.get("/admin/stats")
    @auth.required(groups=["admins"])
    def admin_stats() -> Any:
        return jsonify(_store().stats())

    return api


def _whoami() -> Response:
    identity = _identity()
    return jsonify(
        principal=identity.name,
        groups=list(identity.groups),
        auth_factors=list(identity.auth_factors),
        delegated_by=str(identity.delegated_by) if identity.delegated_by else None,
        service=str(identity.service),
        auth_method=identity.auth_method,
        ticket={
            "authtime": identity.authtime,
            "starttime": identity.starttime,
            "endtime": identity.endtime,
        },
    )


def json_error(status: int, name: str, message: str) -> Response:
    """An error that is not a Kerberos one (404, 405, 413, 500), in the same JSON shape."""
    body = {"error": {"code": status, "name": name, "message": message}}
    return Response(json.dumps(body), status, content_type="application/json")
