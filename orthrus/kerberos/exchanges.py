"""The AS and TGS exchanges on the Kerberos wire (RFC 4120 §3.1, §3.3), as MIT's clients
send them: the request is read (DER, RFC 3961 enctypes), the core's checks decide
(:mod:`orthrus.as_exchange`, :mod:`orthrus.tgs_exchange`, :mod:`orthrus.ap` — the same
functions, in the same order, as for the JSON wire), and the reply is written back in DER.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orthrus.ap import OpenedAPReq
from orthrus.as_exchange import as_entries, as_terms, check_preauth
from orthrus.der import (
    PA_ENC_TIMESTAMP,
    PA_ETYPE_INFO2,
    PA_TGS_REQ,
    ETypeInfo2Entry,
    KDCRep,
    KDCReq,
    PAData,
    Ticket,
    decode_pa_enc_timestamp,
    decode_pa_enc_ts_enc,
    decode_pa_tgs_req,
    encode_etype_info2,
    encode_kdc_req_body,
    encode_method_data,
    find_padata,
)
from orthrus.der import KDCReqBody as DerKDCReqBody
from orthrus.enctypes import ENCTYPES, KeyBlock, checksum_type, enctype
from orthrus.errors import APError, KDCError, MalformedMessage
from orthrus.kdcrep import TicketTerms, reply_part, ticket_part
from orthrus.kerberos.ap_req import open_kerberos_authenticator
from orthrus.kerberos.names import kdc_options, principal_name, principal_of
from orthrus.kerberos.tickets import (
    decrypt,
    open_kerberos_ticket,
    reply_enc_part,
    seal_kerberos_ticket,
    server_key,
)
from orthrus.keys import KeyUsage
from orthrus.messages import EncKDCRepPart, EncryptionKey, KDCReqBody
from orthrus.principal import Principal
from orthrus.realm import KDCContext, KerberosKey, OpenedTGT, PrincipalEntry
from orthrus.tgs_exchange import (
    check_tgs_req,
    recall_tgt,
    remember_tgt,
    tgs_entry,
    tgt_memo_key,
)

__all__ = ["AS_REP", "TGS_REP", "handle_kerberos_as", "handle_kerberos_tgs"]

AS_REP = 11
TGS_REP = 13
#: ``e_data`` of a KRB-ERROR (RFC 4120 §5.9.1), carried in a ``ProtocolError``'s data.
E_DATA = "e_data"


def core_body(body: DerKDCReqBody) -> KDCReqBody:
    """The part of a KDC-REQ-BODY (RFC 4120 §5.4.1) the core's checks read."""
    return KDCReqBody(
        server=principal_of(body.sname, body.realm),
        nonce=body.nonce,
        till=body.till,
        renew_till=body.rtime,
        options=kdc_options(body.kdc_options),
    )


def _first_key(asked: Sequence[int], entry: PrincipalEntry, what: str) -> KerberosKey:
    """The current key of ``entry`` of the first enctype in ``asked`` that it has (RFC 4120
    §3.1.3: the client's order decides), else ``KDC_ERR_ETYPE_NOSUPP``."""
    for number in asked:
        if number in ENCTYPES:
            found = entry.kerberos_key(number)
            if found is not None:
                return found
    if not entry.kerberos_keys:
        why = (
            f"{entry.principal} has no Kerberos keys yet (made before they existed): an "
            "administrator makes them with 'orthrus-kdc cpw' (a user's password) or "
            "'orthrus-kdc rotate' (a service or krbtgt)"
        )
    else:
        mine = ", ".join(
            enctype(k.enctype).name for k in entry.kerberos_keys if k.kvno == entry.kvno
        )
        why = f"{entry.principal} has keys of {mine}; allow one of them in krb5.conf"
    raise KDCError(
        "KDC_ERR_ETYPE_NOSUPP", f"no {what} key of the encryption types asked for: {why}"
    )


class _EncTimestamp:
    """PA-ENC-TIMESTAMP (RFC 4120 §5.2.7.2) and the PA-ETYPE-INFO2 that tells a client how
    to make its key (§5.2.7.5), for :func:`orthrus.as_exchange.check_preauth`."""

    def __init__(self, req: KDCReq, reply_key: KerberosKey) -> None:
        self._padata = find_padata(req.padata, PA_ENC_TIMESTAMP)
        self._reply_key = reply_key

    def offered(self) -> bool:
        return self._padata is not None

    def hint(self, client: PrincipalEntry) -> Mapping[str, Any]:
        return {
            E_DATA: encode_method_data(
                (
                    PAData(PA_ETYPE_INFO2, etype_info2(self._reply_key)),
                    PAData(PA_ENC_TIMESTAMP, b""),
                )
            )
        }

    def open(self, client: PrincipalEntry) -> tuple[float, KeyBlock]:
        if self._padata is None:
            raise MalformedMessage("the request carries no encrypted timestamp")
        sealed = decode_pa_enc_timestamp(self._padata.value)
        if sealed.kvno is not None and sealed.kvno != client.kvno:
            raise APError("KRB_AP_ERR_BADKEYVER", "the timestamp is not under the current key")
        found = client.kerberos_key(sealed.etype)
        if found is None:
            raise MalformedMessage(f"{client.principal} has no key of enctype {sealed.etype}")
        stamp = decode_pa_enc_ts_enc(decrypt(found.key, KeyUsage.AS_REQ_PA_ENC_TIMESTAMP, sealed))
        return stamp.patimestamp + (stamp.pausec or 0) / 1e6, found.key


def etype_info2(key: KerberosKey) -> bytes:
    """PA-ETYPE-INFO2 (RFC 4120 §5.2.7.5) for ``key``: its salt and PBKDF2 iteration count
    (``s2kparams``, RFC 3962 §4 / RFC 8009 §4)."""
    entry = ETypeInfo2Entry(
        key.enctype,
        None if key.salt is None else key.salt.decode("latin-1"),
        None if key.iterations is None else key.iterations.to_bytes(4, "big"),
    )
    return encode_etype_info2((entry,))


def handle_kerberos_as(req: KDCReq, ctx: KDCContext, now: float) -> KDCRep:
    """Answer a DER AS-REQ (RFC 4120 §3.1.2-§3.1.3) or raise the error that applies."""
    body = req.req_body
    client_name = principal_of(body.cname, body.realm)
    neutral = core_body(body)
    client, server = as_entries(client_name, neutral.server, ctx)
    if client.requires_otp:
        # MIT's OTP (RFC 6560) is a RADIUS bridge, not TOTP: the code travels only in the
        # JSON dialect's PA-OTP, so no DER request can carry this principal's second factor.
        raise KDCError(
            "KDC_ERR_POLICY",
            f"{client.principal} logs in with a one-time code, which only the Orthrus client "
            "sends: use 'orthrus kinit' (JSON API), not a Kerberos V5 kinit",
        )
    reply_key = _first_key(body.etype, client, "client")
    session = _first_key(body.etype, server, "server")
    flags: tuple[str, ...] = ("initial",)
    if client.requires_preauth:
        check_preauth(client, _EncTimestamp(req, reply_key), ctx, now)
        flags += ("pre-authent",)
    terms = as_terms(neutral, client, server, flags, ctx, now)
    ticket, part = _issue(terms, server, session, neutral.nonce, ctx)
    return KDCRep(
        msg_type=AS_REP,
        crealm=client.principal.realm,
        cname=principal_name(client.principal),
        ticket=ticket,
        enc_part=reply_enc_part(
            part, reply_key.key, KeyUsage.AS_REP_ENC_PART, reply_key.kvno, ctx.entropy
        ),
        padata=(PAData(PA_ETYPE_INFO2, etype_info2(reply_key)),),
    )


def _issue(
    terms: TicketTerms,
    server: PrincipalEntry,
    session: KerberosKey,
    nonce: int,
    ctx: KDCContext,
) -> tuple[Ticket, EncKDCRepPart]:
    """A ticket for ``server`` under its strongest current key, with a new session key of
    ``session``'s enctype, and the reply part (the core's contents, in DER)."""
    kind = enctype(session.enctype)
    session_key = EncryptionKey.from_keyblock(kind.random_to_key(ctx.entropy(kind.key_size)))
    part = ticket_part(terms, server, session_key, ctx)
    # kerberos_keys is strongest first; a server that had none was refused by _first_key.
    strongest = next(k for k in server.kerberos_keys if k.kvno == server.kvno)
    ticket = seal_kerberos_ticket(
        part, server.principal, strongest.key, strongest.kvno, ctx.entropy
    )
    return ticket, reply_part(part, server.principal, nonce)


@dataclass(frozen=True, slots=True)
class _GatheredTGSReq:
    """A TGS-REQ's TGT and authenticator opened (RFC 4120 §3.3.2), what the authenticator's
    checksum must be (the req-body's, under the session key, usage 6), and whether the KDC
    knew the TGT already (:func:`orthrus.tgs_exchange.recall_tgt`)."""

    opened: OpenedAPReq[KeyBlock]
    tgs: PrincipalEntry
    binding: bytes
    memo: bytes
    known: OpenedTGT | None


def _open_tgs_req(req: KDCReq, ctx: KDCContext, now: float) -> _GatheredTGSReq:
    """Gather: PA-TGS-REQ's TGT (or the KDC's memory of it) and authenticator, opened."""
    padata = find_padata(req.padata, PA_TGS_REQ)
    if padata is None:
        raise MalformedMessage("a TGS-REQ carries its TGT in PA-TGS-REQ; this one has none")
    ap_req = decode_pa_tgs_req(padata.value)
    sealed_tgt = ap_req.ticket.enc_part
    tgt_server = principal_of(ap_req.ticket.sname, ap_req.ticket.realm)
    tgs = tgs_entry(tgt_server, ctx)
    memo = tgt_memo_key(
        b"der%d" % sealed_tgt.etype, tgt_server, sealed_tgt.kvno or 0, sealed_tgt.cipher
    )
    known = recall_tgt(ctx, memo, now)
    if known is not None and isinstance(known.session_key, KeyBlock):
        server_key(tgs, sealed_tgt)  # its key version is still there
        tgt, session = known.part, known.session_key
    else:
        tgt = open_kerberos_ticket(ap_req.ticket, tgs)
        session = tgt.key.to_keyblock()
    opened, sent = open_kerberos_authenticator(
        ap_req, tgt_server, tgt, session, KeyUsage.TGS_REQ_AUTHENTICATOR
    )
    binding = b""
    if sent.cksum is not None:
        kind = checksum_type(sent.cksum.cksumtype)
        if kind.enctype.number != session.enctype:
            raise APError(
                "KRB_AP_ERR_INAPP_CKSUM",
                f"checksum type {kind.name} does not go with the session key's enctype",
            )
        # The octets as sent (MIT's KDC checksums them so too); a body built here is encoded.
        body = req.req_body.octets or encode_kdc_req_body(req.req_body)
        binding = kind.enctype.checksum(session, KeyUsage.TGS_REQ_AUTH_CHECKSUM, body)
    return _GatheredTGSReq(opened, tgs, binding, memo, known)


def handle_kerberos_tgs(req: KDCReq, ctx: KDCContext, now: float) -> KDCRep:
    """Answer a DER TGS-REQ (RFC 4120 §3.3.2-§3.3.3) or raise the error that applies."""
    gathered = _open_tgs_req(req, ctx, now)
    opened = gathered.opened
    neutral = core_body(req.req_body)
    known = gathered.known
    grant = check_tgs_req(opened, neutral, gathered.tgs, gathered.binding, ctx, now, known)
    remember_tgt(ctx, gathered.memo, opened, grant, known)
    session = _first_key(req.req_body.etype, grant.server, "server")
    ticket, part = _issue(grant.terms, grant.server, session, neutral.nonce, ctx)
    subkey = opened.authenticator.subkey
    reply_key, usage = (
        (subkey.to_keyblock(), KeyUsage.TGS_REP_ENC_PART_SUBKEY)
        if subkey
        else (opened.session_key, KeyUsage.TGS_REP_ENC_PART_SESSKEY)
    )
    client: Principal = grant.tgt.client
    return KDCRep(
        msg_type=TGS_REP,
        crealm=client.realm,
        cname=principal_name(client),
        ticket=ticket,
        enc_part=reply_enc_part(part, reply_key, usage, None, ctx.entropy),
    )
