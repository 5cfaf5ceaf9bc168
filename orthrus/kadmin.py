"""The remote administration protocol (MIT's kadmind, over the JSON API): ``/v1/admin/OP``.

A request is ``POST /v1/admin/<operation>`` with an ``Authorization: Ticket`` AP-REQ for
``kadmin/admin@REALM`` (RFC 4120 §3.2) whose authenticator binds the method and path and
carries a fresh subkey and sequence number; the body is one of the requests below, sealed as
KRB-PRIV under that subkey (RFC 4120 §5.7.1), and so is the reply. Passwords and keys never
travel in clear, and a request cannot be altered or replayed. Each operation needs one ACL
letter (:mod:`orthrus.kadm5acl`) on each principal it acts on.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from orthrus.principal import Principal

__all__ = [
    "ADMIN_NAME",
    "OPERATIONS",
    "AddprincRequest",
    "AdminReply",
    "CpwRequest",
    "KtaddRequest",
    "ListprincsRequest",
    "ModprincRequest",
    "PrincipalRequest",
    "admin_service",
]

ADMIN_NAME = ("kadmin", "admin")

_STRUCT: dict[str, Any] = {"frozen": True, "forbid_unknown_fields": True}
Lifetime = Annotated[int, msgspec.Meta(ge=1, lt=2**31)]
#: As the database keeps a group name (kdc.models.GroupRow).
Group = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Groups = Annotated[list[Group], msgspec.Meta(max_length=256)]
#: Services a principal may (or may no longer) delegate to (S4U2Proxy).
Services = Annotated[list[Principal], msgspec.Meta(max_length=64)]


def admin_service(realm: str) -> Principal:
    """``kadmin/admin@REALM``, the service remote administration logs in to (as MIT's)."""
    return Principal(ADMIN_NAME, realm)


class _Secret(msgspec.Struct, **_STRUCT):
    """A request that may carry a password: kept out of ``repr()``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(principal={getattr(self, 'principal', None)!s})"


class AddprincRequest(_Secret, **_STRUCT):
    """``addprinc``: a password, or a random key when it is None."""

    principal: Principal
    password: str | None = None
    groups: Groups = []
    requires_preauth: bool = True
    allow_svr: bool = False
    max_life: Lifetime | None = None
    max_renewable_life: Lifetime | None = None


class CpwRequest(_Secret, **_STRUCT):
    """``cpw``: a new password, or a new random key when it is None."""

    principal: Principal
    password: str | None = None


class PrincipalRequest(msgspec.Struct, **_STRUCT):
    """``delprinc``, ``getprinc``, ``rotate``: the principal alone."""

    principal: Principal


class ModprincRequest(msgspec.Struct, **_STRUCT):
    """``modprinc``: what changes (None leaves it), and/or ``unlock``."""

    principal: Principal
    add_groups: Groups = []
    remove_groups: Groups = []
    requires_preauth: bool | None = None
    allow_tickets: bool | None = None
    allow_svr: bool | None = None
    max_life: Lifetime | None = None
    max_renewable_life: Lifetime | None = None
    requires_otp: bool | None = None
    allow_forwardable: bool | None = None
    ok_as_delegate: bool | None = None
    add_delegate_to: Services = []
    remove_delegate_to: Services = []
    unlock: bool = False


class ListprincsRequest(msgspec.Struct, **_STRUCT):
    """``listprincs``: no argument."""


class KtaddRequest(msgspec.Struct, **_STRUCT):
    """``ktadd``: the principals whose keys to extract, in Orthrus's or MIT's keytab format."""

    principals: Annotated[list[Principal], msgspec.Meta(min_length=1, max_length=64)]
    format: Literal["orthrus", "mit"] = "orthrus"


class AdminReply(msgspec.Struct, **_STRUCT, omit_defaults=True):
    """What an operation answers: a sentence as ``orthrus-kdc`` prints it, and its data
    (``getprinc``'s description, ``listprincs``'s names, ``cpw``/``rotate``'s kvno, or
    ``ktadd``'s keys as a keytab file of just those keys, for the client to merge)."""

    message: str = ""
    info: dict[str, Any] | None = None
    principals: list[str] | None = None
    kvno: int | None = None
    keytab: bytes | None = None

    def __repr__(self) -> str:
        return f"AdminReply(message={self.message!r})"


#: Each operation: its request type and the ACL letter it needs on each principal it names.
OPERATIONS: dict[str, tuple[type[Any], str]] = {
    "addprinc": (AddprincRequest, "a"),
    "delprinc": (PrincipalRequest, "d"),
    "modprinc": (ModprincRequest, "m"),
    "getprinc": (PrincipalRequest, "i"),
    "listprincs": (ListprincsRequest, "l"),
    "cpw": (CpwRequest, "c"),
    "rotate": (PrincipalRequest, "c"),
    "ktadd": (KtaddRequest, "e"),
}
