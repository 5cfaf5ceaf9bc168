"""GSS-API tokens of the Kerberos mechanism and of SPNEGO, in both directions.

- RFC 2743 §3.1: the framing of a context-establishment token, ``[APPLICATION 0]`` around
  the mechanism's OID and the inner token;
- RFC 4121 §4.1: the Kerberos mechanism's inner token, a two-octet TOK_ID (``01 00``
  AP-REQ, ``02 00`` AP-REP, ``03 00`` KRB-ERROR) and the DER message;
- RFC 4121 §4.1.1: the authenticator checksum of type 0x8003 (channel bindings, context
  flags, delegated credentials), a little-endian structure, not ASN.1;
- RFC 4178 §4.2: SPNEGO's NegTokenInit and NegTokenResp.

The ASN.1 below is RFC 4178 §4.2's module with RFC 2743 §3.1's framing, compiled by
:mod:`asn1tools` like :mod:`orthrus.der.schema`. A TOK_ID's two octets read as an empty
TLV of universal tag 1, 2 or 3, so the library frames the Kerberos token too (``ANY``):
no octet of DER is written or read by hand. ``reqFlags`` and ``mechListMIC`` are read and
ignored: RFC 4178 §5 needs no MIC exchange when the acceptor takes the initiator's first
mechanism, the only case accepted here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import asn1tools

from orthrus.der import MAX_MESSAGE_SIZE
from orthrus.errors import MalformedMessage

__all__ = [
    "GSS_CHECKSUM_TYPE",
    "GSS_C_CONF_FLAG",
    "GSS_C_DELEG_FLAG",
    "GSS_C_INTEG_FLAG",
    "GSS_C_MUTUAL_FLAG",
    "GSS_C_REPLAY_FLAG",
    "GSS_C_SEQUENCE_FLAG",
    "KERBEROS_MECHS",
    "KRB5_OID",
    "MS_KRB5_OID",
    "SPNEGO_OID",
    "TOK_AP_REP",
    "TOK_AP_REQ",
    "TOK_KRB_ERROR",
    "GSSChecksum",
    "KerberosToken",
    "NegTokenInit",
    "NegTokenResp",
    "decode_initial_token",
    "decode_kerberos_token",
    "decode_neg_token_resp",
    "encode_kerberos_token",
    "encode_neg_token_init",
    "encode_neg_token_resp",
]

#: The Kerberos V5 mechanism (RFC 1964 §1, RFC 4121 §4.1).
KRB5_OID = "1.2.840.113554.1.2.2"
#: The OID Microsoft's SSPI used by mistake for the same mechanism; Windows and browsers
#: list it first in NegTokenInit, and accept it back as ``supportedMech``.
MS_KRB5_OID = "1.2.840.48018.1.2.2"
KERBEROS_MECHS = frozenset({KRB5_OID, MS_KRB5_OID})
#: SPNEGO (RFC 4178 §3).
SPNEGO_OID = "1.3.6.1.5.5.2"

#: TOK_ID of the Kerberos mechanism's context tokens (RFC 4121 §4.1).
TOK_AP_REQ = b"\x01\x00"
TOK_AP_REP = b"\x02\x00"
TOK_KRB_ERROR = b"\x03\x00"

#: The authenticator checksum type of the Kerberos mechanism (RFC 4121 §4.1.1).
GSS_CHECKSUM_TYPE = 0x8003
#: Context flags in the 0x8003 checksum (RFC 4121 §4.1.1.1, RFC 2744 §3.9.4 values).
GSS_C_DELEG_FLAG = 1
GSS_C_MUTUAL_FLAG = 2
GSS_C_REPLAY_FLAG = 4
GSS_C_SEQUENCE_FLAG = 8
GSS_C_CONF_FLAG = 16
GSS_C_INTEG_FLAG = 32

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

_SPEC: Any = asn1tools.compile_string(GSS_MODULE, "der")
# Read with the BER reader, as orthrus.der.schema explains (the DER reader's SEQUENCE OF loop).
_READER: Any = asn1tools.compile_string(GSS_MODULE, "ber")
_LIBRARY_ERRORS = (asn1tools.Error, ValueError, TypeError, IndexError, KeyError, RecursionError)


def _decode(type_name: str, data: bytes, rfc: str) -> Any:
    """The library's value of all of ``data`` as ``type_name``, or MalformedMessage."""
    if len(data) > MAX_MESSAGE_SIZE:
        raise MalformedMessage(
            f"a {type_name} of {len(data)} octets is over the {MAX_MESSAGE_SIZE}-octet limit",
            too_long=True,
        )
    try:
        value, length = _READER.decode_with_length(type_name, data)
    except _LIBRARY_ERRORS:
        raise MalformedMessage(f"not a {type_name} ({rfc})") from None
    if length != len(data):
        raise MalformedMessage(f"{len(data) - length} octets follow the {type_name} ({rfc})")
    return value


@dataclass(frozen=True, slots=True)
class KerberosToken:
    """A context token of the Kerberos mechanism (RFC 4121 §4.1): its mechanism OID (either
    of :data:`KERBEROS_MECHS`), TOK_ID and DER message (an AP-REQ, AP-REP or KRB-ERROR)."""

    tok_id: bytes
    message: bytes
    mech: str = KRB5_OID


def encode_kerberos_token(token: KerberosToken) -> bytes:
    """The RFC 2743 §3.1 framing of a Kerberos mechanism token (RFC 4121 §4.1)."""
    return bytes(
        _SPEC.encode(
            "KerberosToken",
            {"thisMech": token.mech, "tokId": token.tok_id, "message": token.message},
        )
    )


def decode_kerberos_token(data: bytes) -> KerberosToken:
    """Read a Kerberos mechanism token (RFC 4121 §4.1): MalformedMessage if it is not one
    or names another mechanism."""
    value = _decode("KerberosToken", data, "RFC 4121 §4.1")
    mech = value["thisMech"]
    if mech not in KERBEROS_MECHS:
        raise MalformedMessage(f"the token is for mechanism {mech}, not Kerberos V5")
    tok_id = bytes(value["tokId"])
    if tok_id not in (TOK_AP_REQ, TOK_AP_REP, TOK_KRB_ERROR):
        raise MalformedMessage(f"unknown Kerberos token id {tok_id.hex()} (RFC 4121 §4.1)")
    return KerberosToken(tok_id, bytes(value["message"]), mech)


@dataclass(frozen=True, slots=True)
class NegTokenInit:
    """SPNEGO's first token (RFC 4178 §4.2.1): the initiator's mechanisms, most preferred
    first, and the optimistic token of the first one."""

    mech_types: tuple[str, ...]
    mech_token: bytes | None = None


@dataclass(frozen=True, slots=True)
class NegTokenResp:
    """SPNEGO's answer (RFC 4178 §4.2.2). ``neg_state`` is ``accept-completed``,
    ``accept-incomplete``, ``reject`` or ``request-mic``."""

    neg_state: str | None = None
    supported_mech: str | None = None
    response_token: bytes | None = None


def encode_neg_token_init(token: NegTokenInit) -> bytes:
    """The initiator's first SPNEGO token, framed with the SPNEGO OID (RFC 4178 §4.2)."""
    inner: dict[str, Any] = {"mechTypes": list(token.mech_types)}
    if token.mech_token is not None:
        inner["mechToken"] = token.mech_token
    return bytes(
        _SPEC.encode(
            "InitialNegToken",
            {"thisMech": SPNEGO_OID, "innerContextToken": ("negTokenInit", inner)},
        )
    )


def decode_initial_token(data: bytes) -> NegTokenInit | KerberosToken:
    """An initiator's first token: a SPNEGO NegTokenInit (RFC 4178 §4.2.1) or, as some
    clients send in ``Authorization: Negotiate``, a bare Kerberos token (RFC 4121 §4.1)."""
    mech = _decode("GSSAPI-Header", data, "RFC 2743 §3.1")["thisMech"]
    if mech in KERBEROS_MECHS:
        return decode_kerberos_token(data)
    if mech != SPNEGO_OID:
        raise MalformedMessage(f"the token is for mechanism {mech}, neither SPNEGO nor Kerberos")
    choice, inner = _decode("InitialNegToken", data, "RFC 4178 §4.2")["innerContextToken"]
    if choice != "negTokenInit":
        raise MalformedMessage("SPNEGO's first token is a NegTokenInit (RFC 4178 §4.2.1)")
    mech_token = inner.get("mechToken")
    return NegTokenInit(
        tuple(inner["mechTypes"]), None if mech_token is None else bytes(mech_token)
    )


def encode_neg_token_resp(token: NegTokenResp) -> bytes:
    """A NegTokenResp (RFC 4178 §4.2.2); it carries no RFC 2743 framing."""
    inner: dict[str, Any] = {}
    if token.neg_state is not None:
        inner["negState"] = token.neg_state
    if token.supported_mech is not None:
        inner["supportedMech"] = token.supported_mech
    if token.response_token is not None:
        inner["responseToken"] = token.response_token
    return bytes(_SPEC.encode("NegotiationToken", ("negTokenResp", inner)))


def decode_neg_token_resp(data: bytes) -> NegTokenResp:
    """Read a NegTokenResp (RFC 4178 §4.2.2); MalformedMessage if it is not one."""
    choice, inner = _decode("NegotiationToken", data, "RFC 4178 §4.2.2")
    if choice != "negTokenResp":
        raise MalformedMessage("the acceptor's token is a NegTokenResp (RFC 4178 §4.2.2)")
    response = inner.get("responseToken")
    return NegTokenResp(
        inner.get("negState"),
        inner.get("supportedMech"),
        None if response is None else bytes(response),
    )


#: Lgth, the length of Bnd (RFC 4121 §4.1.1): always 16.
_BINDINGS_LENGTH = 16
_NO_BINDINGS = bytes(_BINDINGS_LENGTH)
_HEAD = struct.Struct("<I16sI")  # Lgth, Bnd, Flags
_DELEGATION = struct.Struct("<HH")  # DlgOpt (1), Dlgth


@dataclass(frozen=True, slots=True)
class GSSChecksum:
    """The authenticator checksum of type 0x8003 (RFC 4121 §4.1.1): the MD5 of the channel
    bindings (zeros for none), the context flags, and with ``GSS_C_DELEG_FLAG`` a KRB-CRED
    of delegated credentials. Extensions after it are kept unread."""

    flags: int
    bindings: bytes = _NO_BINDINGS
    delegation: bytes | None = None

    def encode(self) -> bytes:
        """The checksum's octets, little-endian as RFC 4121 §4.1.1 lays them out."""
        out = _HEAD.pack(_BINDINGS_LENGTH, self.bindings, self.flags)
        if self.delegation is not None:
            out += _DELEGATION.pack(1, len(self.delegation)) + self.delegation
        return out

    @classmethod
    def decode(cls, data: bytes) -> GSSChecksum:
        """Read the checksum's octets; MalformedMessage if they are short or inconsistent."""
        if len(data) < _HEAD.size:
            raise MalformedMessage(
                f"a 0x8003 checksum has at least {_HEAD.size} octets, not {len(data)}"
            )
        length, bindings, flags = _HEAD.unpack_from(data)
        if length != _BINDINGS_LENGTH:
            raise MalformedMessage(f"a 0x8003 checksum's Lgth is 16, not {length}")
        delegation = None
        if flags & GSS_C_DELEG_FLAG:
            end = _HEAD.size + _DELEGATION.size
            if len(data) < end:
                raise MalformedMessage("the 0x8003 checksum's DELEG flag is set without Deleg")
            option, size = _DELEGATION.unpack_from(data, _HEAD.size)
            if option != 1 or len(data) < end + size:
                raise MalformedMessage("the 0x8003 checksum's delegated credentials are cut")
            delegation = data[end : end + size]
        return cls(flags, bindings, delegation)
