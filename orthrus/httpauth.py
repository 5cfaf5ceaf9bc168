"""The HTTP authentication scheme ``Ticket`` (RFC 9110 §11, in the manner of RFC 4559).

A client sends ``Authorization: Ticket <token>`` where the token is the base64url of an
AP-REQ's JSON; a service that wants one answers 401 with ``WWW-Authenticate: Ticket
realm="R"``; with mutual authentication the service returns its AP-REP as
``Authentication-Info: Ticket <token>`` (RFC 7615). The authenticator's checksum may bind
the request's method and path (:func:`http_binding`). A client that will come back asks for
a session with the request that carries its AP-REQ, ``Prefer: orthrus-session`` (RFC 7240);
a service that hands one out answers ``Orthrus-Session: <token>`` and
``Preference-Applied: orthrus-session``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import TypeVar

from orthrus.b64 import b64u_decode, b64u_encode
from orthrus.codec import decode, encode
from orthrus.errors import MalformedMessage
from orthrus.messages import APRep, APReq

T = TypeVar("T")

__all__ = [
    "MAX_TOKEN_LENGTH",
    "PREFERENCE_APPLIED_HEADER",
    "PREFER_HEADER",
    "REPLY_HEADER",
    "SCHEME",
    "SESSION_HEADER",
    "SESSION_PREFERENCE",
    "SESSION_PROOF_HEADER",
    "asks_for_session",
    "challenge",
    "decode_ap_rep",
    "decode_ap_req",
    "encode_ap_rep",
    "encode_ap_req",
    "http_binding",
    "parse_authorization",
    "prefer_session",
]

SCHEME = "Ticket"
REPLY_HEADER = "Authentication-Info"
#: Response header handing a session token to a client, and request header returning it
#: (:mod:`orthrus.session_token`), with a proof of the session key in the second one
#: (:mod:`orthrus.session_proof`).
SESSION_HEADER = "Orthrus-Session"
SESSION_PROOF_HEADER = "Orthrus-Session-Proof"
#: The request header (RFC 7240 §2) by which a client asks for a session, the preference it
#: names, and the response header saying it was applied (RFC 7240 §3).
PREFER_HEADER = "Prefer"
SESSION_PREFERENCE = "orthrus-session"
PREFERENCE_APPLIED_HEADER = "Preference-Applied"
MAX_TOKEN_LENGTH = 32 * 1024

_QUOTABLE = re.compile(r"[A-Z0-9.-]{1,128}\Z")


def challenge(realm: str) -> str:
    """The ``WWW-Authenticate`` value of a 401."""
    if not _QUOTABLE.match(realm):
        raise ValueError(f"bad realm {realm!r}")
    return f'{SCHEME} realm="{realm}"'


def encode_ap_req(ap_req: APReq) -> str:
    """The token of an ``Authorization: Ticket`` header."""
    return b64u_encode(encode(ap_req))


def encode_ap_rep(ap_rep: APRep) -> str:
    """The token of an ``Authentication-Info: Ticket`` header."""
    return b64u_encode(encode(ap_rep))


def _decode_token(token: str, type_: type[T]) -> T:
    if len(token) > MAX_TOKEN_LENGTH:
        raise MalformedMessage(f"token longer than {MAX_TOKEN_LENGTH} characters", too_long=True)
    return decode(b64u_decode(token), type_)


def decode_ap_req(token: str) -> APReq:
    """Decode an AP-REQ token (``MalformedMessage`` for bad base64url or JSON)."""
    return _decode_token(token, APReq)


def decode_ap_rep(token: str) -> APRep:
    """Decode an AP-REP token."""
    return _decode_token(token, APRep)


def parse_authorization(header: str | None, scheme: str = SCHEME) -> str | None:
    """The token of an ``Authorization: <scheme> <token>`` header (``Ticket`` unless told),
    or None for no header or another scheme; MalformedMessage for the scheme alone."""
    if not header:
        return None
    sent, _, token = header.strip().partition(" ")
    if sent.lower() != scheme.lower():
        return None
    token = token.strip()
    if not token:
        raise MalformedMessage(f"the Authorization header has the {scheme} scheme but no token")
    return token


@lru_cache(maxsize=1024)
def http_binding(method: str, path: str) -> bytes:
    """The authenticator checksum that binds a request to its method and path (the same
    few are asked for again and again: each is hashed once)."""
    return hashlib.sha256(f"orthrus-http|{method.upper()}|{path}".encode()).digest()


def asks_for_session(prefer: Iterable[str]) -> bool:
    """True if the ``Prefer`` field values ``prefer`` name :data:`SESSION_PREFERENCE`
    (RFC 7240 §2: comma-separated preferences, each a token with an optional ``=value`` and
    ``;parameters``; the token is case-insensitive)."""
    for value in prefer:
        for preference in value.split(","):
            token = preference.partition(";")[0].partition("=")[0]
            if token.strip().lower() == SESSION_PREFERENCE:
                return True
    return False


def prefer_session(prefer: str | None) -> str:
    """The ``Prefer`` value asking for a session, keeping the preferences ``prefer`` names."""
    if prefer and asks_for_session([prefer]):
        return prefer
    return f"{prefer}, {SESSION_PREFERENCE}" if prefer else SESSION_PREFERENCE
