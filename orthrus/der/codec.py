"""DER encode and decode of the RFC 4120 messages, to and from the models of
:mod:`orthrus.der.types`, by the declarations of :mod:`orthrus.der.schema`.

Decoding takes bytes from a peer: a message longer than :data:`MAX_MESSAGE_SIZE` is refused
before it is read (``KRB_ERR_FIELD_TOOLONG``, as RFC 4120 §7.2.2 answers a TCP length it
will not read); anything else wrong — truncated, garbage, not DER, octets after the message,
an integer out of its range, a wrong pvno or msg-type, fractional seconds — is one
:class:`~orthrus.errors.MalformedMessage` (``KRB_ERR_GENERIC``), never another exception.
The schema fixes how deep a message nests; the one recursive structure, AD-IF-RELEVANT
inside authorization data (RFC 4120 §5.2.6.1), is unwrapped by
:func:`expand_authorization_data` to at most :data:`MAX_AD_DEPTH` levels.

Encoding takes our own models: a value out of its ASN.1 range is a programming error
(``ValueError``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from orthrus.der import schema as s
from orthrus.der import tlv
from orthrus.der import types as t
from orthrus.der.kinds import Kind
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
    "split_ap_req",
]

#: The largest message decoded. MIT's KDC reads at most 64 KiB over UDP; tickets with a
#: large PAC stay well under it.
MAX_MESSAGE_SIZE = 64 * 1024
#: How many AD-IF-RELEVANT containers may nest (MIT's PACs sit one level down).
MAX_AD_DEPTH = 4

T = TypeVar("T")


def check_size(type_name: str, data: bytes) -> None:
    """Refuse ``data`` longer than :data:`MAX_MESSAGE_SIZE` before reading any of it
    (``KRB_ERR_FIELD_TOOLONG``)."""
    if len(data) > MAX_MESSAGE_SIZE:
        raise MalformedMessage(
            f"a {type_name} of {len(data)} octets is over the {MAX_MESSAGE_SIZE}-octet limit",
            too_long=True,
        )


def read_element(kinds: Mapping[int, Kind], type_name: str, data: bytes) -> tuple[int, Any]:
    """The tag of ``data``, one whole DER element of one of ``kinds`` (by tag), and its
    model; bounded by :data:`MAX_MESSAGE_SIZE`, or MalformedMessage."""
    check_size(type_name, data)
    tag, start, stop = tlv.header(data, 0, len(data))
    kind = kinds.get(tag)
    if kind is None:
        raise MalformedMessage(f"not a DER {type_name} (RFC 4120 Appendix A)")
    if stop != len(data):
        raise MalformedMessage(f"{len(data) - stop} octets follow the {type_name}")
    return tag, kind.read(data, start, stop)


def _codec(
    kind: Kind, type_name: str, rfc: str, cls: type[T]
) -> tuple[Callable[[bytes], T], Callable[[T], bytes]]:
    """The ``decode`` and ``encode`` functions of ``type_name`` (one for each message, so
    that no two are kept in step by hand); ``cls`` is the model type, for the checker."""

    kinds = {kind.tag: kind}

    def decode(data: bytes) -> T:
        result: T = read_element(kinds, type_name, data)[1]
        return result

    def encode(value: T) -> bytes:
        encoded: bytes = kind.write(value)
        return encoded

    decode.__doc__ = f"Decode a DER {type_name} ({rfc}); MalformedMessage if it is not one."
    encode.__doc__ = f"Encode a {type_name} in DER ({rfc})."
    return decode, encode


decode_ticket, encode_ticket = _codec(s.TICKET, "Ticket", "RFC 4120 §5.3", t.Ticket)
decode_enc_ticket_part, encode_enc_ticket_part = _codec(
    s.ENC_TICKET_PART, "EncTicketPart", "RFC 4120 §5.3", t.EncTicketPart
)
decode_ap_req, encode_ap_req = _codec(s.AP_REQ, "AP-REQ", "RFC 4120 §5.5.1", t.APReq)
decode_authenticator, encode_authenticator = _codec(
    s.AUTHENTICATOR, "Authenticator", "RFC 4120 §5.5.1", t.Authenticator
)
decode_ap_rep, encode_ap_rep = _codec(s.AP_REP, "AP-REP", "RFC 4120 §5.5.2", t.APRep)
decode_enc_ap_rep_part, encode_enc_ap_rep_part = _codec(
    s.ENC_AP_REP_PART, "EncAPRepPart", "RFC 4120 §5.5.2", t.EncAPRepPart
)
decode_krb_priv, encode_krb_priv = _codec(s.KRB_PRIV, "KRB-PRIV", "RFC 4120 §5.7.1", t.KRBPriv)
decode_enc_krb_priv_part, encode_enc_krb_priv_part = _codec(
    s.ENC_KRB_PRIV_PART, "EncKrbPrivPart", "RFC 4120 §5.7.1", t.EncKrbPrivPart
)
decode_krb_error, encode_krb_error = _codec(s.KRB_ERROR, "KRB-ERROR", "RFC 4120 §5.9.1", t.KRBError)
decode_pa_enc_timestamp, encode_pa_enc_timestamp = _codec(
    s.ENCRYPTED, "PA-ENC-TIMESTAMP", "RFC 4120 §5.2.7.2", t.EncryptedData
)
decode_pa_enc_ts_enc, encode_pa_enc_ts_enc = _codec(
    s.PA_ENC_TS_ENC, "PA-ENC-TS-ENC", "RFC 4120 §5.2.7.2", t.PAEncTsEnc
)
decode_etype_info2, encode_etype_info2 = _codec(
    s.ETYPE_INFO2, "ETYPE-INFO2", "RFC 4120 §5.2.7.5", tuple[t.ETypeInfo2Entry, ...]
)
decode_method_data, encode_method_data = _codec(
    s.METHOD_DATA, "METHOD-DATA", "RFC 4120 §5.9.1", tuple[t.PAData, ...]
)
decode_authorization_data, encode_authorization_data = _codec(
    s.AUTHDATA, "AuthorizationData", "RFC 4120 §5.2.6", tuple[t.AuthorizationDataEntry, ...]
)
decode_ad_if_relevant, encode_ad_if_relevant = _codec(
    s.AUTHDATA, "AD-IF-RELEVANT", "RFC 4120 §5.2.6.1", tuple[t.AuthorizationDataEntry, ...]
)
# The checksum of a TGS-REQ's authenticator covers the req-body's encoding (RFC 4120
# §5.4.1): the KDC takes the octets as sent (``KDCReqBody.octets``), the client encodes.
decode_kdc_req_body, encode_kdc_req_body = _codec(
    s.KDC_REQ_BODY, "KDC-REQ-BODY", "RFC 4120 §5.4.1", t.KDCReqBody
)

_AS_REQ = {s.AS_REQ.tag: s.AS_REQ}
_TGS_REQ = {s.TGS_REQ.tag: s.TGS_REQ}
_AS_REP = {s.AS_REP.tag: s.AS_REP}
_TGS_REP = {s.TGS_REP.tag: s.TGS_REP}
_KDC_REQ = {**_AS_REQ, **_TGS_REQ}
_AP_REQ_PARTS = {s.AP_REQ_PARTS.tag: s.AP_REQ_PARTS}
#: EncASRepPart and EncTGSRepPart (RFC 4120 §5.4.2), read alike.
_ENC_KDC_REP_PART = {kind.tag: kind for kind in (s.ENC_KDC_REP_PART.under(25), s.ENC_KDC_REP_PART)}


def decode_pa_tgs_req(data: bytes) -> t.APReq:
    """Decode the value of PA-TGS-REQ: an AP-REQ (RFC 4120 §5.2.7.1)."""
    return decode_ap_req(data)


def split_ap_req(data: bytes) -> t.APReqParts:
    """Decode a DER AP-REQ (RFC 4120 §5.5.1) but for its ticket, kept as the octets of its
    ``[APPLICATION 1]`` element (:func:`decode_ticket` reads them); MalformedMessage if it is
    not an AP-REQ."""
    parts: t.APReqParts = read_element(_AP_REQ_PARTS, "AP-REQ", data)[1]
    return parts


def _checked_msg_type(message: T, expected: int, type_name: str) -> T:
    if getattr(message, "msg_type", None) != expected:
        raise MalformedMessage(f"a {type_name} has msg-type {expected}")
    return message


def _kdc_message(kinds: Mapping[int, Kind], type_name: str, data: bytes) -> Any:
    """An AS/TGS request or reply of one of ``kinds``; its msg-type must be the number of
    its APPLICATION tag, so that no path reads one message as another."""
    tag, message = read_element(kinds, type_name, data)
    return _checked_msg_type(message, tag & 0x1F, type_name)


def decode_as_req(data: bytes) -> t.KDCReq:
    """Decode a DER AS-REQ (RFC 4120 §5.4.1), msg-type 10."""
    message: t.KDCReq = _kdc_message(_AS_REQ, "AS-REQ", data)
    return message


def decode_tgs_req(data: bytes) -> t.KDCReq:
    """Decode a DER TGS-REQ (RFC 4120 §5.4.1), msg-type 12."""
    message: t.KDCReq = _kdc_message(_TGS_REQ, "TGS-REQ", data)
    return message


def decode_kdc_req(data: bytes) -> t.KDCReq:
    """Decode an AS-REQ or a TGS-REQ (RFC 4120 §5.4.1), as a KDC port receives either; the
    msg-type must match the APPLICATION tag."""
    message: t.KDCReq = _kdc_message(_KDC_REQ, "KDC-REQ", data)
    return message


def encode_kdc_req(message: t.KDCReq) -> bytes:
    """Encode an AS-REQ (msg-type 10) or a TGS-REQ (12) in DER (RFC 4120 §5.4.1)."""
    return _KDC_REQ[tlv.application(message.msg_type)].write(message)


def decode_as_rep(data: bytes) -> t.KDCRep:
    """Decode a DER AS-REP (RFC 4120 §5.4.2), msg-type 11."""
    message: t.KDCRep = _kdc_message(_AS_REP, "AS-REP", data)
    return message


def decode_tgs_rep(data: bytes) -> t.KDCRep:
    """Decode a DER TGS-REP (RFC 4120 §5.4.2), msg-type 13."""
    message: t.KDCRep = _kdc_message(_TGS_REP, "TGS-REP", data)
    return message


def encode_kdc_rep(message: t.KDCRep) -> bytes:
    """Encode an AS-REP (msg-type 11) or a TGS-REP (13) in DER (RFC 4120 §5.4.2)."""
    return {11: s.AS_REP, 13: s.TGS_REP}[message.msg_type].write(message)


def decode_enc_kdc_rep_part(data: bytes) -> t.EncKDCRepPart:
    """Decode an EncASRepPart ``[APPLICATION 25]`` or EncTGSRepPart ``[APPLICATION 26]``
    (RFC 4120 §5.4.2): either is accepted in either reply, as §5.4.2 allows and MIT does."""
    part: t.EncKDCRepPart = read_element(_ENC_KDC_REP_PART, "EncKDCRepPart", data)[1]
    return part


def encode_enc_kdc_rep_part(part: t.EncKDCRepPart) -> bytes:
    """Encode an EncKDCRepPart as ``[APPLICATION 26]`` (EncTGSRepPart) for both replies.

    RFC 4120 §5.4.2 names 25 for AS replies, but MIT has always sent 26 for both, so some
    clients accept only 26; every client accepts 26 (the note in §5.4.2 says implementations
    SHOULD accept either)."""
    return s.ENC_KDC_REP_PART.write(part)


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
