"""The Ticket-Granting Service exchange (RFC 4120 §3.3): service tickets and renewal.

The client proves it holds a TGT by sending it with an authenticator sealed under the TGT
session key; the authenticator's checksum binds the request body, so the body cannot be
changed in transit. The KDC side is :func:`handle_tgs_req`; the client side is
:func:`make_tgs_req` and :func:`read_tgs_rep`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import msgspec

from orthrus.ap import APRules, AuthenticatorFields, make_ap_req, verify_ap_req
from orthrus.codec import body_checksum
from orthrus.credentials import Credential
from orthrus.errors import APError, KDCError
from orthrus.kdcrep import (
    ReplyExpectation,
    TicketTerms,
    grant_times,
    issue_ticket,
    read_kdc_reply,
    reply_checksum,
    seal_reply,
)
from orthrus.keys import Entropy, Key, KeyUsage
from orthrus.messages import EncTicketPart, KDCReqBody, TGSRep, TGSReq
from orthrus.principal import Principal, krbtgt
from orthrus.realm import KDCContext, PrincipalEntry, ticket_server
from orthrus.replay import check_replay

__all__ = ["TGSRequest", "handle_tgs_req", "make_tgs_req", "read_tgs_rep"]


def _tgs_entry(req: TGSReq, ctx: KDCContext) -> PrincipalEntry:
    server = req.ap_req.ticket.server
    if not server.is_tgs:
        raise APError(
            "KRB_AP_ERR_NOT_US",
            f"the ticket offered is for {server}, not a ticket-granting ticket; "
            "run 'orthrus kinit' to get a TGT",
        )
    local_tgs = krbtgt(ctx.policy.realm)
    if server != local_tgs:
        raise KDCError(
            "KDC_ERR_WRONG_REALM",
            f"the TGT is for {server}; this KDC serves {ctx.policy.realm} and only accepts "
            f"{local_tgs}",
        )
    entry = ctx.lookup(local_tgs)
    if entry is None:
        raise KDCError("KDC_ERR_S_PRINCIPAL_UNKNOWN", f"{local_tgs} is missing from the database")
    return entry


def _check_client(tgt: EncTicketPart, ctx: KDCContext) -> PrincipalEntry:
    client = ctx.lookup(tgt.client) if tgt.client.realm == ctx.policy.realm else None
    if client is None or not client.allow_tickets:
        raise KDCError(
            "KDC_ERR_CLIENT_REVOKED",
            f"{tgt.client} was deleted or disabled since the TGT was issued; ask an administrator",
        )
    return client


def _renewal_terms(
    body: KDCReqBody, tgt: EncTicketPart, client: PrincipalEntry, tgs: Principal, now: float
) -> TicketTerms:
    """A TGT renewed (RFC 4120 §3.3.3.1): same life again, never past renew-till."""
    if "renewable" not in tgt.flags or tgt.renew_till is None:
        raise KDCError(
            "KDC_ERR_BADOPTION",
            "this ticket is not renewable; run 'orthrus kinit' with a renewable life (-r)",
        )
    if body.server != tgs:
        raise KDCError("KDC_ERR_BADOPTION", f"only a TGT ({tgs}) can be renewed")
    if now > tgt.renew_till:
        raise APError(
            "KRB_AP_ERR_TKT_EXPIRED",
            "the ticket's renewable life is over; run 'orthrus kinit' to log in again",
        )
    start = int(now)
    return TicketTerms(
        client=tgt.client,
        flags=tuple(f for f in tgt.flags if f != "initial"),
        authtime=tgt.authtime,
        starttime=start,
        endtime=min(start + (tgt.endtime - tgt.starttime), tgt.renew_till),
        renew_till=tgt.renew_till,
        groups=client.groups,
    )


def _service_terms(
    body: KDCReqBody, tgt: EncTicketPart, client: PrincipalEntry, ctx: KDCContext, now: float
) -> tuple[TicketTerms, PrincipalEntry]:
    """A service ticket (RFC 4120 §3.3.3): no longer than the TGT, renewable if the TGT is."""
    entry = ctx.lookup(body.server) if body.server.realm == ctx.policy.realm else None
    server = ticket_server(body.server, entry, ctx.policy)
    if not server.allow_tickets:
        raise KDCError("KDC_ERR_POLICY", f"{server.principal} is not allowed tickets")
    start, end, renew_till = grant_times(body, now, ctx.policy, (server,))
    end = min(end, tgt.endtime)
    if renew_till is not None and tgt.renew_till is not None and "renewable" in tgt.flags:
        renew_till = min(renew_till, tgt.renew_till)
    else:
        renew_till = None
    terms = TicketTerms(
        client=tgt.client,
        flags=tuple(f for f in tgt.flags if f in {"pre-authent", "forwardable"}),
        authtime=tgt.authtime,
        starttime=start,
        endtime=end,
        renew_till=renew_till if renew_till and renew_till > end else None,
        groups=client.groups,
    )
    return terms, server


class _DeferredReplay:
    """Takes the replay entry :func:`verify_ap_req` would store, so that the KDC stores it
    only after its own checks (service, client, options) pass too: a refused request never
    enters the replay cache (no state change, as for the AP checks themselves)."""

    entry: tuple[bytes, float, float] | None = None

    def check_and_store(self, entry: bytes, expires_at: float, now: float) -> bool:
        self.entry = (entry, expires_at, now)
        return True

    def remembers_since(self) -> float:
        return -math.inf  # stores nothing itself: the KDC's own cache is checked later


def handle_tgs_req(req: TGSReq, ctx: KDCContext, now: float) -> TGSRep:
    """Answer a TGS-REQ (RFC 4120 §3.3.2-§3.3.3) or raise the error that applies."""
    tgs = _tgs_entry(req, ctx)
    replay = _DeferredReplay()
    rules = APRules(
        replay_cache=replay,
        usage=KeyUsage.TGS_REQ_AUTHENTICATOR,
        max_skew=ctx.policy.max_skew,
        expected_checksum=body_checksum(req.body),
        where="KDC",
    )
    verified = verify_ap_req(
        req.ap_req, lambda p: tgs.keys if p == tgs.principal else None, now, rules
    )
    tgt = verified.ticket
    if ctx.signer is not None and ctx.verify_tgt_authz:
        # A TGT sealed with a stolen krbtgt key (a "golden ticket") opens like a real one:
        # only the KDC's signature on its authorization data, bound to its client, times and
        # session key, shows the KDC issued it (RFC 4120 §5.2.6).
        ctx.signer.verify_own(tgt, tgs.principal, ctx.policy.max_skew, now)
    client = _check_client(tgt, ctx)
    if "renew" in req.body.options:
        terms, server = _renewal_terms(req.body, tgt, client, tgs.principal, now), tgs
    else:
        terms, server = _service_terms(req.body, tgt, client, ctx, now)
    if replay.entry is None:
        raise APError("KRB_AP_ERR_REPEAT", "the authenticator was not checked for replay")
    sent = verified.authenticator
    check_replay(ctx.replay_cache, *replay.entry, sent.ctime + sent.cusec / 1e6, "KDC")
    ticket, part = issue_ticket(terms, server, req.body.nonce, ctx)
    part = msgspec.structs.replace(part, checksum=reply_checksum(req, tgt.client, ticket))
    subkey = verified.authenticator.subkey
    reply_key, usage = (
        (subkey.to_key(), KeyUsage.TGS_REP_ENC_PART_SUBKEY)
        if subkey
        else (verified.session_key, KeyUsage.TGS_REP_ENC_PART_SESSKEY)
    )
    sealed = seal_reply(part, reply_key, usage, ctx.entropy)
    return TGSRep(client=tgt.client, ticket=ticket, enc_part=sealed)


@dataclass(frozen=True, slots=True)
class TGSRequest:
    """A TGS-REQ as sent, with what is needed to read its reply."""

    message: TGSReq
    subkey: Key
    client: Principal


def make_tgs_req(
    tgt: Credential,
    server: Principal,
    now: float,
    entropy: Entropy,
    body_options: KDCReqBody | None = None,
) -> TGSRequest:
    """Ask for a ticket for ``server`` with ``tgt``; a fresh subkey protects the reply."""
    body = body_options or KDCReqBody(
        server=server, nonce=int.from_bytes(entropy(8), "big") >> 1, till=tgt.endtime
    )
    subkey = Key.generate(entropy)
    fields = AuthenticatorFields(
        usage=KeyUsage.TGS_REQ_AUTHENTICATOR, checksum=body_checksum(body), subkey=subkey
    )
    ap_req, _ = make_ap_req(tgt, now, entropy, fields)
    return TGSRequest(TGSReq(ap_req=ap_req, body=body), subkey, tgt.client)


def read_tgs_rep(rep: TGSRep, request: TGSRequest, now: float) -> Credential:
    """Check a TGS-REP against its request (RFC 4120 §3.3.4), including the checksum that
    binds the request and the reply's clear ticket (see :func:`orthrus.kdcrep.reply_checksum`)."""
    body = request.message.body
    checksum = reply_checksum(request.message, rep.client, rep.ticket)
    expect = ReplyExpectation(request.client, body.server, body.nonce, now, checksum=checksum)
    return read_kdc_reply(
        rep.client,
        rep.ticket,
        rep.enc_part,
        (request.subkey, KeyUsage.TGS_REP_ENC_PART_SUBKEY),
        expect,
    )
