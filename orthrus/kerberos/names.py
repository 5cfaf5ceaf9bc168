"""Between the DER models' names, flags and options and the core's (RFC 4120 §5.2.2, §5.2.8,
§5.4.1): the core compares :class:`~orthrus.principal.Principal` values, which ignore the
name-type as RFC 4120 §6.2 asks, and flag and option names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from orthrus.errors import KDCError, MalformedMessage
from orthrus.messages import KDCOption, TicketFlag
from orthrus.principal import Principal, named

if TYPE_CHECKING:
    from orthrus.der import PrincipalName

__all__ = [
    "KDC_OPTION_BITS",
    "NT_PRINCIPAL",
    "NT_SRV_INST",
    "TICKET_FLAG_BITS",
    "default_salt",
    "flags_from_bits",
    "flags_to_bits",
    "kdc_options",
    "principal_name",
    "principal_of",
]

#: Name types of RFC 4120 §6.2 that Orthrus writes.
NT_PRINCIPAL = 1
NT_SRV_INST = 2

#: Ticket flags (RFC 4120 §5.3) the core knows, by bit number (bit 0 is the top bit).
TICKET_FLAG_BITS: Mapping[TicketFlag, int] = {
    "forwardable": 1,
    "forwarded": 2,
    "proxiable": 3,
    "renewable": 8,
    "initial": 9,
    "pre-authent": 10,
    "transited-policy-checked": 12,
    "ok-as-delegate": 13,
}
#: KDC options (RFC 4120 §5.4.1) the core acts on, by bit number.
KDC_OPTION_BITS: Mapping[KDCOption, int] = {
    "forwardable": 1,
    "forwarded": 2,
    "proxiable": 3,
    "renewable": 8,
    "canonicalize": 15,
    "renew": 30,
}
#: Options asking for what Orthrus does not do (proxy tickets with addresses, postdating,
#: constrained delegation on this wire, user-to-user, validation): KDC_ERR_BADOPTION
#: rather than a silent no.
UNSUPPORTED_OPTION_BITS: Mapping[str, int] = {
    "proxy": 4,
    "allow-postdate": 5,
    "postdated": 6,
    "cname-in-addl-tkt": 14,
    "enc-tkt-in-skey": 28,
    "validate": 31,
}


def _bit(number: int) -> int:
    return 1 << (31 - number)


def principal_of(name: PrincipalName | None, realm: str) -> Principal:
    """The principal a DER name and realm designate (``MalformedMessage`` if none or bad)."""
    if name is None:
        raise MalformedMessage("the message names no principal where one is required")
    return named(name.components, realm)


def default_salt(principal: Principal) -> bytes:
    """RFC 4120 §4's default salt: the realm and every name component, concatenated
    (``EXAMPLE.TESTalice``; ``EXAMPLE.TESThostwww.example.test`` for ``host/www.example.test``)."""
    return (principal.realm + "".join(principal.components)).encode("utf-8")


def principal_name(principal: Principal) -> PrincipalName:
    """The DER name of ``principal``: NT-SRV-INST for services (two components or more)."""
    from orthrus.der import PrincipalName  # the DER codec loads only where DER is spoken

    kind = NT_SRV_INST if len(principal.components) > 1 else NT_PRINCIPAL
    return PrincipalName(kind, principal.components)


def flags_to_bits(flags: Iterable[str]) -> int:
    """TicketFlags as the 32-bit KerberosFlags integer."""
    wanted = set(flags)
    return sum(_bit(n) for f, n in TICKET_FLAG_BITS.items() if f in wanted)


def flags_from_bits(bits: int) -> list[TicketFlag]:
    """The flags of ``bits`` that the core knows, sorted; the others are dropped."""
    return sorted(f for f, n in TICKET_FLAG_BITS.items() if bits & _bit(n))


def kdc_options(bits: int) -> list[KDCOption]:
    """The options of a KDC-REQ the core acts on; ``KDC_ERR_BADOPTION`` for those it
    cannot honour (RFC 4120 §3.1.3); the rest are ignored as RFC 4120 §5.4.1 allows."""
    refused = [name for name, n in UNSUPPORTED_OPTION_BITS.items() if bits & _bit(n)]
    if refused:
        raise KDCError(
            "KDC_ERR_BADOPTION",
            f"this KDC does not support the option(s) {', '.join(refused)}; ask without them",
        )
    return [name for name, n in KDC_OPTION_BITS.items() if bits & _bit(n)]
