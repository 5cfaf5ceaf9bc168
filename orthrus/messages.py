"""Message models of the three exchanges (RFC 4120 §5.3-§5.5), independent of any encoding.

Clear messages (``ASReq``, ``KDCRep``, ``APReq``...) travel as JSON; the ``*Part`` models and
:class:`Authenticator` travel only inside sealed parts (:mod:`orthrus.seal`). Times are
integer seconds since the epoch (KerberosTime, RFC 4120 §5.2.3); authenticators add
microseconds. Every field the peer controls has a bound, enforced when decoding.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from orthrus.enctypes import KeyBlock, enctype
from orthrus.errors import MalformedMessage
from orthrus.keys import ENCTYPE, KEY_SIZE, Key
from orthrus.principal import Principal
from orthrus.pwkdf import KDFParams

__all__ = [
    "PAOTP",
    "APRep",
    "APReq",
    "ASRep",
    "ASReq",
    "Authenticator",
    "EncAPRepPart",
    "EncKDCRepPart",
    "EncTicketPart",
    "EncryptionKey",
    "KDCReqBody",
    "PAData",
    "PAEncTimestamp",
    "SessionKeyType",
    "TGSRep",
    "TGSReq",
    "Ticket",
    "TicketFlag",
]

Time = Annotated[int, msgspec.Meta(ge=0, lt=2**40)]
Micros = Annotated[int, msgspec.Meta(ge=0, lt=1_000_000)]
Nonce = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Kvno = Annotated[int, msgspec.Meta(ge=0, lt=2**31)]
Sealed = Annotated[str, msgspec.Meta(min_length=1, max_length=48 * 1024)]
Digest = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]

TicketFlag = Literal[
    "forwardable",
    "forwarded",
    "proxiable",
    "renewable",
    "initial",
    "pre-authent",
    "transited-policy-checked",
    "ok-as-delegate",
]
#: ``forwarded`` asks for a TGT to hand to another host (RFC 4120 §2.6);
#: ``cname-in-addl-tkt`` a ticket in the name of the client of the additional ticket
#: (constrained delegation, MS-SFU §2.2.1 S4U2Proxy).
KDCOption = Literal[
    "forwardable",
    "forwarded",
    "proxiable",
    "renewable",
    "renew",
    "canonicalize",
    "cname-in-addl-tkt",
]
#: The JOSE session key type, then RFC 3962's and RFC 8009's (a DER ticket's key, read into
#: these models by :mod:`orthrus.kerberos`).
SessionKeyType = Literal[
    "A256GCM",
    "aes128-cts-hmac-sha1-96",
    "aes256-cts-hmac-sha1-96",
    "aes128-cts-hmac-sha256-128",
    "aes256-cts-hmac-sha384-192",
]
APOption = Literal["mutual-required"]

_STRUCT = {"frozen": True, "forbid_unknown_fields": True, "omit_defaults": True}


class EncryptionKey(msgspec.Struct, **_STRUCT):
    """A session key or subkey as carried inside encrypted parts (RFC 4120 §5.2.9)."""

    enctype: SessionKeyType
    value: Annotated[bytes, msgspec.Meta(min_length=16, max_length=KEY_SIZE)]

    @classmethod
    def from_key(cls, key: Key) -> EncryptionKey:
        return cls("A256GCM", key.material)

    @classmethod
    def from_keyblock(cls, key: KeyBlock) -> EncryptionKey:
        return cls(enctype(key.enctype).name, key.material)  # type: ignore[arg-type]

    def to_key(self) -> Key:
        """The JOSE key; ``MalformedMessage`` for a key of another type or size (a peer's)."""
        if self.enctype != ENCTYPE or len(self.value) != KEY_SIZE:
            raise MalformedMessage(f"a session key here is {ENCTYPE}, not {self.enctype}")
        return Key(self.value, 0, self.enctype)

    def to_keyblock(self) -> KeyBlock:
        """The RFC 3961 key; ``MalformedMessage`` for a JOSE key or a wrong size."""
        if self.enctype == ENCTYPE:
            raise MalformedMessage(f"a session key here is a Kerberos key, not {ENCTYPE}")
        return enctype(self.enctype).random_to_key(self.value)

    def __repr__(self) -> str:
        return f"EncryptionKey(enctype={self.enctype!r})"


class PAData(msgspec.Struct, **_STRUCT):
    """Pre-authentication data (RFC 4120 §5.2.7); ``value`` is a sealed part."""

    type: Literal["enc-timestamp", "otp"]
    value: Sealed


class PAOTP(msgspec.Struct, **_STRUCT):
    """PA-OTP: the second factor (RFC 6238 TOTP, :mod:`orthrus.otp`), sealed under the
    client's long-term key like PA-ENC-TIMESTAMP but with its own key usage; exactly one of
    ``code`` (the app's 6 digits) and ``recovery`` (a single-use recovery code). ``nonce``
    is the request body's: a PA-OTP copied into another AS-REQ does not open there."""

    nonce: Nonce
    code: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$")] | None = None
    recovery: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z2-7]{5}-?[A-Za-z2-7]{5}$")] | None = (
        None
    )

    def __post_init__(self) -> None:
        # A ValueError here is msgspec's ValidationError, hence MalformedMessage (codec).
        if (self.code is None) == (self.recovery is None):
            raise ValueError("PA-OTP carries exactly one of a code and a recovery code")

    def __repr__(self) -> str:
        return f"PAOTP(nonce={self.nonce})"


class PAEncTimestamp(msgspec.Struct, **_STRUCT):
    """PA-ENC-TS-ENC (RFC 4120 §5.2.7.2), sealed under the client's long-term key."""

    patimestamp: Time
    pausec: Micros


class Ticket(msgspec.Struct, **_STRUCT):
    """Ticket (RFC 4120 §5.3): the clear server name and kvno, and the sealed part."""

    server: Principal
    kvno: Kvno
    enc_part: Sealed


class KDCReqBody(msgspec.Struct, **_STRUCT):
    """KDC-REQ-BODY (RFC 4120 §5.4.1). A TGS authenticator carries a checksum of it."""

    server: Principal
    nonce: Nonce
    till: Time
    renew_till: Time | None = None
    options: Annotated[list[KDCOption], msgspec.Meta(max_length=7)] = []
    #: The evidence ticket of a ``cname-in-addl-tkt`` request (RFC 4120 §5.4.1
    #: additional-tickets): the user's ticket to the service asking.
    additional_tickets: Annotated[list[Ticket], msgspec.Meta(max_length=1)] = []


class ASReq(msgspec.Struct, tag="AS-REQ", **_STRUCT):
    """AS-REQ (RFC 4120 §5.4.1): a client asks for a ticket, usually a TGT."""

    client: Principal
    body: KDCReqBody
    padata: Annotated[list[PAData], msgspec.Meta(max_length=4)] = []


class EncTicketPart(msgspec.Struct, **_STRUCT):
    """EncTicketPart (RFC 4120 §5.3), sealed under the server's long-term key."""

    flags: list[TicketFlag]
    key: EncryptionKey
    client: Principal
    authtime: Time
    starttime: Time
    endtime: Time
    renew_till: Time | None = None
    authorization_data: str | None = None
    #: The realms crossed between the client's and this ticket's KDC, DOMAIN-X500-COMPRESS
    #: (RFC 4120 §3.3.3.2; :mod:`orthrus.crossrealm`); empty within one realm.
    transited: Annotated[str, msgspec.Meta(max_length=4096)] = ""


class APReq(msgspec.Struct, tag="AP-REQ", **_STRUCT):
    """AP-REQ (RFC 4120 §5.5.1): a ticket and an authenticator sealed under its session key."""

    ticket: Ticket
    authenticator: Sealed
    options: Annotated[list[APOption], msgspec.Meta(max_length=2)] = []


class Authenticator(msgspec.Struct, **_STRUCT):
    """Authenticator (RFC 4120 §5.5.1): who the client is and when, under the session key.

    ``checksum`` binds the request it travels with (the TGS-REQ body, or an HTTP method and
    path); ``subkey`` and ``seq`` start a session of messages (RFC 4120 §5.6-§5.7).
    """

    client: Principal
    ctime: Time
    cusec: Micros
    checksum: Digest | None = None
    subkey: EncryptionKey | None = None
    seq: Nonce | None = None


class TGSReq(msgspec.Struct, tag="TGS-REQ", **_STRUCT):
    """TGS-REQ (RFC 4120 §5.4.1): the TGT in an AP-REQ, and the request body it vouches for."""

    ap_req: APReq
    body: KDCReqBody


class EncKDCRepPart(msgspec.Struct, **_STRUCT):
    """EncKDCRepPart (RFC 4120 §5.4.2): what the KDC tells the client about its new ticket."""

    key: EncryptionKey
    nonce: Nonce
    flags: list[TicketFlag]
    authtime: Time
    starttime: Time
    endtime: Time
    server: Principal
    renew_till: Time | None = None
    #: SHA-256 binding the request as the KDC read it and the reply's clear parts (client,
    #: ticket, KDF hint): :func:`orthrus.kdcrep.reply_checksum`. RFC 6806 §11 has the KDC
    #: return a checksum of the AS-REQ for the same reason: the request body and the ticket
    #: travel in clear, and without it a change to them in transit went unnoticed.
    checksum: Digest | None = None


class ASRep(msgspec.Struct, tag="AS-REP", **_STRUCT):
    """AS-REP (RFC 4120 §5.4.2); ``enc_part`` is sealed under the client's long-term key.

    ``kdf`` tells a password client its salt and KDF parameters, as PA-ETYPE-INFO2 does
    (RFC 4120 §5.2.7.5): needed when no pre-authentication round trip told it already.
    """

    client: Principal
    ticket: Ticket
    enc_part: Sealed
    kdf: KDFParams | None = None


class TGSRep(msgspec.Struct, tag="TGS-REP", **_STRUCT):
    """TGS-REP (RFC 4120 §5.4.2); ``enc_part`` is sealed under the TGT session key or subkey."""

    client: Principal
    ticket: Ticket
    enc_part: Sealed


class EncAPRepPart(msgspec.Struct, **_STRUCT):
    """EncAPRepPart (RFC 4120 §5.5.2): the service proves it could read the authenticator."""

    ctime: Time
    cusec: Micros
    subkey: EncryptionKey | None = None
    seq: Nonce | None = None


class APRep(msgspec.Struct, tag="AP-REP", **_STRUCT):
    """AP-REP (RFC 4120 §5.5.2), sealed under the ticket's session key."""

    enc_part: Sealed
