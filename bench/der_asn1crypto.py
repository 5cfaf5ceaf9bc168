"""RFC 4120's TGS-REQ, TGS-REP, AP-REQ and AP-REP and RFC 4178's SPNEGO tokens declared for
:mod:`asn1crypto` (its declarative classes), measured by :mod:`bench.der_codecs`.

asn1crypto parses lazily: a value is read when it is asked for, so the benchmark asks for
``.native`` (every field, as Python values), what a KDC or a service needs of a message.
"""

# asn1crypto reads its declarations from class attributes that are lists and dicts.
# ruff: noqa: RUF012

from __future__ import annotations

from typing import Any

from asn1crypto import core

_APPLICATION = 1


def _x(number: int, optional: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"explicit": number}
    if optional:
        spec["optional"] = True
    return spec


class _Strings(core.SequenceOf):
    _child_spec = core.GeneralString


class _Integers(core.SequenceOf):
    _child_spec = core.Integer


class PrincipalName(core.Sequence):
    _fields = [("name-type", core.Integer, _x(0)), ("name-string", _Strings, _x(1))]


class EncryptedData(core.Sequence):
    _fields = [
        ("etype", core.Integer, _x(0)),
        ("kvno", core.Integer, _x(1, True)),
        ("cipher", core.OctetString, _x(2)),
    ]


class HostAddress(core.Sequence):
    _fields = [("addr-type", core.Integer, _x(0)), ("address", core.OctetString, _x(1))]


class _Addresses(core.SequenceOf):
    _child_spec = HostAddress


class PAData(core.Sequence):
    _fields = [("padata-type", core.Integer, _x(1)), ("padata-value", core.OctetString, _x(2))]


class _PAData(core.SequenceOf):
    _child_spec = PAData


class Ticket(core.Sequence):
    explicit = (_APPLICATION, 1)
    _fields = [
        ("tkt-vno", core.Integer, _x(0)),
        ("realm", core.GeneralString, _x(1)),
        ("sname", PrincipalName, _x(2)),
        ("enc-part", EncryptedData, _x(3)),
    ]


class _Tickets(core.SequenceOf):
    _child_spec = Ticket


class KDCReqBody(core.Sequence):
    _fields = [
        ("kdc-options", core.BitString, _x(0)),
        ("cname", PrincipalName, _x(1, True)),
        ("realm", core.GeneralString, _x(2)),
        ("sname", PrincipalName, _x(3, True)),
        ("from", core.GeneralizedTime, _x(4, True)),
        ("till", core.GeneralizedTime, _x(5)),
        ("rtime", core.GeneralizedTime, _x(6, True)),
        ("nonce", core.Integer, _x(7)),
        ("etype", _Integers, _x(8)),
        ("addresses", _Addresses, _x(9, True)),
        ("enc-authorization-data", EncryptedData, _x(10, True)),
        ("additional-tickets", _Tickets, _x(11, True)),
    ]


class TGSReq(core.Sequence):
    explicit = (_APPLICATION, 12)
    _fields = [
        ("pvno", core.Integer, _x(1)),
        ("msg-type", core.Integer, _x(2)),
        ("padata", _PAData, _x(3, True)),
        ("req-body", KDCReqBody, _x(4)),
    ]


class TGSRep(core.Sequence):
    explicit = (_APPLICATION, 13)
    _fields = [
        ("pvno", core.Integer, _x(0)),
        ("msg-type", core.Integer, _x(1)),
        ("padata", _PAData, _x(2, True)),
        ("crealm", core.GeneralString, _x(3)),
        ("cname", PrincipalName, _x(4)),
        ("ticket", Ticket, _x(5)),
        ("enc-part", EncryptedData, _x(6)),
    ]


class APReq(core.Sequence):
    explicit = (_APPLICATION, 14)
    _fields = [
        ("pvno", core.Integer, _x(0)),
        ("msg-type", core.Integer, _x(1)),
        ("ap-options", core.BitString, _x(2)),
        ("ticket", Ticket, _x(3)),
        ("authenticator", EncryptedData, _x(4)),
    ]


class APRep(core.Sequence):
    explicit = (_APPLICATION, 15)
    _fields = [
        ("pvno", core.Integer, _x(0)),
        ("msg-type", core.Integer, _x(1)),
        ("enc-part", EncryptedData, _x(2)),
    ]


class _MechTypes(core.SequenceOf):
    _child_spec = core.ObjectIdentifier


class NegTokenInit(core.Sequence):
    _fields = [
        ("mechTypes", _MechTypes, _x(0)),
        ("reqFlags", core.BitString, _x(1, True)),
        ("mechToken", core.OctetString, _x(2, True)),
        ("mechListMIC", core.OctetString, _x(3, True)),
    ]


class NegState(core.Enumerated):
    _map = {0: "accept-completed", 1: "accept-incomplete", 2: "reject", 3: "request-mic"}


class NegTokenResp(core.Sequence):
    _fields = [
        ("negState", NegState, _x(0, True)),
        ("supportedMech", core.ObjectIdentifier, _x(1, True)),
        ("responseToken", core.OctetString, _x(2, True)),
        ("mechListMIC", core.OctetString, _x(3, True)),
    ]


class NegotiationToken(core.Choice):
    _alternatives = [
        ("negTokenInit", NegTokenInit, _x(0)),
        ("negTokenResp", NegTokenResp, _x(1)),
    ]


class InitialNegToken(core.Sequence):
    """RFC 2743 §3.1: ``[APPLICATION 0] IMPLICIT SEQUENCE``."""

    class_ = _APPLICATION
    tag = 0
    _fields = [("thisMech", core.ObjectIdentifier), ("innerContextToken", NegotiationToken)]


class KerberosApReqToken(core.Sequence):
    """RFC 4121 §4.1 with an AP-REQ: the mechanism OID, TOK_ID (``Any``: two octets that read
    as an empty element of universal tag 1, 2 or 3) and the message, declared as AP-REQ
    (asn1crypto's ``Any`` refuses an APPLICATION-class element)."""

    class_ = _APPLICATION
    tag = 0
    _fields = [("thisMech", core.ObjectIdentifier), ("tokId", core.Any), ("message", APReq)]


class KerberosApRepToken(core.Sequence):
    """RFC 4121 §4.1 with an AP-REP."""

    class_ = _APPLICATION
    tag = 0
    _fields = [("thisMech", core.ObjectIdentifier), ("tokId", core.Any), ("message", APRep)]
