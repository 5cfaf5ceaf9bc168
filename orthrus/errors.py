"""The one error tree of Orthrus, with the Kerberos error codes of RFC 4120 §7.5.9.

Every failure a peer can cause is a :class:`ProtocolError` carrying the standard code, its
name (what administrators search for), an HTTP status for the edge that translates it, and a
sentence that says what happened and what to do. Messages never contain secrets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APError",
    "ConfigError",
    "KDCError",
    "MalformedMessage",
    "OrthrusError",
    "ProtocolError",
    "TransportError",
    "error_class_for",
]

#: RFC 4120 §7.5.9 error codes used by Orthrus, by name.
ERROR_CODES: Mapping[str, int] = {
    "KDC_ERR_C_PRINCIPAL_UNKNOWN": 6,
    "KDC_ERR_S_PRINCIPAL_UNKNOWN": 7,
    "KDC_ERR_NEVER_VALID": 11,
    "KDC_ERR_POLICY": 12,
    "KDC_ERR_BADOPTION": 13,
    "KDC_ERR_ETYPE_NOSUPP": 14,
    "KDC_ERR_SUMTYPE_NOSUPP": 15,
    "KDC_ERR_CLIENT_REVOKED": 18,
    "KDC_ERR_TGT_REVOKED": 20,
    "KDC_ERR_PREAUTH_FAILED": 24,
    "KDC_ERR_PREAUTH_REQUIRED": 25,
    "KDC_ERR_MUST_USE_USER2USER": 27,
    "KRB_AP_ERR_BAD_INTEGRITY": 31,
    "KRB_AP_ERR_TKT_EXPIRED": 32,
    "KRB_AP_ERR_TKT_NYV": 33,
    "KRB_AP_ERR_REPEAT": 34,
    "KRB_AP_ERR_NOT_US": 35,
    "KRB_AP_ERR_BADMATCH": 36,
    "KRB_AP_ERR_SKEW": 37,
    "KRB_AP_ERR_MSG_TYPE": 40,
    "KRB_AP_ERR_MODIFIED": 41,
    "KRB_AP_ERR_BADORDER": 42,
    "KRB_AP_ERR_BADKEYVER": 44,
    "KRB_AP_ERR_NOKEY": 45,
    "KRB_AP_ERR_MUT_FAIL": 46,
    "KRB_AP_ERR_BADDIRECTION": 47,
    "KRB_AP_ERR_BADSEQ": 49,
    "KRB_AP_ERR_INAPP_CKSUM": 50,
    "KRB_ERR_RESPONSE_TOO_BIG": 52,
    "KRB_ERR_GENERIC": 60,
    "KRB_ERR_FIELD_TOOLONG": 61,
    "KDC_ERR_WRONG_REALM": 68,
}

#: HTTP status an edge answers with for each code; anything not listed is 400.
_HTTP_STATUS: Mapping[str, int] = {
    "KDC_ERR_C_PRINCIPAL_UNKNOWN": 404,
    "KDC_ERR_S_PRINCIPAL_UNKNOWN": 404,
    "KDC_ERR_CLIENT_REVOKED": 403,
    "KDC_ERR_POLICY": 403,
    "KDC_ERR_MUST_USE_USER2USER": 403,
    "KDC_ERR_PREAUTH_FAILED": 401,
    "KDC_ERR_PREAUTH_REQUIRED": 401,
    "KRB_ERR_FIELD_TOOLONG": 413,
}


class OrthrusError(Exception):
    """Root of every error Orthrus raises on purpose."""


class ConfigError(OrthrusError):
    """A configuration file or variable is missing or wrong; the message names the key."""


class TransportError(OrthrusError):
    """A peer could not be reached or answered something that is not Orthrus."""


class ProtocolError(OrthrusError):
    """A protocol failure with its Kerberos code (RFC 4120 §7.5.9).

    ``data`` carries public, machine-readable details (for example the salt and KDF
    parameters that come with ``KDC_ERR_PREAUTH_REQUIRED``); it never holds a secret.
    """

    def __init__(self, name: str, message: str, data: Mapping[str, Any] | None = None) -> None:
        if name not in ERROR_CODES:
            raise ValueError(f"unknown Kerberos error name {name!r}")
        super().__init__(f"{name}: {message}")
        self.name = name
        self.code = ERROR_CODES[name]
        self.message = message
        self.data: dict[str, Any] = dict(data or {})

    @property
    def http_status(self) -> int:
        """The HTTP status that carries this error at the edge (always 4xx)."""
        return _HTTP_STATUS.get(self.name, 400)

    def to_json(self) -> dict[str, Any]:
        """The error body: ``{"error": {"code", "name", "message", "data"?}}``."""
        body: dict[str, Any] = {"code": self.code, "name": self.name, "message": self.message}
        if self.data:
            body["data"] = self.data
        return {"error": body}


class KDCError(ProtocolError):
    """An error answered by the KDC (``KDC_ERR_*``)."""


class APError(ProtocolError):
    """An error in validating a ticket or authenticator (``KRB_AP_ERR_*``)."""


class MalformedMessage(ProtocolError):
    """A message that does not decode or has a field of the wrong type or size."""

    def __init__(self, message: str, *, too_long: bool = False) -> None:
        super().__init__("KRB_ERR_FIELD_TOOLONG" if too_long else "KRB_ERR_GENERIC", message)


def error_class_for(name: str) -> type[ProtocolError]:
    """The :class:`ProtocolError` subclass that carries errors named ``name``."""
    if name.startswith("KDC_ERR"):
        return KDCError
    if name.startswith("KRB_AP_ERR"):
        return APError
    return ProtocolError
