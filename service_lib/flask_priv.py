"""Sealed request and response bodies in a Flask view: KRB-PRIV over HTTP (RFC 4120 §5.7).

A client that wants its request body and the reply kept secret and intact end to end puts a
fresh subkey and initial sequence number in its authenticator, and sends the body as one
KRB-PRIV message (:mod:`orthrus.priv`) with ``Content-Type: application/orthrus-priv``. In
the view::

    @app.post("/notes")
    @auth.required
    def post_note():
        if is_sealed_request():
            note = json.loads(read_sealed_request())
            ...
            return sealed_response(json.dumps(result).encode(), 201)

The reply is sealed under the same subkey, direction ``acceptor``, with the client's initial
sequence number (docs/http.md). A sealed body needs an AP exchange (not a session token).
"""

from __future__ import annotations

from flask import Response, current_app, g, request

from orthrus.errors import APError, MalformedMessage
from orthrus.priv import MAX_USER_DATA, PrivChannel, decode_priv, encode_priv
from service_lib.flask_ext import current_identity
from service_lib.http import PRIV_CONTENT_TYPE
from service_lib.verifier import Verifier

__all__ = ["MAX_SEALED_BODY", "is_sealed_request", "read_sealed_request", "sealed_response"]

#: The largest sealed body read (one KRB-PRIV message of up to ``MAX_USER_DATA`` bytes).
MAX_SEALED_BODY = 4 * MAX_USER_DATA
_G_CHANNEL = "_orthrus_priv_channel"


def _verifier() -> Verifier:
    verifier: Verifier = current_app.extensions["orthrus"].verifier
    return verifier


def is_sealed_request() -> bool:
    """True if the request body is a KRB-PRIV message."""
    return request.mimetype == PRIV_CONTENT_TYPE


def _channel() -> PrivChannel:
    channel: PrivChannel | None = g.get(_G_CHANNEL)
    if channel is not None:
        return channel
    identity = current_identity()
    if identity is None or identity.subkey is None:
        raise APError(
            "KRB_AP_ERR_NOKEY",
            "a sealed body needs an AP-REQ whose authenticator carries a subkey "
            "(a session token is not enough)",
        )
    if identity.seq is None:
        raise APError(
            "KRB_AP_ERR_BADSEQ",
            "a sealed body needs an authenticator with an initial sequence number",
        )
    channel = PrivChannel.acceptor(
        identity.subkey, identity.seq, max_skew=_verifier().settings.max_skew
    )
    setattr(g, _G_CHANNEL, channel)
    return channel


def read_sealed_request() -> bytes:
    """Open the request's KRB-PRIV body; raise the check that fails (``MODIFIED``, ...)."""
    if not is_sealed_request():
        raise MalformedMessage(f"the body is not {PRIV_CONTENT_TYPE}")
    if (request.content_length or 0) > MAX_SEALED_BODY:
        raise MalformedMessage(f"a sealed body is at most {MAX_SEALED_BODY} bytes", too_long=True)
    data = request.stream.read(MAX_SEALED_BODY + 1)
    if len(data) > MAX_SEALED_BODY:
        raise MalformedMessage(f"a sealed body is at most {MAX_SEALED_BODY} bytes", too_long=True)
    channel = _channel()
    return channel.open(decode_priv(data), _verifier().clock())


def sealed_response(data: bytes, status: int = 200) -> Response:
    """A response whose body is ``data`` sealed as the service's next KRB-PRIV message."""
    verifier = _verifier()
    message = _channel().seal(data, verifier.clock(), verifier.entropy)
    response = Response(encode_priv(message), status, content_type=PRIV_CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response
