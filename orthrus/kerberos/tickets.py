"""Tickets and KDC reply parts on the Kerberos wire: DER under RFC 3961 enctypes.

The contents are the core's (:func:`orthrus.kdcrep.ticket_part`, KDC-signed authorization
data included); this module only writes them as RFC 4120 §5.3 and §5.4.2 have them, seals
them, and reads a ticket back into the core's model for the checks. The KDC's signed
authorization data travels inside AD-IF-RELEVANT (RFC 4120 §5.2.6.1) under a local ad-type:
MIT and Heimdal clients ignore it; the Orthrus KDC and services check it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from orthrus.b64 import b64u_encode
from orthrus.crossrealm import DOMAIN_X500_COMPRESS
from orthrus.der import (
    AD_IF_RELEVANT,
    AuthorizationDataEntry,
    EncryptedData,
    LastReqEntry,
    TransitedEncoding,
    decode_enc_ticket_part,
    encode_ad_if_relevant,
    encode_enc_kdc_rep_part,
    encode_enc_ticket_part,
    expand_authorization_data,
)
from orthrus.der import EncKDCRepPart as DerEncKDCRepPart
from orthrus.der import EncryptionKey as DerEncryptionKey
from orthrus.der import EncTicketPart as DerEncTicketPart
from orthrus.der import Ticket as DerTicket
from orthrus.enctypes import KeyBlock, enctype
from orthrus.errors import APError, MalformedMessage
from orthrus.kerberos.names import flags_from_bits, flags_to_bits, principal_name, principal_of
from orthrus.keys import Entropy, KeyUsage
from orthrus.messages import EncKDCRepPart, EncryptionKey, EncTicketPart
from orthrus.principal import Principal
from orthrus.realm import KerberosKey, PrincipalEntry

__all__ = [
    "AD_ORTHRUS_AUTHZ",
    "decrypt",
    "encrypt",
    "kerberos_ticket_id",
    "open_kerberos_ticket",
    "read_kerberos_ticket",
    "reply_enc_part",
    "seal_kerberos_ticket",
    "select_server_key",
    "server_key",
]

#: The ad-type of Orthrus's KDC-signed authorization data (a compact JWS, :mod:`orthrus.authz`)
#: inside AD-IF-RELEVANT. Negative ad-types are for local use (RFC 4120 §7.5.4).
AD_ORTHRUS_AUTHZ = -5010


def encrypt(key: KeyBlock, usage: KeyUsage, plaintext: bytes, entropy: Entropy) -> bytes:
    """Encrypt with ``key``'s enctype (RFC 3961 §3), a fresh confounder from ``entropy``."""
    kind = enctype(key.enctype)
    return kind.encrypt(key, int(usage), plaintext, entropy(kind.confounder_size))


def decrypt(key: KeyBlock, usage: KeyUsage, data: EncryptedData) -> bytes:
    """The plaintext of ``data`` under ``key``: ``KRB_AP_ERR_BAD_INTEGRITY`` if it does not
    open, ``KRB_AP_ERR_MODIFIED`` if it claims another enctype than the key's."""
    if data.etype != key.enctype:
        raise APError(
            "KRB_AP_ERR_MODIFIED",
            f"the message is encrypted with enctype {data.etype}, not {key.enctype} as its key",
        )
    return enctype(key.enctype).decrypt(key, int(usage), data.cipher)


def _authorization_data(part: EncTicketPart) -> tuple[AuthorizationDataEntry, ...] | None:
    if part.authorization_data is None:
        return None
    signed = AuthorizationDataEntry(AD_ORTHRUS_AUTHZ, part.authorization_data.encode("ascii"))
    return (AuthorizationDataEntry(AD_IF_RELEVANT, encode_ad_if_relevant((signed,))),)


def seal_kerberos_ticket(
    part: EncTicketPart, server: Principal, key: KeyBlock, kvno: int, entropy: Entropy
) -> DerTicket:
    """The ticket ``part`` as RFC 4120 §5.3 has it, encrypted for ``server`` (usage 2)."""
    der = DerEncTicketPart(
        flags=flags_to_bits(part.flags),
        key=DerEncryptionKey(enctype(part.key.enctype).number, part.key.value),
        crealm=part.client.realm,
        cname=principal_name(part.client),
        transited=TransitedEncoding(DOMAIN_X500_COMPRESS, part.transited.encode("utf-8")),
        authtime=part.authtime,
        starttime=part.starttime,
        endtime=part.endtime,
        renew_till=part.renew_till,
        authorization_data=_authorization_data(part),
    )
    cipher = encrypt(key, KeyUsage.TICKET, encode_enc_ticket_part(der), entropy)
    return DerTicket(server.realm, principal_name(server), EncryptedData(key.enctype, cipher, kvno))


def server_key(entry: PrincipalEntry, data: EncryptedData) -> KeyBlock:
    """The key of ``entry`` that ``data`` names by enctype and kvno (RFC 4120 §3.2.3):
    ``KRB_AP_ERR_BADKEYVER`` naming what is available if there is none."""
    return select_server_key(entry.principal, entry.kerberos_keys, entry.kvno, data)


def select_server_key(
    owner: Principal, keys: Sequence[KerberosKey], current_kvno: int | None, data: EncryptedData
) -> KeyBlock:
    """The key among ``keys`` of ``owner`` that ``data`` names by enctype and kvno (RFC 4120
    §3.2.3; no kvno: ``current_kvno``, or the newest of the enctype when that is None, as a
    keytab has it): ``KRB_AP_ERR_BADKEYVER`` naming what is available if there is none."""
    kvno = current_kvno if data.kvno is None else data.kvno
    matching = [k for k in keys if k.enctype == data.etype and kvno in (None, k.kvno)]
    if not matching:
        have = ", ".join(f"{k.enctype}/kvno {k.kvno}" for k in keys) or "none"
        raise APError(
            "KRB_AP_ERR_BADKEYVER",
            f"the ticket is encrypted with enctype {data.etype}, kvno {kvno} of "
            f"{owner}, which has no such key (it has: {have}); get a new ticket",
        )
    return max(matching, key=lambda k: k.kvno).key


def open_kerberos_ticket(ticket: DerTicket, entry: PrincipalEntry) -> EncTicketPart:
    """Decrypt a DER ticket for ``entry`` and read it into the core's model: ``BADKEYVER``,
    ``BAD_INTEGRITY`` or ``MODIFIED`` as RFC 4120 §3.2.3 orders them."""
    return read_kerberos_ticket(ticket, server_key(entry, ticket.enc_part))


def read_kerberos_ticket(ticket: DerTicket, key: KeyBlock) -> EncTicketPart:
    """Decrypt a DER ticket with its server's ``key`` and read it into the core's model
    (RFC 4120 §5.3): ``BAD_INTEGRITY`` or ``MODIFIED`` if it does not open or read."""
    plaintext = decrypt(key, KeyUsage.TICKET, ticket.enc_part)
    try:
        der = decode_enc_ticket_part(plaintext)
        if der.transited.tr_type != DOMAIN_X500_COMPRESS:
            raise MalformedMessage(f"transited encoding {der.transited.tr_type} is not known")
        return EncTicketPart(
            flags=flags_from_bits(der.flags),
            key=EncryptionKey.from_keyblock(
                enctype(der.key.keytype).random_to_key(der.key.keyvalue)
            ),
            client=principal_of(der.cname, der.crealm),
            authtime=der.authtime,
            starttime=der.authtime if der.starttime is None else der.starttime,
            endtime=der.endtime,
            renew_till=der.renew_till,
            authorization_data=_signed_data(der.authorization_data),
            transited=der.transited.contents.decode("utf-8"),
        )
    except (MalformedMessage, UnicodeDecodeError) as exc:
        raise APError("KRB_AP_ERR_MODIFIED", "the ticket decrypted to garbage") from exc


def _signed_data(entries: tuple[AuthorizationDataEntry, ...] | None) -> str | None:
    for entry in expand_authorization_data(entries or ()):
        if entry.ad_type == AD_ORTHRUS_AUTHZ:
            return entry.ad_data.decode("ascii")
    return None


def reply_enc_part(
    part: EncKDCRepPart, key: KeyBlock, usage: KeyUsage, kvno: int | None, entropy: Entropy
) -> EncryptedData:
    """The reply part (RFC 4120 §5.4.2) in DER, encrypted under the client's key (AS, usage
    3) or the TGT session key or subkey (TGS, usage 8 or 9)."""
    der = DerEncKDCRepPart(
        key=DerEncryptionKey(enctype(part.key.enctype).number, part.key.value),
        last_req=(LastReqEntry(0, part.authtime),),
        nonce=part.nonce,
        flags=flags_to_bits(part.flags),
        authtime=part.authtime,
        starttime=part.starttime,
        endtime=part.endtime,
        renew_till=part.renew_till,
        srealm=part.server.realm,
        sname=principal_name(part.server),
    )
    cipher = encrypt(key, usage, encode_enc_kdc_rep_part(der), entropy)
    return EncryptedData(key.enctype, cipher, kvno)


def replay_entry(server: Principal, usage: KeyUsage, data: EncryptedData) -> bytes:
    """What a replay cache remembers of an authenticator: its ciphertext, hashed, with the
    server and usage (a ciphertext has one DER form: no two spellings of one message)."""
    return hashlib.sha256(b"%d|%s|" % (usage, str(server).encode()) + data.cipher).digest()


def kerberos_ticket_id(ticket: DerTicket) -> str:
    """A public identifier of a DER ticket (a hash of its ciphertext), for logs, as
    :func:`orthrus.session_token.ticket_id` is for the JOSE wire's."""
    return b64u_encode(hashlib.sha256(ticket.enc_part.cipher).digest()[:16])
