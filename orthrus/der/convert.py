"""Between the library's values and the models of :mod:`orthrus.der.types`, by one table.

asn1tools gives and takes dicts keyed by the ASN.1 names, ``(bytes, bit count)`` for BIT
STRINGs, ``datetime`` for GeneralizedTime (aware when read, naive UTC when written) and
latin-1 ``str`` for GeneralString.
:data:`FIELDS` says, for each model, which ASN.1 component fills which attribute and how
the value is converted; :data:`CONSTANTS` the components that have one value (pvno 5 and
the like), written on encode and checked on decode. Everything a peer can get wrong here
raises :class:`~orthrus.errors.MalformedMessage`.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from orthrus.der import types as t
from orthrus.errors import MalformedMessage

__all__ = ["Converter", "ModelConverter", "SequenceOf", "model"]

_UTC = datetime.UTC
_ZERO = datetime.timedelta(0)


class Converter(Protocol):
    """Turns one library value into a model value (``load``) and back (``dump``)."""

    def load(self, value: Any) -> Any: ...

    def dump(self, value: Any) -> Any: ...


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
