"""The demo's HTTP API; every route but ``/livez`` needs an Orthrus ticket (or session)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import msgspec
from flask import Blueprint, Response, current_app, g, jsonify, request

from orthrus.errors import MalformedMessage
from service_demo.models import NoteStore
from service_lib import (
    G_IDENTITY,
    Identity,
    TicketAuth,
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


def make_blueprint(auth: TicketAuth) -> Blueprint:
    """The routes, protected by ``auth``."""
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
