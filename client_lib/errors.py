"""The errors a caller of the client library catches, each with its Kerberos code.

They extend Orthrus's one tree (:mod:`orthrus.errors`), so ``except OrthrusError`` still
catches everything and ``except KDCError`` still catches a bad password::

    OrthrusError
    ├── ConfigError ── NoCredentials       no cache, or no valid TGT in it: log in first
    ├── TransportError ── KDCUnreachable   the KDC did not answer: check ORTHRUS_KDC_URL
    └── ProtocolError (.name, .code: RFC 4120 §7.5.9)
        ├── KDCError ── BadPassword        KDC_ERR_PREAUTH_FAILED (24)
        └── ServiceRefused                 the service's code, e.g. KRB_AP_ERR_SKEW (37)

The two failures that never reach the wire have no RFC 4120 code; they carry MIT
Kerberos's library codes, which is what ``klist``/``kinit`` users search for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from orthrus.errors import ConfigError, KDCError, ProtocolError, TransportError

__all__ = ["BadPassword", "KDCUnreachable", "NoCredentials", "ServiceRefused"]


class BadPassword(KDCError):
    """The KDC refused the password (or the keytab's key): ``KDC_ERR_PREAUTH_FAILED``."""

    def __init__(self, message: str, data: Mapping[str, Any] | None = None) -> None:
        super().__init__("KDC_ERR_PREAUTH_FAILED", message, data)


class KDCUnreachable(TransportError):
    """No answer from the KDC (MIT's ``KRB5_KDC_UNREACH``)."""

    name: ClassVar[str] = "KRB5_KDC_UNREACH"
    code: ClassVar[int] = -1765328228


class NoCredentials(ConfigError):
    """No credentials cache, or no valid ticket-granting ticket in it (MIT's
    ``KRB5_FCC_NOFILE``): log in first."""

    name: ClassVar[str] = "KRB5_FCC_NOFILE"
    code: ClassVar[int] = -1765328189


class ServiceRefused(ProtocolError):
    """A service answered our ticket with a Kerberos error (401 or 403, RFC 4120 §3.2.3);
    ``name``/``code`` are the service's. Raised by :func:`client_lib.raise_for_refusal`."""
