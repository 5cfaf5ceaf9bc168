"""Strict unpadded base64url (RFC 4648 §5), as JOSE uses it (RFC 7515 §2)."""

from __future__ import annotations

import base64
import binascii

from orthrus.errors import MalformedMessage

__all__ = ["b64u_decode", "b64u_encode"]


def b64u_encode(data: bytes) -> str:
    """Encode without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Decode unpadded base64url; any other character or a bad length is malformed.

    Only the canonical text is accepted (no ``+``, ``/`` or ``=``, zero trailing bits), so
    each byte string has exactly one encoding.
    """
    try:
        raw = text.encode("ascii")
        data = base64.b64decode(raw + b"=" * (-len(raw) % 4), altchars=b"-_", validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError) as exc:
        raise MalformedMessage("not valid unpadded base64url") from exc
    if b64u_encode(data) != text:
        raise MalformedMessage("not valid unpadded base64url (not in canonical form)")
    return data
