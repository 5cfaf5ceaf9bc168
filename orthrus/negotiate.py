"""The HTTP authentication scheme ``Negotiate`` (RFC 4559 §4): SPNEGO tokens in base64.

A client sends ``Authorization: Negotiate <base64 of the initiator's token>`` (RFC 4178's
NegTokenInit, or a bare Kerberos token, :mod:`orthrus.kerberos.gss`); a service wanting one
answers 401 with ``WWW-Authenticate: Negotiate``, and on success sends its own token back
as ``WWW-Authenticate: Negotiate <base64>`` with the response (RFC 4559 §5). The base64 is
RFC 4648 §4's, padded (not base64url as the ``Ticket`` scheme's tokens are).
"""

from __future__ import annotations

import base64
import binascii

from orthrus.errors import MalformedMessage
from orthrus.httpauth import MAX_TOKEN_LENGTH, parse_authorization

__all__ = ["NEGOTIATE", "negotiate_header", "parse_negotiate"]

NEGOTIATE = "Negotiate"


def parse_negotiate(header: str | None) -> bytes | None:
    """The token of an ``Authorization: Negotiate <base64>`` header; None for no header or
    another scheme; MalformedMessage for bad or overlong base64."""
    text = parse_authorization(header, NEGOTIATE)
    if text is None:
        return None
    if len(text) > MAX_TOKEN_LENGTH:
        raise MalformedMessage(f"token longer than {MAX_TOKEN_LENGTH} characters", too_long=True)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedMessage("the Negotiate token is not base64 (RFC 4559 §4)") from None


def negotiate_header(token: bytes | None = None) -> str:
    """The value of ``WWW-Authenticate`` (and of ``Authorization``): ``Negotiate`` alone
    (a challenge) or with ``token`` in base64."""
    if token is None:
        return NEGOTIATE
    return f"{NEGOTIATE} {base64.b64encode(token).decode('ascii')}"
