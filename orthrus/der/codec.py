"""DER encode and decode of the RFC 4120 messages, to and from the models of
:mod:`orthrus.der.types`.

Decoding takes bytes from a peer: a message longer than :data:`MAX_MESSAGE_SIZE` is refused
before the library sees it (``KRB_ERR_FIELD_TOOLONG``, as RFC 4120 §7.2.2 answers a TCP
length it will not read); anything the library or the checks refuse — truncated, garbage,
an integer out of its range, a wrong pvno or msg-type, fractional
seconds — is one :class:`~orthrus.errors.MalformedMessage` (``KRB_ERR_GENERIC``), never
another exception. The schema fixes how deep a message nests; the one recursive structure,
AD-IF-RELEVANT inside authorization data (RFC 4120 §5.2.6.1), is unwrapped by
:func:`expand_authorization_data` to at most :data:`MAX_AD_DEPTH` levels.

Encoding takes our own models: a value out of its ASN.1 range is a programming error
(``ValueError``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import asn1tools

from orthrus.der import types as t
from orthrus.der.convert import AUTHDATA, PADATA, Converter, SequenceOf, model
from orthrus.der.schema import READER, SPEC
from orthrus.errors import MalformedMessage

__all__ = [
    "MAX_AD_DEPTH",
    "MAX_MESSAGE_SIZE",
    "decode_ad_if_relevant",
    "decode_ap_rep",
    "decode_ap_req",
    "decode_as_rep",
    "decode_as_req",
    "decode_authenticator",
    "decode_authorization_data",
    "decode_enc_ap_rep_part",
    "decode_enc_kdc_rep_part",
    "decode_enc_krb_priv_part",
    "decode_enc_ticket_part",
    "decode_etype_info2",
    "decode_kdc_req",
    "decode_kdc_req_body",
    "decode_krb_error",
    "decode_krb_priv",
    "decode_method_data",
    "decode_pa_enc_timestamp",
    "decode_pa_enc_ts_enc",
    "decode_pa_tgs_req",
    "decode_tgs_rep",
    "decode_tgs_req",
    "decode_ticket",
    "encode_ad_if_relevant",
    "encode_ap_rep",
    "encode_ap_req",
    "encode_authenticator",
    "encode_authorization_data",
    "encode_enc_ap_rep_part",
    "encode_enc_kdc_rep_part",
    "encode_enc_krb_priv_part",
    "encode_enc_ticket_part",
    "encode_etype_info2",
    "encode_kdc_rep",
    "encode_kdc_req",
    "encode_kdc_req_body",
    "encode_krb_error",
    "encode_krb_priv",
    "encode_method_data",
    "encode_pa_enc_timestamp",
    "encode_pa_enc_ts_enc",
    "encode_ticket",
    "expand_authorization_data",
]

#: The largest message decoded. MIT's KDC reads at most 64 KiB over UDP; tickets with a
#: large PAC stay well under it.
MAX_MESSAGE_SIZE = 64 * 1024
#: How many AD-IF-RELEVANT containers may nest (MIT's PACs sit one level down).
MAX_AD_DEPTH = 4

T = TypeVar("T")

# What asn1tools and the codecs under it raise on input they cannot read: its own errors,
# and the built-in ones a malformed length or value runs into.
_LIBRARY_ERRORS = (asn1tools.Error, ValueError, TypeError, IndexError, KeyError, RecursionError)


def _decode(type_name: str, data: bytes) -> Any:
    """The library's value of ``data`` as ``type_name``, bounded, or MalformedMessage."""
    if len(data) > MAX_MESSAGE_SIZE:
        raise MalformedMessage(
            f"a {type_name} of {len(data)} octets is over the {MAX_MESSAGE_SIZE}-octet limit",
            too_long=True,
        )
    try:
        return READER.decode(type_name, data)
    except _LIBRARY_ERRORS:
        # The library's text quotes the input; the sentence names the type only.
        raise MalformedMessage(f"not a DER {type_name} (RFC 4120 Appendix A)") from None


def _encode(type_name: str, value: Any) -> bytes:
    try:
        encoded: bytes = SPEC.encode(type_name, value)
    except asn1tools.Error as error:
        raise ValueError(f"cannot encode {type_name}: {error}") from None
    return encoded


def _load_value(type_name: str, converter: Converter, value: Any) -> Any:
    """The model of the library's ``value``; a value the models refuse is MalformedMessage."""
    try:
        return converter.load(value)
    except MalformedMessage:
        raise
    except (ValueError, TypeError, OverflowError):
        raise MalformedMessage(f"not a valid {type_name}") from None


def _load(type_name: str, converter: Converter, data: bytes) -> Any:
    return _load_value(type_name, converter, _decode(type_name, data))


def _codec(
    type_name: str, cls: type[T], rfc: str, converter: Converter | None = None
) -> tuple[Callable[[bytes], T], Callable[[T], bytes]]:
    """The ``decode`` and ``encode`` functions of ``type_name`` (one for each message, so
    that no two are kept in step by hand)."""
    chosen = converter or model(cls)

    def decode(data: bytes) -> T:
        result: T = _load(type_name, chosen, data)
        return result

    def encode(value: T) -> bytes:
        return _encode(type_name, chosen.dump(value))

    decode.__doc__ = f"Decode a DER {type_name} ({rfc}); MalformedMessage if it is not one."
    encode.__doc__ = f"Encode a {type_name} in DER ({rfc})."
    return decode, encode


decode_ticket, encode_ticket = _codec("Ticket", t.Ticket, "RFC 4120 §5.3")
decode_enc_ticket_part, encode_enc_ticket_part = _codec(
    "EncTicketPart", t.EncTicketPart, "RFC 4120 §5.3"
)
decode_ap_req, encode_ap_req = _codec("AP-REQ", t.APReq, "RFC 4120 §5.5.1")
decode_authenticator, encode_authenticator = _codec(
    "Authenticator", t.Authenticator, "RFC 4120 §5.5.1"
)
decode_ap_rep, encode_ap_rep = _codec("AP-REP", t.APRep, "RFC 4120 §5.5.2")
decode_enc_ap_rep_part, encode_enc_ap_rep_part = _codec(
    "EncAPRepPart", t.EncAPRepPart, "RFC 4120 §5.5.2"
)
decode_krb_priv, encode_krb_priv = _codec("KRB-PRIV", t.KRBPriv, "RFC 4120 §5.7.1")
decode_enc_krb_priv_part, encode_enc_krb_priv_part = _codec(
    "EncKrbPrivPart", t.EncKrbPrivPart, "RFC 4120 §5.7.1"
)
decode_krb_error, encode_krb_error = _codec("KRB-ERROR", t.KRBError, "RFC 4120 §5.9.1")
decode_pa_enc_timestamp, encode_pa_enc_timestamp = _codec(
    "PA-ENC-TIMESTAMP", t.EncryptedData, "RFC 4120 §5.2.7.2"
)
decode_pa_enc_ts_enc, encode_pa_enc_ts_enc = _codec(
    "PA-ENC-TS-ENC", t.PAEncTsEnc, "RFC 4120 §5.2.7.2"
)
decode_etype_info2, encode_etype_info2 = _codec(
    "ETYPE-INFO2", tuple, "RFC 4120 §5.2.7.5", SequenceOf(model(t.ETypeInfo2Entry))
)
decode_method_data, encode_method_data = _codec("METHOD-DATA", tuple, "RFC 4120 §5.9.1", PADATA)
decode_authorization_data, encode_authorization_data = _codec(
    "AuthorizationData", tuple, "RFC 4120 §5.2.6", AUTHDATA
)
decode_ad_if_relevant, encode_ad_if_relevant = _codec(
    "AD-IF-RELEVANT", tuple, "RFC 4120 §5.2.6.1", AUTHDATA
)
# The checksum of a TGS-REQ's authenticator covers the req-body's encoding (RFC 4120
# §5.4.1); DER is canonical, so the body decoded from a DER request encodes to the same octets.
decode_kdc_req_body, encode_kdc_req_body = _codec("KDC-REQ-BODY", t.KDCReqBody, "RFC 4120 §5.4.1")

_KDC_REQ = model(t.KDCReq)
_KDC_REP = model(t.KDCRep)
_ENC_KDC_REP_PART = model(t.EncKDCRepPart)
_REQ_TYPES = {10: "AS-REQ", 12: "TGS-REQ"}
_REP_TYPES = {11: "AS-REP", 13: "TGS-REP"}
_CHOICE_TYPES = {"as-req": 10, "tgs-req": 12}


def decode_pa_tgs_req(data: bytes) -> t.APReq:
    """Decode the value of PA-TGS-REQ: an AP-REQ (RFC 4120 §5.2.7.1)."""
    return decode_ap_req(data)


def _checked_msg_type(message: T, expected: int, type_name: str) -> T:
    if getattr(message, "msg_type", None) != expected:
        raise MalformedMessage(f"a {type_name} has msg-type {expected}")
    return message


def decode_as_req(data: bytes) -> t.KDCReq:
    """Decode a DER AS-REQ (RFC 4120 §5.4.1), msg-type 10."""
    message: t.KDCReq = _load("AS-REQ", _KDC_REQ, data)
    return _checked_msg_type(message, 10, "AS-REQ")


def decode_tgs_req(data: bytes) -> t.KDCReq:
    """Decode a DER TGS-REQ (RFC 4120 §5.4.1), msg-type 12."""
    message: t.KDCReq = _load("TGS-REQ", _KDC_REQ, data)
    return _checked_msg_type(message, 12, "TGS-REQ")


def decode_kdc_req(data: bytes) -> t.KDCReq:
    """Decode an AS-REQ or a TGS-REQ (RFC 4120 §5.4.1), as a KDC port receives either; the
    msg-type must match the APPLICATION tag."""
    choice, value = _decode("KDC-REQ-ANY", data)
    message: t.KDCReq = _load_value("KDC-REQ", _KDC_REQ, value)
    return _checked_msg_type(message, _CHOICE_TYPES[choice], "KDC-REQ")


def encode_kdc_req(message: t.KDCReq) -> bytes:
    """Encode an AS-REQ (msg-type 10) or a TGS-REQ (12) in DER (RFC 4120 §5.4.1)."""
    return _encode(_REQ_TYPES[message.msg_type], _KDC_REQ.dump(message))


def decode_as_rep(data: bytes) -> t.KDCRep:
    """Decode a DER AS-REP (RFC 4120 §5.4.2), msg-type 11."""
    message: t.KDCRep = _load("AS-REP", _KDC_REP, data)
    return _checked_msg_type(message, 11, "AS-REP")


def decode_tgs_rep(data: bytes) -> t.KDCRep:
    """Decode a DER TGS-REP (RFC 4120 §5.4.2), msg-type 13."""
    message: t.KDCRep = _load("TGS-REP", _KDC_REP, data)
    return _checked_msg_type(message, 13, "TGS-REP")


def encode_kdc_rep(message: t.KDCRep) -> bytes:
    """Encode an AS-REP (msg-type 11) or a TGS-REP (13) in DER (RFC 4120 §5.4.2)."""
    return _encode(_REP_TYPES[message.msg_type], _KDC_REP.dump(message))


def decode_enc_kdc_rep_part(data: bytes) -> t.EncKDCRepPart:
    """Decode an EncASRepPart ``[APPLICATION 25]`` or EncTGSRepPart ``[APPLICATION 26]``
    (RFC 4120 §5.4.2): either is accepted in either reply, as §5.4.2 allows and MIT does."""
    _, value = _decode("EncKDCRepPartAny", data)
    part: t.EncKDCRepPart = _load_value("EncKDCRepPart", _ENC_KDC_REP_PART, value)
    return part


def encode_enc_kdc_rep_part(part: t.EncKDCRepPart) -> bytes:
    """Encode an EncKDCRepPart as ``[APPLICATION 26]`` (EncTGSRepPart) for both replies.

    RFC 4120 §5.4.2 names 25 for AS replies, but MIT has always sent 26 for both, so some
    clients accept only 26; every client accepts 26 (the note in §5.4.2 says implementations
    SHOULD accept either)."""
    return _encode("EncTGSRepPart", _ENC_KDC_REP_PART.dump(part))


def expand_authorization_data(
    entries: tuple[t.AuthorizationDataEntry, ...],
) -> tuple[t.AuthorizationDataEntry, ...]:
    """``entries`` with every AD-IF-RELEVANT container replaced by its elements, recursively
    (RFC 4120 §5.2.6.1), at most :data:`MAX_AD_DEPTH` containers deep."""
    return _expand(entries, 0)


def _expand(
    entries: tuple[t.AuthorizationDataEntry, ...], depth: int
) -> tuple[t.AuthorizationDataEntry, ...]:
    out: list[t.AuthorizationDataEntry] = []
    for entry in entries:
        if entry.ad_type != t.AD_IF_RELEVANT:
            out.append(entry)
        elif depth >= MAX_AD_DEPTH:
            raise MalformedMessage(f"AD-IF-RELEVANT nests more than {MAX_AD_DEPTH} deep")
        else:
            out.extend(_expand(decode_ad_if_relevant(entry.ad_data), depth + 1))
    return tuple(out)
