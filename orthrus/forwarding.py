"""Handing a forwarded TGT to a service (RFC 4120 §2.6, §3.6 KRB-CRED), on the HTTP wire.

The client asks the KDC for a FORWARDED TGT (:func:`orthrus.tgs_exchange.make_forward_req`)
only when the service's ticket is OK-AS-DELEGATE, and sends it with the AP-REQ in the header
``Orthrus-Forwarded-TGT``: the credential (ticket, session key, flags, times) sealed under the
service ticket's session key with KRB-CRED's key usage (14, RFC 4120 §7.5.1), as KRB-CRED's
encrypted part is (§5.8.1). Only that service and the client can open it. The service checks
that it is a TGT of the realm of the client who authenticated, for that client, and valid
now.
"""

from __future__ import annotations

from orthrus.codec import decode, encode
from orthrus.credentials import Credential
from orthrus.errors import APError, MalformedMessage
from orthrus.keys import Entropy, Key, KeyUsage
from orthrus.messages import Ticket
from orthrus.principal import Principal, krbtgt
from orthrus.seal import open_sealed, seal

__all__ = ["FORWARDED_TGT_HEADER", "open_forwarded_tgt", "seal_forwarded_tgt"]

#: The request header carrying a forwarded TGT next to ``Authorization: Ticket``.
FORWARDED_TGT_HEADER = "Orthrus-Forwarded-TGT"


def seal_forwarded_tgt(tgt: Credential, session_key: Key, entropy: Entropy) -> str:
    """The header value: ``tgt`` sealed under the service ticket's ``session_key``."""
    return seal(session_key, KeyUsage.KRB_CRED_ENC_PART, encode(tgt), entropy)


def open_forwarded_tgt(
    token: str, session_key: Key, client: Principal, now: float, max_skew: int
) -> Credential:
    """The forwarded TGT of ``client`` sealed in ``token`` (RFC 4120 §3.6.1's checks on the
    KRB-CRED received): ``KRB_AP_ERR_MODIFIED`` if it does not open under the session key,
    is not a TGT of the client's realm, or names another client;
    ``KRB_AP_ERR_TKT_EXPIRED`` if it ended. Its flags and times are the client's word: the
    KDC checks the ticket itself when the service uses it."""
    try:
        tgt = decode(open_sealed(session_key, KeyUsage.KRB_CRED_ENC_PART, token), Credential)
    except MalformedMessage:
        raise APError("KRB_AP_ERR_MODIFIED", "the forwarded TGT does not decode") from None
    if tgt.client != client:
        raise APError(
            "KRB_AP_ERR_MODIFIED",
            f"the forwarded TGT is {tgt.client}'s, not {client}'s, who authenticated",
        )
    ticket = tgt.ticket
    if (
        tgt.server != krbtgt(client.realm)
        or not isinstance(ticket, Ticket)  # a DER ticket (krb5://) is never forwarded here
        or ticket.server != tgt.server
    ):
        raise APError(
            "KRB_AP_ERR_MODIFIED", f"the forwarded credential is not a TGT of {client.realm}"
        )
    if now > tgt.endtime + max_skew:
        raise APError("KRB_AP_ERR_TKT_EXPIRED", "the forwarded TGT has expired; log in again")
    return tgt
