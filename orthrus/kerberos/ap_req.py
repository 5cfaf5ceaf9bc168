"""The AP-REQ on the Kerberos wire (RFC 4120 §3.2.3, §5.5.1): its authenticator opened and
read into the core's model, for the same checks as every AP-REQ (:func:`orthrus.ap.check_opened`).

Both readers of a DER AP-REQ use it: the KDC for the TGT in PA-TGS-REQ
(:mod:`orthrus.kerberos.exchanges`, usage 7) and a service for ``Authorization: Negotiate``
(:mod:`orthrus.kerberos.gss`, usage 11).
"""

from __future__ import annotations

from orthrus.ap import OpenedAPReq
from orthrus.der import APReq, APReqParts, decode_authenticator
from orthrus.der import Authenticator as DerAuthenticator
from orthrus.enctypes import KeyBlock, enctype
from orthrus.errors import APError, MalformedMessage
from orthrus.kerberos.names import principal_of
from orthrus.kerberos.tickets import decrypt, replay_entry
from orthrus.keys import KeyUsage
from orthrus.messages import Authenticator, EncryptionKey, EncTicketPart
from orthrus.principal import Principal

__all__ = ["AP_OPTION_MUTUAL_REQUIRED", "open_kerberos_authenticator"]

#: APOptions ``mutual-required`` (RFC 4120 §5.5.1), bit 2 of the KerberosFlags.
AP_OPTION_MUTUAL_REQUIRED = 1 << (31 - 2)


def open_kerberos_authenticator(
    ap_req: APReq | APReqParts,
    server: Principal,
    ticket: EncTicketPart,
    session: KeyBlock,
    usage: KeyUsage,
) -> tuple[OpenedAPReq[KeyBlock], DerAuthenticator]:
    """Decrypt and read the authenticator of ``ap_req`` (whole, or with its ticket as octets:
    only its options and authenticator are read here) under the session key of its opened
    ``ticket`` (``KRB_AP_ERR_BAD_INTEGRITY``/``MODIFIED`` if it does not open or read):
    the core's view of the request, and the authenticator as sent (for its checksum)."""
    plaintext = decrypt(session, usage, ap_req.authenticator)
    try:
        sent = decode_authenticator(plaintext)
    except MalformedMessage as exc:
        raise APError("KRB_AP_ERR_MODIFIED", "the authenticator decrypted to garbage") from exc
    authenticator = Authenticator(
        client=principal_of(sent.cname, sent.crealm),
        ctime=sent.ctime,
        cusec=sent.cusec,
        checksum=None if sent.cksum is None else sent.cksum.checksum,
        subkey=None
        if sent.subkey is None
        else EncryptionKey.from_keyblock(
            enctype(sent.subkey.keytype).random_to_key(sent.subkey.keyvalue)
        ),
        seq=sent.seq_number,
    )
    opened = OpenedAPReq(
        server,
        ticket,
        authenticator,
        session,
        replay_entry(server, usage, ap_req.authenticator),
        bool(ap_req.ap_options & AP_OPTION_MUTUAL_REQUIRED),
    )
    return opened, sent
