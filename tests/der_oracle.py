"""The test oracle of :mod:`orthrus.der` and :mod:`orthrus.kerberos.gss_tokens`: the same
messages through :mod:`asn1tools`, a maintained ASN.1 compiler, from the RFC's ASN.1 text.

This was Orthrus's codec until its own (docs/architecture.md, "DER codec"); it stays,
test-only, so that tests can feed the same bytes and models to both and compare
(tests/core/test_der_oracle.py), and build messages the codec would refuse to write (a
nonce of 2**200, a wrong pvno).

- :data:`SPEC` (DER) and :data:`READER` (BER: asn1tools' DER reader loops for ever on a
  SEQUENCE OF whose content does not start with its element's tag) compile RFC 4120
  Appendix A, cut down as :mod:`orthrus.der.schema` is, with the same departures
  (KerberosFlags any length, signed kvnos, msg-type any INTEGER, EncKDCRepPartAny,
  KDC-REQ-ANY);
- :func:`oracle_decode` / :func:`oracle_encode` map asn1tools' dicts to the models by one
  table (:data:`FIELDS`, :data:`CONSTANTS`);
- :data:`GSS_SPEC` / :data:`GSS_READER` compile RFC 4178 §4.2 with RFC 2743 §3.1's framing.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import asn1tools

from orthrus.der import types as t
from orthrus.errors import MalformedMessage

RFC4120_MODULE = """
KerberosV5Spec2 DEFINITIONS EXPLICIT TAGS ::= BEGIN

Int32           ::= INTEGER (-2147483648..2147483647)
UInt32          ::= INTEGER (0..4294967295)
Microseconds    ::= INTEGER (0..999999)
-- MIT encodes a kvno as a signed 32-bit integer (2**31 and above come out negative)
Kvno            ::= INTEGER (-2147483648..4294967295)
KerberosString  ::= GeneralString
Realm           ::= KerberosString

PrincipalName   ::= SEQUENCE {
        name-type       [0] Int32,
        name-string     [1] SEQUENCE OF KerberosString
}

KerberosTime    ::= GeneralizedTime

HostAddress     ::= SEQUENCE  {
        addr-type       [0] Int32,
        address         [1] OCTET STRING
}

HostAddresses   ::= SEQUENCE OF HostAddress

AuthorizationData       ::= SEQUENCE OF SEQUENCE {
        ad-type         [0] Int32,
        ad-data         [1] OCTET STRING
}

AD-IF-RELEVANT  ::= AuthorizationData

PA-DATA         ::= SEQUENCE {
        padata-type     [1] Int32,
        padata-value    [2] OCTET STRING
}

KerberosFlags   ::= BIT STRING

EncryptedData   ::= SEQUENCE {
        etype   [0] Int32,
        kvno    [1] Kvno OPTIONAL,
        cipher  [2] OCTET STRING
}

EncryptionKey   ::= SEQUENCE {
        keytype         [0] Int32,
        keyvalue        [1] OCTET STRING
}

Checksum        ::= SEQUENCE {
        cksumtype       [0] Int32,
        checksum        [1] OCTET STRING
}

Ticket          ::= [APPLICATION 1] SEQUENCE {
        tkt-vno         [0] INTEGER (5),
        realm           [1] Realm,
        sname           [2] PrincipalName,
        enc-part        [3] EncryptedData
}

EncTicketPart   ::= [APPLICATION 3] SEQUENCE {
        flags                   [0] TicketFlags,
        key                     [1] EncryptionKey,
        crealm                  [2] Realm,
        cname                   [3] PrincipalName,
        transited               [4] TransitedEncoding,
        authtime                [5] KerberosTime,
        starttime               [6] KerberosTime OPTIONAL,
        endtime                 [7] KerberosTime,
        renew-till              [8] KerberosTime OPTIONAL,
        caddr                   [9] HostAddresses OPTIONAL,
        authorization-data      [10] AuthorizationData OPTIONAL
}

TransitedEncoding       ::= SEQUENCE {
        tr-type         [0] Int32,
        contents        [1] OCTET STRING
}

TicketFlags     ::= KerberosFlags

AS-REQ          ::= [APPLICATION 10] KDC-REQ

TGS-REQ         ::= [APPLICATION 12] KDC-REQ

KDC-REQ-ANY     ::= CHOICE { as-req AS-REQ, tgs-req TGS-REQ }

KDC-REQ         ::= SEQUENCE {
        pvno            [1] INTEGER (5) ,
        msg-type        [2] INTEGER -- 10 AS, 12 TGS --,
        padata          [3] SEQUENCE OF PA-DATA OPTIONAL,
        req-body        [4] KDC-REQ-BODY
}

KDC-REQ-BODY    ::= SEQUENCE {
        kdc-options             [0] KDCOptions,
        cname                   [1] PrincipalName OPTIONAL,
        realm                   [2] Realm,
        sname                   [3] PrincipalName OPTIONAL,
        from                    [4] KerberosTime OPTIONAL,
        till                    [5] KerberosTime,
        rtime                   [6] KerberosTime OPTIONAL,
        nonce                   [7] UInt32,
        etype                   [8] SEQUENCE OF Int32,
        addresses               [9] HostAddresses OPTIONAL,
        enc-authorization-data  [10] EncryptedData OPTIONAL,
        additional-tickets      [11] SEQUENCE OF Ticket OPTIONAL
}

KDCOptions      ::= KerberosFlags

AS-REP          ::= [APPLICATION 11] KDC-REP

TGS-REP         ::= [APPLICATION 13] KDC-REP

KDC-REP         ::= SEQUENCE {
        pvno            [0] INTEGER (5),
        msg-type        [1] INTEGER -- 11 AS, 13 TGS --,
        padata          [2] SEQUENCE OF PA-DATA OPTIONAL,
        crealm          [3] Realm,
        cname           [4] PrincipalName,
        ticket          [5] Ticket,
        enc-part        [6] EncryptedData
}

EncASRepPart    ::= [APPLICATION 25] EncKDCRepPart

EncTGSRepPart   ::= [APPLICATION 26] EncKDCRepPart

EncKDCRepPartAny ::= CHOICE { as-rep EncASRepPart, tgs-rep EncTGSRepPart }

EncKDCRepPart   ::= SEQUENCE {
        key             [0] EncryptionKey,
        last-req        [1] LastReq,
        nonce           [2] UInt32,
        key-expiration  [3] KerberosTime OPTIONAL,
        flags           [4] TicketFlags,
        authtime        [5] KerberosTime,
        starttime       [6] KerberosTime OPTIONAL,
        endtime         [7] KerberosTime,
        renew-till      [8] KerberosTime OPTIONAL,
        srealm          [9] Realm,
        sname           [10] PrincipalName,
        caddr           [11] HostAddresses OPTIONAL
}

LastReq         ::=     SEQUENCE OF SEQUENCE {
        lr-type         [0] Int32,
        lr-value        [1] KerberosTime
}

AP-REQ          ::= [APPLICATION 14] SEQUENCE {
        pvno            [0] INTEGER (5),
        msg-type        [1] INTEGER (14),
        ap-options      [2] APOptions,
        ticket          [3] Ticket,
        authenticator   [4] EncryptedData
}

APOptions       ::= KerberosFlags

Authenticator   ::= [APPLICATION 2] SEQUENCE  {
        authenticator-vno       [0] INTEGER (5),
        crealm                  [1] Realm,
        cname                   [2] PrincipalName,
        cksum                   [3] Checksum OPTIONAL,
        cusec                   [4] Microseconds,
        ctime                   [5] KerberosTime,
        subkey                  [6] EncryptionKey OPTIONAL,
        seq-number              [7] UInt32 OPTIONAL,
        authorization-data      [8] AuthorizationData OPTIONAL
}

AP-REP          ::= [APPLICATION 15] SEQUENCE {
        pvno            [0] INTEGER (5),
        msg-type        [1] INTEGER (15),
        enc-part        [2] EncryptedData
}

EncAPRepPart    ::= [APPLICATION 27] SEQUENCE {
        ctime           [0] KerberosTime,
        cusec           [1] Microseconds,
        subkey          [2] EncryptionKey OPTIONAL,
        seq-number      [3] UInt32 OPTIONAL
}

KRB-PRIV        ::= [APPLICATION 21] SEQUENCE {
        pvno            [0] INTEGER (5),
        msg-type        [1] INTEGER (21),
        enc-part        [3] EncryptedData
}

EncKrbPrivPart  ::= [APPLICATION 28] SEQUENCE {
        user-data       [0] OCTET STRING,
        timestamp       [1] KerberosTime OPTIONAL,
        usec            [2] Microseconds OPTIONAL,
        seq-number      [3] UInt32 OPTIONAL,
        s-address       [4] HostAddress,
        r-address       [5] HostAddress OPTIONAL
}

KRB-ERROR       ::= [APPLICATION 30] SEQUENCE {
        pvno            [0] INTEGER (5),
        msg-type        [1] INTEGER (30),
        ctime           [2] KerberosTime OPTIONAL,
        cusec           [3] Microseconds OPTIONAL,
        stime           [4] KerberosTime,
        susec           [5] Microseconds,
        error-code      [6] Int32,
        crealm          [7] Realm OPTIONAL,
        cname           [8] PrincipalName OPTIONAL,
        realm           [9] Realm,
        sname           [10] PrincipalName,
        e-text          [11] KerberosString OPTIONAL,
        e-data          [12] OCTET STRING OPTIONAL
}

METHOD-DATA     ::= SEQUENCE OF PA-DATA

PA-ENC-TIMESTAMP        ::= EncryptedData

PA-ENC-TS-ENC           ::= SEQUENCE {
        patimestamp     [0] KerberosTime,
        pausec          [1] Microseconds OPTIONAL
}

ETYPE-INFO2-ENTRY       ::= SEQUENCE {
        etype           [0] Int32,
        salt            [1] KerberosString OPTIONAL,
        s2kparams       [2] OCTET STRING OPTIONAL
}

ETYPE-INFO2             ::= SEQUENCE SIZE (1..MAX) OF ETYPE-INFO2-ENTRY

PA-TGS-REQ              ::= AP-REQ

END
"""


#: RFC 4120 compiled for encoding: DER (X.690 §10).
SPEC: Any = asn1tools.compile_string(RFC4120_MODULE, "der")
#: RFC 4120 compiled for decoding with the BER reader (see the module's docstring).
READER: Any = asn1tools.compile_string(RFC4120_MODULE, "ber")

GSS_MODULE = """
SPNEGOASNOneSpec DEFINITIONS EXPLICIT TAGS ::= BEGIN

MechType ::= OBJECT IDENTIFIER

MechTypeList ::= SEQUENCE OF MechType

-- RFC 2743 §3.1: any mechanism's initial token, read for its OID only
GSSAPI-Header ::= [APPLICATION 0] IMPLICIT SEQUENCE {
        thisMech        MechType,
        ...
}

-- RFC 4121 §4.1: TOK_ID (an empty TLV of universal tag 1, 2 or 3) and the DER message
KerberosToken ::= [APPLICATION 0] IMPLICIT SEQUENCE {
        thisMech        MechType,
        tokId           ANY,
        message         ANY
}

-- RFC 4178 §4.2: the initiator's first token is framed as RFC 2743 §3.1 has it
InitialNegToken ::= [APPLICATION 0] IMPLICIT SEQUENCE {
        thisMech        MechType,
        innerContextToken NegotiationToken
}

NegotiationToken ::= CHOICE {
        negTokenInit    [0] NegTokenInit,
        negTokenResp    [1] NegTokenResp
}

NegTokenInit ::= SEQUENCE {
        mechTypes       [0] MechTypeList,
        reqFlags        [1] ContextFlags  OPTIONAL,
        mechToken       [2] OCTET STRING  OPTIONAL,
        mechListMIC     [3] OCTET STRING  OPTIONAL,
        ...
}

NegTokenResp ::= SEQUENCE {
        negState        [0] ENUMERATED {
                accept-completed    (0),
                accept-incomplete   (1),
                reject              (2),
                request-mic         (3)
        }                                 OPTIONAL,
        supportedMech   [1] MechType      OPTIONAL,
        responseToken   [2] OCTET STRING  OPTIONAL,
        mechListMIC     [3] OCTET STRING  OPTIONAL,
        ...
}

ContextFlags ::= BIT STRING {
        delegFlag       (0),
        mutualFlag      (1),
        replayFlag      (2),
        sequenceFlag    (3),
        anonFlag        (4),
        confFlag        (5),
        integFlag       (6)
}

END
"""


GSS_SPEC: Any = asn1tools.compile_string(GSS_MODULE, "der")
GSS_READER: Any = asn1tools.compile_string(GSS_MODULE, "ber")

#: What asn1tools raises on input it cannot read.
LIBRARY_ERRORS = (asn1tools.Error, ValueError, TypeError, IndexError, KeyError, RecursionError)


class Converter(Protocol):
    """Turns one library value into a model value (``load``) and back (``dump``)."""

    def load(self, value: Any) -> Any: ...

    def dump(self, value: Any) -> Any: ...


_UTC = datetime.UTC
_ZERO = datetime.timedelta(0)


class _Octets:
    """OCTET STRING: ``bytes`` in the model (the library's reader gives ``bytearray``)."""

    def load(self, value: bytes | bytearray) -> bytes:
        return bytes(value)

    def dump(self, value: bytes) -> bytes:
        return value


@dataclass(frozen=True, slots=True)
class _Integer:
    """An INTEGER with the range the schema gives it (Int32, UInt32, Microseconds), checked
    here as the model is built: the library's own constraint checker walks the whole
    message a second time and costs a quarter more (bench/der_codecs.py)."""

    low: int
    high: int

    def load(self, value: int) -> int:
        if not self.low <= value <= self.high:
            raise MalformedMessage(f"an integer is outside {self.low}..{self.high}")
        return value

    def dump(self, value: int) -> int:
        if not self.low <= value <= self.high:
            raise ValueError(f"{value} is outside {self.low}..{self.high}")
        return value


class _KerberosString:
    """GeneralString (RFC 4120 §5.2.1): the library reads it as latin-1; the octets are
    UTF-8 in practice (MIT and Heimdal pass names through as UTF-8)."""

    def load(self, value: str) -> str:
        if value.isascii():
            return value
        try:
            return value.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedMessage("a KerberosString is not UTF-8") from None

    def dump(self, value: str) -> str:
        return value if value.isascii() else value.encode("utf-8").decode("latin-1")


#: KerberosTime as seconds: 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
_SECONDS = _Integer(0, 253_402_300_799)


class _KerberosTime:
    """KerberosTime (RFC 4120 §5.2.3): ``YYYYMMDDHHMMSSZ``, UTC, no fractional seconds. The
    reader gives an aware ``datetime`` for ``Z`` and offsets, a naive one for local time.
    The model holds seconds since the epoch."""

    def load(self, value: datetime.datetime) -> int:
        if value.microsecond or value.utcoffset() != _ZERO:
            raise MalformedMessage("a KerberosTime is YYYYMMDDHHMMSSZ (RFC 4120 §5.2.3)")
        return _SECONDS.load(calendar.timegm(value.utctimetuple()))

    def dump(self, value: int) -> datetime.datetime:
        # The epoch onwards: the library writes years below 1000 with fewer than 4 digits.
        seconds = _SECONDS.dump(value)
        return datetime.datetime.fromtimestamp(seconds, _UTC).replace(tzinfo=None)


class _KerberosFlags:
    """KerberosFlags (RFC 4120 §5.2.8): sent as 32 bits; longer and shorter strings are
    accepted, as MIT does: bits past 31 are dropped, missing ones are zero."""

    def load(self, value: tuple[bytes, int]) -> int:
        octets, bits = value
        flags = int.from_bytes(octets[:4].ljust(4, b"\0"), "big")
        if bits < 32:
            flags &= ~((1 << (32 - bits)) - 1)  # unused bits of the last octet
        return flags

    def dump(self, value: int) -> tuple[bytes, int]:
        return value.to_bytes(4, "big"), 32


class _Kvno:
    """A kvno is unsigned, but MIT encodes 2**31 and above as negative 32-bit integers;
    read both, write as MIT does so that its peers read our kvnos."""

    def load(self, value: int) -> int:
        return UINT.load(value + 2**32 if -(2**31) <= value < 0 else value)

    def dump(self, value: int) -> int:
        value = UINT.dump(value)
        return value - 2**32 if value >= 2**31 else value


@dataclass(frozen=True, slots=True)
class SequenceOf:
    """SEQUENCE OF: a list in the library, a tuple in the model."""

    element: Converter

    def load(self, value: list[Any]) -> tuple[Any, ...]:
        return tuple(self.element.load(item) for item in value)

    def dump(self, value: tuple[Any, ...]) -> list[Any]:
        return [self.element.dump(item) for item in value]


@dataclass(frozen=True, slots=True)
class ModelConverter:
    """A SEQUENCE read into the model ``cls`` by :data:`FIELDS` and :data:`CONSTANTS`."""

    cls: type[Any]

    def load(self, value: Mapping[str, Any]) -> Any:
        for name, expected in CONSTANTS.get(self.cls, {}).items():
            if value[name] != expected:
                raise MalformedMessage(f"{name} must be {expected}, not {value[name]}")
        return self.cls(
            **{
                attr: converter.load(value[name]) if name in value else None
                for attr, name, converter in FIELDS[self.cls]
            }
        )

    def dump(self, value: Any) -> dict[str, Any]:
        out: dict[str, Any] = dict(CONSTANTS.get(self.cls, {}))
        for attr, name, converter in FIELDS[self.cls]:
            item = getattr(value, attr)
            if item is not None:
                out[name] = converter.dump(item)
        return out


def model(cls: type[Any]) -> ModelConverter:
    """The converter of the model ``cls``."""
    return ModelConverter(cls)


BYTES = _Octets()
INT = _Integer(-(2**31), 2**31 - 1)  # Int32
UINT = _Integer(0, 2**32 - 1)
MICROS = _Integer(0, 999_999)
STRING = _KerberosString()
TIME = _KerberosTime()
FLAGS = _KerberosFlags()
KVNO = _Kvno()
PRINCIPAL = model(t.PrincipalName)
ENCRYPTED = model(t.EncryptedData)
KEY = model(t.EncryptionKey)
ADDRESSES = SequenceOf(model(t.HostAddress))
AUTHDATA = SequenceOf(model(t.AuthorizationDataEntry))
PADATA = SequenceOf(model(t.PAData))

#: model -> (attribute, ASN.1 component, converter), in the schema's order.
FIELDS: dict[type[Any], tuple[tuple[str, str, Converter], ...]] = {
    t.PrincipalName: (
        ("name_type", "name-type", INT),
        ("components", "name-string", SequenceOf(STRING)),
    ),
    t.EncryptedData: (("etype", "etype", INT), ("kvno", "kvno", KVNO), ("cipher", "cipher", BYTES)),
    t.EncryptionKey: (("keytype", "keytype", INT), ("keyvalue", "keyvalue", BYTES)),
    t.Checksum: (("cksumtype", "cksumtype", INT), ("checksum", "checksum", BYTES)),
    t.HostAddress: (("addr_type", "addr-type", INT), ("address", "address", BYTES)),
    t.AuthorizationDataEntry: (("ad_type", "ad-type", INT), ("ad_data", "ad-data", BYTES)),
    t.PAData: (("type", "padata-type", INT), ("value", "padata-value", BYTES)),
    t.TransitedEncoding: (("tr_type", "tr-type", INT), ("contents", "contents", BYTES)),
    t.LastReqEntry: (("lr_type", "lr-type", INT), ("lr_value", "lr-value", TIME)),
    t.Ticket: (
        ("realm", "realm", STRING),
        ("sname", "sname", PRINCIPAL),
        ("enc_part", "enc-part", ENCRYPTED),
    ),
    t.EncTicketPart: (
        ("flags", "flags", FLAGS),
        ("key", "key", KEY),
        ("crealm", "crealm", STRING),
        ("cname", "cname", PRINCIPAL),
        ("transited", "transited", model(t.TransitedEncoding)),
        ("authtime", "authtime", TIME),
        ("starttime", "starttime", TIME),
        ("endtime", "endtime", TIME),
        ("renew_till", "renew-till", TIME),
        ("caddr", "caddr", ADDRESSES),
        ("authorization_data", "authorization-data", AUTHDATA),
    ),
    t.KDCReqBody: (
        ("kdc_options", "kdc-options", FLAGS),
        ("cname", "cname", PRINCIPAL),
        ("realm", "realm", STRING),
        ("sname", "sname", PRINCIPAL),
        ("from_", "from", TIME),
        ("till", "till", TIME),
        ("rtime", "rtime", TIME),
        ("nonce", "nonce", UINT),
        ("etype", "etype", SequenceOf(INT)),
        ("addresses", "addresses", ADDRESSES),
        ("enc_authorization_data", "enc-authorization-data", ENCRYPTED),
        ("additional_tickets", "additional-tickets", SequenceOf(model(t.Ticket))),
    ),
    t.KDCReq: (
        ("msg_type", "msg-type", INT),
        ("padata", "padata", PADATA),
        ("req_body", "req-body", model(t.KDCReqBody)),
    ),
    t.KDCRep: (
        ("msg_type", "msg-type", INT),
        ("padata", "padata", PADATA),
        ("crealm", "crealm", STRING),
        ("cname", "cname", PRINCIPAL),
        ("ticket", "ticket", model(t.Ticket)),
        ("enc_part", "enc-part", ENCRYPTED),
    ),
    t.EncKDCRepPart: (
        ("key", "key", KEY),
        ("last_req", "last-req", SequenceOf(model(t.LastReqEntry))),
        ("nonce", "nonce", UINT),
        ("key_expiration", "key-expiration", TIME),
        ("flags", "flags", FLAGS),
        ("authtime", "authtime", TIME),
        ("starttime", "starttime", TIME),
        ("endtime", "endtime", TIME),
        ("renew_till", "renew-till", TIME),
        ("srealm", "srealm", STRING),
        ("sname", "sname", PRINCIPAL),
        ("caddr", "caddr", ADDRESSES),
    ),
    t.APReq: (
        ("ap_options", "ap-options", FLAGS),
        ("ticket", "ticket", model(t.Ticket)),
        ("authenticator", "authenticator", ENCRYPTED),
    ),
    t.Authenticator: (
        ("crealm", "crealm", STRING),
        ("cname", "cname", PRINCIPAL),
        ("cksum", "cksum", model(t.Checksum)),
        ("cusec", "cusec", MICROS),
        ("ctime", "ctime", TIME),
        ("subkey", "subkey", KEY),
        ("seq_number", "seq-number", UINT),
        ("authorization_data", "authorization-data", AUTHDATA),
    ),
    t.APRep: (("enc_part", "enc-part", ENCRYPTED),),
    t.EncAPRepPart: (
        ("ctime", "ctime", TIME),
        ("cusec", "cusec", MICROS),
        ("subkey", "subkey", KEY),
        ("seq_number", "seq-number", UINT),
    ),
    t.KRBPriv: (("enc_part", "enc-part", ENCRYPTED),),
    t.EncKrbPrivPart: (
        ("user_data", "user-data", BYTES),
        ("timestamp", "timestamp", TIME),
        ("usec", "usec", MICROS),
        ("seq_number", "seq-number", UINT),
        ("s_address", "s-address", model(t.HostAddress)),
        ("r_address", "r-address", model(t.HostAddress)),
    ),
    t.KRBError: (
        ("ctime", "ctime", TIME),
        ("cusec", "cusec", MICROS),
        ("stime", "stime", TIME),
        ("susec", "susec", MICROS),
        ("error_code", "error-code", INT),
        ("crealm", "crealm", STRING),
        ("cname", "cname", PRINCIPAL),
        ("realm", "realm", STRING),
        ("sname", "sname", PRINCIPAL),
        ("e_text", "e-text", STRING),
        ("e_data", "e-data", BYTES),
    ),
    t.PAEncTsEnc: (("patimestamp", "patimestamp", TIME), ("pausec", "pausec", MICROS)),
    t.ETypeInfo2Entry: (
        ("etype", "etype", INT),
        ("salt", "salt", STRING),
        ("s2kparams", "s2kparams", BYTES),
    ),
}

_PVNO = {"pvno": 5}
#: model -> the components that have one value (RFC 4120 Appendix A).
CONSTANTS: dict[type[Any], dict[str, int]] = {
    t.Ticket: {"tkt-vno": 5},
    t.KDCReq: _PVNO,
    t.KDCRep: _PVNO,
    t.APReq: {**_PVNO, "msg-type": 14},
    t.Authenticator: {"authenticator-vno": 5},
    t.APRep: {**_PVNO, "msg-type": 15},
    t.KRBPriv: {**_PVNO, "msg-type": 21},
    t.KRBError: {**_PVNO, "msg-type": 30},
}


def oracle_decode(type_name: str, cls: Any, data: bytes) -> Any:
    """``data`` read by asn1tools as ``type_name`` into the model ``cls`` (a model class or a
    Converter); any refusal is MalformedMessage."""
    converter = cls if isinstance(cls, SequenceOf) else model(cls)
    try:
        value = READER.decode(type_name, data)
        if isinstance(value, tuple):  # a CHOICE: KDC-REQ-ANY, EncKDCRepPartAny
            value = value[1]
        return converter.load(value)
    except MalformedMessage:
        raise
    except (*LIBRARY_ERRORS, OverflowError):
        raise MalformedMessage(f"asn1tools refuses this {type_name}") from None


def oracle_encode(type_name: str, cls: Any, value: Any) -> bytes:
    """The model ``value`` written by asn1tools as ``type_name``."""
    converter = cls if isinstance(cls, SequenceOf) else model(cls)
    return bytes(SPEC.encode(type_name, converter.dump(value)))
