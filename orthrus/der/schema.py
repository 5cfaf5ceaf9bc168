"""RFC 4120 Appendix A for the messages Orthrus exchanges, one declaration per type, read
and written by the kinds of :mod:`orthrus.der.kinds` straight into and out of the models of
:mod:`orthrus.der.types`.

Each declaration follows Appendix A's text (``EXPLICIT TAGS``): a SEQUENCE's ``[n]``
fields, which are OPTIONAL, which hold a constant, SEQUENCE OF, ``[APPLICATION n]``. The
departures, each on purpose:

- ``KerberosFlags`` of any length is read (see :func:`orthrus.der.tlv.read_flags`) and
  written as 32 bits.
- ``Kvno`` also takes negative values: MIT encodes a kvno of 2**31 or more as the signed
  32-bit integer of the same bits (its reference encodings ``enc_data(MSB-set kvno)``).
- ``msg-type`` of KDC-REQ and KDC-REP is any Int32 here; :mod:`orthrus.der.codec` checks it
  against the APPLICATION tag.

The structures nest as deep as this module says and no deeper: the one recursive type,
AD-IF-RELEVANT (RFC 4120 §5.2.6.1), is an OCTET STRING here, opened by
:func:`orthrus.der.expand_authorization_data`.
"""

from __future__ import annotations

from typing import Any

from orthrus.der import tlv
from orthrus.der import types as t
from orthrus.der.kinds import Field, Integer, Kind, Primitive, Sequence, SequenceOf

__all__ = [
    "AP_REP",
    "AP_REQ",
    "AP_REQ_PARTS",
    "AS_REP",
    "AS_REQ",
    "AUTHDATA",
    "AUTHENTICATOR",
    "ENCRYPTED",
    "ENC_AP_REP_PART",
    "ENC_KDC_REP_PART",
    "ENC_KRB_PRIV_PART",
    "ENC_TICKET_PART",
    "ETYPE_INFO2",
    "FLAGS",
    "INT",
    "KDC_REQ_BODY",
    "KRB_ERROR",
    "KRB_PRIV",
    "METHOD_DATA",
    "OCTETS",
    "PA_ENC_TS_ENC",
    "TGS_REP",
    "TGS_REQ",
    "TICKET",
]


class _Kvno:
    """A kvno is unsigned, but MIT encodes 2**31 and above as negative 32-bit integers; read
    both, write as MIT does so that its peers read our kvnos."""

    tag = tlv.INTEGER

    def read(self, data: bytes, start: int, stop: int) -> int:
        value = _SIGNED_KVNO.read(data, start, stop)
        return value + 2**32 if value < 0 else value

    def contents(self, value: int) -> bytes:
        if not 0 <= value < 2**32:
            raise ValueError(f"a kvno of {value} is outside 0..{2**32 - 1}")
        return tlv.integer_octets(value - 2**32 if value >= 2**31 else value)

    def write(self, value: int) -> bytes:
        return tlv.tlv(tlv.INTEGER, self.contents(value))


def _read_octets(data: bytes, start: int, stop: int) -> bytes:
    return data[start:stop]


class _Element:
    """A type read as the DER octets of its whole element, header included, and written as
    they are: a part a reader keeps as sent and decodes later, if at all."""

    def __init__(self, tag: int) -> None:
        self.tag = tag

    def read(self, data: bytes, start: int, stop: int) -> bytes:
        # DER lengths are minimal, so the header written again is the one that was read.
        return tlv.tlv(self.tag, data[start:stop])

    def contents(self, value: bytes) -> bytes:
        return value[tlv.header(value, 0, len(value))[1] :]

    def write(self, value: bytes) -> bytes:
        return value


def _constant(number: int, value: int) -> Field:
    return Field(number, None, INT, constant=value)


def _seq(cls: type[Any], *fields: Field, app: int | None = None) -> Sequence:
    return Sequence(cls, fields, app)


def _f(number: int, attr: str, kind: Kind) -> Field:
    return Field(number, attr, kind)


def _opt(number: int, attr: str, kind: Kind) -> Field:
    return Field(number, attr, kind, optional=True)


INT = Integer(-(2**31), 2**31 - 1)  # Int32
UINT = Integer(0, 2**32 - 1)  # UInt32
MICROS = Integer(0, 999_999)  # Microseconds
_SIGNED_KVNO = Integer(-(2**31), 2**32 - 1)
KVNO = _Kvno()
OCTETS = Primitive(tlv.OCTET_STRING, _read_octets, bytes)
STRING = Primitive(tlv.GENERAL_STRING, tlv.read_string, str.encode)  # UTF-8, its default
TIME = Primitive(tlv.GENERALIZED_TIME, tlv.read_time, tlv.time_octets)
FLAGS = Primitive(tlv.BIT_STRING, tlv.read_flags, tlv.flags_octets)

PRINCIPAL = _seq(t.PrincipalName, _f(0, "name_type", INT), _f(1, "components", SequenceOf(STRING)))
ENCRYPTED = _seq(
    t.EncryptedData, _f(0, "etype", INT), _opt(1, "kvno", KVNO), _f(2, "cipher", OCTETS)
)
KEY = _seq(t.EncryptionKey, _f(0, "keytype", INT), _f(1, "keyvalue", OCTETS))
CHECKSUM = _seq(t.Checksum, _f(0, "cksumtype", INT), _f(1, "checksum", OCTETS))
HOST_ADDRESS = _seq(t.HostAddress, _f(0, "addr_type", INT), _f(1, "address", OCTETS))
ADDRESSES = SequenceOf(HOST_ADDRESS)
AUTHDATA = SequenceOf(
    _seq(t.AuthorizationDataEntry, _f(0, "ad_type", INT), _f(1, "ad_data", OCTETS))
)
METHOD_DATA = SequenceOf(_seq(t.PAData, _f(1, "type", INT), _f(2, "value", OCTETS)))
LAST_REQ_ENTRY = _seq(t.LastReqEntry, _f(0, "lr_type", INT), _f(1, "lr_value", TIME))
TRANSITED = _seq(t.TransitedEncoding, _f(0, "tr_type", INT), _f(1, "contents", OCTETS))

TICKET = _seq(
    t.Ticket,
    _constant(0, 5),
    _f(1, "realm", STRING),
    _f(2, "sname", PRINCIPAL),
    _f(3, "enc_part", ENCRYPTED),
    app=1,
)
ENC_TICKET_PART = _seq(
    t.EncTicketPart,
    _f(0, "flags", FLAGS),
    _f(1, "key", KEY),
    _f(2, "crealm", STRING),
    _f(3, "cname", PRINCIPAL),
    _f(4, "transited", TRANSITED),
    _f(5, "authtime", TIME),
    _opt(6, "starttime", TIME),
    _f(7, "endtime", TIME),
    _opt(8, "renew_till", TIME),
    _opt(9, "caddr", ADDRESSES),
    _opt(10, "authorization_data", AUTHDATA),
    app=3,
)
KDC_REQ_BODY = Sequence(
    t.KDCReqBody,
    octets="octets",  # kept: a TGS-REQ's authenticator checksum covers them (RFC 4120 §5.4.1)
    fields=(
        _f(0, "kdc_options", FLAGS),
        _opt(1, "cname", PRINCIPAL),
        _f(2, "realm", STRING),
        _opt(3, "sname", PRINCIPAL),
        _opt(4, "from_", TIME),
        _f(5, "till", TIME),
        _opt(6, "rtime", TIME),
        _f(7, "nonce", UINT),
        _f(8, "etype", SequenceOf(INT)),
        _opt(9, "addresses", ADDRESSES),
        _opt(10, "enc_authorization_data", ENCRYPTED),
        _opt(11, "additional_tickets", SequenceOf(TICKET)),
    ),
)
_KDC_REQ = _seq(
    t.KDCReq,
    _constant(1, 5),
    _f(2, "msg_type", INT),
    _opt(3, "padata", METHOD_DATA),
    _f(4, "req_body", KDC_REQ_BODY),
)
AS_REQ = _KDC_REQ.under(10)
TGS_REQ = _KDC_REQ.under(12)
_KDC_REP = _seq(
    t.KDCRep,
    _constant(0, 5),
    _f(1, "msg_type", INT),
    _opt(2, "padata", METHOD_DATA),
    _f(3, "crealm", STRING),
    _f(4, "cname", PRINCIPAL),
    _f(5, "ticket", TICKET),
    _f(6, "enc_part", ENCRYPTED),
)
AS_REP = _KDC_REP.under(11)
TGS_REP = _KDC_REP.under(13)
#: EncTGSRepPart, ``[APPLICATION 26]``; :mod:`orthrus.der.codec` also reads 25 (EncASRepPart).
ENC_KDC_REP_PART = _seq(
    t.EncKDCRepPart,
    _f(0, "key", KEY),
    _f(1, "last_req", SequenceOf(LAST_REQ_ENTRY)),
    _f(2, "nonce", UINT),
    _opt(3, "key_expiration", TIME),
    _f(4, "flags", FLAGS),
    _f(5, "authtime", TIME),
    _opt(6, "starttime", TIME),
    _f(7, "endtime", TIME),
    _opt(8, "renew_till", TIME),
    _f(9, "srealm", STRING),
    _f(10, "sname", PRINCIPAL),
    _opt(11, "caddr", ADDRESSES),
    app=26,
)


def _ap_req(cls: type[Any], ticket: Kind) -> Sequence:
    return _seq(
        cls,
        _constant(0, 5),
        _constant(1, 14),
        _f(2, "ap_options", FLAGS),
        _f(3, "ticket", ticket),
        _f(4, "authenticator", ENCRYPTED),
        app=14,
    )


AP_REQ = _ap_req(t.APReq, TICKET)
#: The same AP-REQ with the ticket kept as its octets (:class:`orthrus.der.types.APReqParts`).
AP_REQ_PARTS = _ap_req(t.APReqParts, _Element(TICKET.tag))
AUTHENTICATOR = _seq(
    t.Authenticator,
    _constant(0, 5),
    _f(1, "crealm", STRING),
    _f(2, "cname", PRINCIPAL),
    _opt(3, "cksum", CHECKSUM),
    _f(4, "cusec", MICROS),
    _f(5, "ctime", TIME),
    _opt(6, "subkey", KEY),
    _opt(7, "seq_number", UINT),
    _opt(8, "authorization_data", AUTHDATA),
    app=2,
)
AP_REP = _seq(t.APRep, _constant(0, 5), _constant(1, 15), _f(2, "enc_part", ENCRYPTED), app=15)
ENC_AP_REP_PART = _seq(
    t.EncAPRepPart,
    _f(0, "ctime", TIME),
    _f(1, "cusec", MICROS),
    _opt(2, "subkey", KEY),
    _opt(3, "seq_number", UINT),
    app=27,
)
KRB_PRIV = _seq(t.KRBPriv, _constant(0, 5), _constant(1, 21), _f(3, "enc_part", ENCRYPTED), app=21)
ENC_KRB_PRIV_PART = _seq(
    t.EncKrbPrivPart,
    _f(0, "user_data", OCTETS),
    _opt(1, "timestamp", TIME),
    _opt(2, "usec", MICROS),
    _opt(3, "seq_number", UINT),
    _f(4, "s_address", HOST_ADDRESS),
    _opt(5, "r_address", HOST_ADDRESS),
    app=28,
)
KRB_ERROR = _seq(
    t.KRBError,
    _constant(0, 5),
    _constant(1, 30),
    _opt(2, "ctime", TIME),
    _opt(3, "cusec", MICROS),
    _f(4, "stime", TIME),
    _f(5, "susec", MICROS),
    _f(6, "error_code", INT),
    _opt(7, "crealm", STRING),
    _opt(8, "cname", PRINCIPAL),
    _f(9, "realm", STRING),
    _f(10, "sname", PRINCIPAL),
    _opt(11, "e_text", STRING),
    _opt(12, "e_data", OCTETS),
    app=30,
)
PA_ENC_TS_ENC = _seq(t.PAEncTsEnc, _f(0, "patimestamp", TIME), _opt(1, "pausec", MICROS))
ETYPE_INFO2 = SequenceOf(
    _seq(
        t.ETypeInfo2Entry,
        _f(0, "etype", INT),
        _opt(1, "salt", STRING),
        _opt(2, "s2kparams", OCTETS),
    )
)
