"""Typed models of the RFC 4120 messages carried in DER (RFC 4120 §5, Appendix A).

Small frozen, slotted dataclasses: the rest of Orthrus handles these, never the ASN.1
library's dicts. Field names follow the ASN.1 names (``-`` becomes ``_``; ``from`` is
``from_``). Times are integer seconds since the epoch (KerberosTime, RFC 4120 §5.2.3, has
no fractional seconds); KerberosFlags are the 32-bit integer whose most significant bit is
flag 0 (RFC 4120 §5.2.8), as MIT writes them (``0xFEDCBA98``). Constant fields (pvno,
tkt-vno, authenticator-vno) are not modelled: the codec writes and checks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "AD_IF_RELEVANT",
    "PA_ENC_TIMESTAMP",
    "PA_ETYPE_INFO2",
    "PA_TGS_REQ",
    "APRep",
    "APReq",
    "APReqParts",
    "Authenticator",
    "AuthorizationDataEntry",
    "Checksum",
    "ETypeInfo2Entry",
    "EncAPRepPart",
    "EncKDCRepPart",
    "EncKrbPrivPart",
    "EncTicketPart",
    "EncryptedData",
    "EncryptionKey",
    "HostAddress",
    "KDCRep",
    "KDCReq",
    "KDCReqBody",
    "KRBError",
    "KRBPriv",
    "LastReqEntry",
    "PAData",
    "PAEncTsEnc",
    "PrincipalName",
    "Ticket",
    "TransitedEncoding",
    "find_padata",
]

#: Pre-authentication data types of RFC 4120 §7.5.2 that Orthrus reads.
PA_TGS_REQ = 1
PA_ENC_TIMESTAMP = 2
PA_ETYPE_INFO2 = 19
#: Authorization data type of RFC 4120 §5.2.6.1.
AD_IF_RELEVANT = 1

_MODEL = {"frozen": True, "slots": True}


@dataclass(**_MODEL)
class PrincipalName:
    """PrincipalName (RFC 4120 §5.2.2). Equality ignores ``name_type``: §6.2 says the type
    is a hint, and peers send NT-PRINCIPAL, NT-SRV-INST or NT-UNKNOWN for the same name."""

    name_type: int = field(compare=False)
    components: tuple[str, ...]


@dataclass(**_MODEL)
class EncryptedData:
    """EncryptedData (RFC 4120 §5.2.9); ``kvno`` is unsigned (see the schema's ``Kvno``)."""

    etype: int
    cipher: bytes
    kvno: int | None = None


@dataclass(**_MODEL)
class EncryptionKey:
    """EncryptionKey (RFC 4120 §5.2.9); the key value stays out of ``repr()``."""

    keytype: int
    keyvalue: bytes = field(repr=False)


@dataclass(**_MODEL)
class Checksum:
    """Checksum (RFC 4120 §5.2.9)."""

    cksumtype: int
    checksum: bytes


@dataclass(**_MODEL)
class HostAddress:
    """HostAddress (RFC 4120 §5.2.5)."""

    addr_type: int
    address: bytes


@dataclass(**_MODEL)
class AuthorizationDataEntry:
    """One element of AuthorizationData (RFC 4120 §5.2.6)."""

    ad_type: int
    ad_data: bytes


@dataclass(**_MODEL)
class PAData:
    """PA-DATA (RFC 4120 §5.2.7): a type and opaque bytes. Types a caller does not know are
    kept as they came and ignored (RFC 4120 §5.2.7: unknown padata SHOULD be ignored)."""

    type: int
    value: bytes


@dataclass(**_MODEL)
class TransitedEncoding:
    """TransitedEncoding (RFC 4120 §5.3)."""

    tr_type: int
    contents: bytes


@dataclass(**_MODEL)
class LastReqEntry:
    """One element of LastReq (RFC 4120 §5.4.2)."""

    lr_type: int
    lr_value: int


@dataclass(**_MODEL)
class Ticket:
    """Ticket (RFC 4120 §5.3), ``tkt-vno`` 5."""

    realm: str
    sname: PrincipalName
    enc_part: EncryptedData


@dataclass(**_MODEL)
class EncTicketPart:
    """EncTicketPart (RFC 4120 §5.3), the plaintext of a ticket's ``enc-part``."""

    flags: int
    key: EncryptionKey
    crealm: str
    cname: PrincipalName
    transited: TransitedEncoding
    authtime: int
    endtime: int
    starttime: int | None = None
    renew_till: int | None = None
    caddr: tuple[HostAddress, ...] | None = None
    authorization_data: tuple[AuthorizationDataEntry, ...] | None = None


@dataclass(**_MODEL)
class KDCReqBody:
    """KDC-REQ-BODY (RFC 4120 §5.4.1); ``etype`` in the client's order of preference."""

    kdc_options: int
    realm: str
    till: int
    nonce: int
    etype: tuple[int, ...]
    cname: PrincipalName | None = None
    sname: PrincipalName | None = None
    from_: int | None = None
    rtime: int | None = None
    addresses: tuple[HostAddress, ...] | None = None
    enc_authorization_data: EncryptedData | None = None
    additional_tickets: tuple[Ticket, ...] | None = None
    #: The DER octets this body was decoded from (None for a body built here, and for a copy
    #: made with ``dataclasses.replace``, which are encoded): what a TGS-REQ authenticator's
    #: checksum covers (RFC 4120 §5.4.1), taken as sent, as MIT's KDC takes it.
    octets: bytes | None = field(default=None, init=False, repr=False, compare=False)


@dataclass(**_MODEL)
class KDCReq:
    """AS-REQ (``msg_type`` 10) or TGS-REQ (12) (RFC 4120 §5.4.1)."""

    msg_type: int
    req_body: KDCReqBody
    padata: tuple[PAData, ...] | None = None


@dataclass(**_MODEL)
class KDCRep:
    """AS-REP (``msg_type`` 11) or TGS-REP (13) (RFC 4120 §5.4.2)."""

    msg_type: int
    crealm: str
    cname: PrincipalName
    ticket: Ticket
    enc_part: EncryptedData
    padata: tuple[PAData, ...] | None = None


@dataclass(**_MODEL)
class EncKDCRepPart:
    """EncKDCRepPart (RFC 4120 §5.4.2), the plaintext of an AS-REP's or TGS-REP's
    ``enc-part``."""

    key: EncryptionKey
    last_req: tuple[LastReqEntry, ...]
    nonce: int
    flags: int
    authtime: int
    endtime: int
    srealm: str
    sname: PrincipalName
    key_expiration: int | None = None
    starttime: int | None = None
    renew_till: int | None = None
    caddr: tuple[HostAddress, ...] | None = None


@dataclass(**_MODEL)
class APReq:
    """AP-REQ (RFC 4120 §5.5.1); also the value of PA-TGS-REQ (§5.2.7.1)."""

    ap_options: int
    ticket: Ticket
    authenticator: EncryptedData


@dataclass(**_MODEL)
class APReqParts:
    """An AP-REQ (RFC 4120 §5.5.1) with its Ticket left as the DER octets it came in (the
    whole ``[APPLICATION 1]`` element), for a reader that keys opened tickets by them and
    decodes one (:func:`orthrus.der.decode_ticket`) only when it has not opened it before."""

    ap_options: int
    ticket: bytes = field(repr=False)
    authenticator: EncryptedData


@dataclass(**_MODEL)
class Authenticator:
    """Authenticator (RFC 4120 §5.5.1), the plaintext of an AP-REQ's ``authenticator``."""

    crealm: str
    cname: PrincipalName
    cusec: int
    ctime: int
    cksum: Checksum | None = None
    subkey: EncryptionKey | None = None
    seq_number: int | None = None
    authorization_data: tuple[AuthorizationDataEntry, ...] | None = None


@dataclass(**_MODEL)
class APRep:
    """AP-REP (RFC 4120 §5.5.2)."""

    enc_part: EncryptedData


@dataclass(**_MODEL)
class EncAPRepPart:
    """EncAPRepPart (RFC 4120 §5.5.2)."""

    ctime: int
    cusec: int
    subkey: EncryptionKey | None = None
    seq_number: int | None = None


@dataclass(**_MODEL)
class KRBPriv:
    """KRB-PRIV (RFC 4120 §5.7.1)."""

    enc_part: EncryptedData


@dataclass(**_MODEL)
class EncKrbPrivPart:
    """EncKrbPrivPart (RFC 4120 §5.7.1)."""

    user_data: bytes
    s_address: HostAddress
    timestamp: int | None = None
    usec: int | None = None
    seq_number: int | None = None
    r_address: HostAddress | None = None


@dataclass(**_MODEL)
class KRBError:
    """KRB-ERROR (RFC 4120 §5.9.1). ``e_data`` is a METHOD-DATA for
    KDC_ERR_PREAUTH_REQUIRED (§5.2.7.5); see :func:`orthrus.der.encode_method_data`."""

    stime: int
    susec: int
    error_code: int
    realm: str
    sname: PrincipalName
    ctime: int | None = None
    cusec: int | None = None
    crealm: str | None = None
    cname: PrincipalName | None = None
    e_text: str | None = None
    e_data: bytes | None = None


@dataclass(**_MODEL)
class PAEncTsEnc:
    """PA-ENC-TS-ENC (RFC 4120 §5.2.7.2), the plaintext of PA-ENC-TIMESTAMP."""

    patimestamp: int
    pausec: int | None = None


@dataclass(**_MODEL)
class ETypeInfo2Entry:
    """ETYPE-INFO2-ENTRY (RFC 4120 §5.2.7.5); no ``salt`` means the default salt."""

    etype: int
    salt: str | None = None
    s2kparams: bytes | None = None


def find_padata(padata: tuple[PAData, ...] | None, padata_type: int) -> PAData | None:
    """The first element of ``padata`` of type ``padata_type``; others are skipped, so a
    type nobody knows never stops a request (RFC 4120 §5.2.7)."""
    for element in padata or ():
        if element.type == padata_type:
            return element
    return None
