"""GSS-API tokens of the Kerberos mechanism and of SPNEGO, in both directions.

- RFC 2743 §3.1: the framing of a context-establishment token, ``[APPLICATION 0]`` around
  the mechanism's OID and the inner token;
- RFC 4121 §4.1: the Kerberos mechanism's inner token, a two-octet TOK_ID (``01 00``
  AP-REQ, ``02 00`` AP-REP, ``03 00`` KRB-ERROR) and the DER message;
- RFC 4121 §4.1.1: the authenticator checksum of type 0x8003 (channel bindings, context
  flags, delegated credentials), a little-endian structure, not ASN.1;
- RFC 4178 §4.2: SPNEGO's NegTokenInit and NegTokenResp.

RFC 4178 §4.2's NegTokenInit and NegTokenResp are declared below with the kinds of
:mod:`orthrus.der.kinds`, as :mod:`orthrus.der.schema` declares RFC 4120's types (both are
``EXPLICIT TAGS`` modules; both SEQUENCEs are extensible, ``...``). RFC 2743 §3.1's framing
is ``[APPLICATION 0] IMPLICIT SEQUENCE { thisMech OBJECT IDENTIFIER, innerToken ANY }``:
for the Kerberos mechanism the inner token is the TOK_ID, whose two octets read as an
empty element of universal tag 1, 2 or 3, and one DER message; for SPNEGO it is one
NegotiationToken, ``CHOICE { [0] NegTokenInit, [1] NegTokenResp }``. ``reqFlags`` and
``mechListMIC`` are read and ignored: RFC 4178 §5 needs no MIC exchange when the acceptor
takes the initiator's first mechanism, the only case accepted here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from orthrus.der import tlv
from orthrus.der.codec import check_size
from orthrus.der.kinds import Enumerated, Field, Primitive, Sequence, SequenceOf
from orthrus.der.schema import FLAGS, OCTETS
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

#: The framing of every initial context token (RFC 2743 §3.1).
_FRAME = tlv.application(0)
_MECH = Primitive(tlv.OID, tlv.read_oid, tlv.oid_octets)
_TOK_IDS = (TOK_AP_REQ, TOK_AP_REP, TOK_KRB_ERROR)


def _frame(data: bytes, rfc: str) -> tuple[str, int]:
    """The mechanism OID of an RFC 2743 §3.1 token that is all of ``data``, and where the
    inner token starts; MalformedMessage if it is not one."""
    check_size("GSS-API token", data)
    tag, start, stop = tlv.header(data, 0, len(data))
    if tag != _FRAME or stop != len(data):
        raise MalformedMessage(f"not a GSS-API initial context token ({rfc})")
    tag, begin, end = tlv.header(data, start, stop)
    if tag != tlv.OID:
        raise MalformedMessage(f"a GSS-API token starts with its mechanism's OID ({rfc})")
    return tlv.read_oid(data, begin, end), end


@dataclass(frozen=True, slots=True)
class KerberosToken:
    """A context token of the Kerberos mechanism (RFC 4121 §4.1): its mechanism OID (either
    of :data:`KERBEROS_MECHS`), TOK_ID and DER message (an AP-REQ, AP-REP or KRB-ERROR)."""

    tok_id: bytes
    message: bytes
    mech: str = KRB5_OID


def encode_kerberos_token(token: KerberosToken) -> bytes:
    """The RFC 2743 §3.1 framing of a Kerberos mechanism token (RFC 4121 §4.1)."""
    return tlv.tlv(_FRAME, tlv.write_oid(token.mech) + token.tok_id + token.message)


def decode_kerberos_token(data: bytes) -> KerberosToken:
    """Read a Kerberos mechanism token (RFC 4121 §4.1): MalformedMessage if it is not one
    or names another mechanism."""
    mech, start = _frame(data, "RFC 4121 §4.1")
    return _kerberos_token(data, mech, start)


def _kerberos_token(data: bytes, mech: str, start: int) -> KerberosToken:
    """The TOK_ID and message after the mechanism OID ``mech`` at ``data[start:]``."""
    if mech not in KERBEROS_MECHS:
        raise MalformedMessage(f"the token is for mechanism {mech}, not Kerberos V5")
    tok_id = data[start : start + 2]
    if tok_id not in _TOK_IDS:
        raise MalformedMessage(f"unknown Kerberos token id {tok_id.hex()} (RFC 4121 §4.1)")
    stop = tlv.header(data, start + 2, len(data))[2]
    if stop != len(data):
        raise MalformedMessage(f"{len(data) - stop} octets follow the token (RFC 4121 §4.1)")
    return KerberosToken(tok_id, data[start + 2 :], mech)


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


_NEG_TOKEN_INIT = Sequence(
    NegTokenInit,
    (
        Field(0, "mech_types", SequenceOf(_MECH)),
        Field(1, None, FLAGS, True),
        Field(2, "mech_token", OCTETS, True),
        Field(3, None, OCTETS, True),
    ),
    extensible=True,
)
_NEG_STATES = ("accept-completed", "accept-incomplete", "reject", "request-mic")
_NEG_TOKEN_RESP = Sequence(
    NegTokenResp,
    (
        Field(0, "neg_state", Enumerated(_NEG_STATES), True),
        Field(1, "supported_mech", _MECH, True),
        Field(2, "response_token", OCTETS, True),
        Field(3, None, OCTETS, True),
    ),
    extensible=True,
)
_INIT, _RESP = tlv.context(0), tlv.context(1)


def encode_neg_token_init(token: NegTokenInit) -> bytes:
    """The initiator's first SPNEGO token, framed with the SPNEGO OID (RFC 4178 §4.2)."""
    inner = tlv.tlv(_INIT, _NEG_TOKEN_INIT.write(token))
    return tlv.tlv(_FRAME, tlv.write_oid(SPNEGO_OID) + inner)


def _negotiation_token(data: bytes, start: int, choice: int, rfc: str) -> Any:
    """The NegotiationToken that is all of ``data[start:]``, which must be ``choice``."""
    tag, begin, stop = tlv.header(data, start, len(data))
    if stop != len(data):
        raise MalformedMessage(f"{len(data) - stop} octets follow the SPNEGO token ({rfc})")
    kind = _NEG_TOKEN_INIT if choice == _INIT else _NEG_TOKEN_RESP
    if tag != choice:
        raise MalformedMessage(f"the SPNEGO token is not a {kind.cls.__name__} ({rfc})")
    begin = tlv.filling(data, begin, stop, tlv.SEQUENCE)
    if begin < 0:
        raise MalformedMessage(f"a SPNEGO token holds one SEQUENCE ({rfc})")
    return kind.read(data, begin, stop)


def decode_initial_token(data: bytes) -> NegTokenInit | KerberosToken:
    """An initiator's first token: a SPNEGO NegTokenInit (RFC 4178 §4.2.1) or, as some
    clients send in ``Authorization: Negotiate``, a bare Kerberos token (RFC 4121 §4.1)."""
    mech, start = _frame(data, "RFC 2743 §3.1")
    if mech in KERBEROS_MECHS:
        return _kerberos_token(data, mech, start)
    if mech != SPNEGO_OID:
        raise MalformedMessage(f"the token is for mechanism {mech}, neither SPNEGO nor Kerberos")
    token: NegTokenInit = _negotiation_token(data, start, _INIT, "RFC 4178 §4.2.1")
    return token


def encode_neg_token_resp(token: NegTokenResp) -> bytes:
    """A NegTokenResp (RFC 4178 §4.2.2); it carries no RFC 2743 framing."""
    return tlv.tlv(_RESP, _NEG_TOKEN_RESP.write(token))


def decode_neg_token_resp(data: bytes) -> NegTokenResp:
    """Read a NegTokenResp (RFC 4178 §4.2.2); MalformedMessage if it is not one."""
    check_size("GSS-API token", data)
    token: NegTokenResp = _negotiation_token(data, 0, _RESP, "RFC 4178 §4.2.2")
    return token


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
