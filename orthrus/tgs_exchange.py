"""The Ticket-Granting Service exchange (RFC 4120 §3.3): service tickets and renewal.

The client proves it holds a TGT by sending it with an authenticator sealed under the TGT
session key; the authenticator's checksum binds the request body, so the body cannot be
changed in transit. The KDC side is :func:`handle_tgs_req`; the client side is
:func:`make_tgs_req` and :func:`read_tgs_rep`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import msgspec

from orthrus.ap import (
    APRules,
    AuthenticatorFields,
    OpenedAPReq,
    TicketCheck,
    check_opened,
    make_ap_req,
    open_ap_ticket,
    open_authenticator,
    replay_expiry,
)
from orthrus.codec import body_checksum
from orthrus.credentials import Credential
from orthrus.crossrealm import check_path, encode_transited, issuing_realm, next_transited
from orthrus.delegation import forwarded_terms, proxy_terms
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
from orthrus.messages import EncTicketPart, KDCReqBody, TGSRep, TGSReq, Ticket
from orthrus.principal import Principal, krbtgt
from orthrus.realm import KDCContext, OpenedTGT, PrincipalEntry, select_key, ticket_server
from orthrus.replay import check_replay

__all__ = [
    "TGSGrant",
    "TGSRequest",
    "check_tgs_req",
    "handle_tgs_req",
    "make_forward_req",
    "make_proxy_req",
    "make_tgs_req",
    "read_tgs_rep",
    "recall_tgt",
    "remember_tgt",
    "tgs_entry",
    "tgt_memo_key",
]


def tgs_entry(server: Principal, ctx: KDCContext) -> PrincipalEntry:
    """The entry of the ticket-granting service ``server`` names: a TGS-REQ's ticket must be
    a TGT of this realm (``NOT_US``, ``KDC_ERR_WRONG_REALM``), or a cross-realm TGT
    ``krbtgt/THIS@OTHER`` of a realm this one trusts (RFC 4120 §1.2; ``KDC_ERR_POLICY``
    when there is no such trust)."""
    if not server.is_tgs:
        raise APError(
            "KRB_AP_ERR_NOT_US",
            f"the ticket offered is for {server}, not a ticket-granting ticket; "
            "run 'orthrus kinit' to get a TGT",
        )
    local_tgs = krbtgt(ctx.policy.realm)
    issuer = issuing_realm(server, ctx.policy.realm)
    if server != local_tgs and issuer is None:
        raise KDCError(
            "KDC_ERR_WRONG_REALM",
            f"the TGT is for {server}; this KDC serves {ctx.policy.realm} and only accepts "
            f"{local_tgs} (or a cross-realm TGT krbtgt/{ctx.policy.realm}@OTHER)",
        )
    entry = ctx.lookup(server)
    if entry is None and issuer is not None:
        raise KDCError(
            "KDC_ERR_POLICY",
            f"{ctx.policy.realm} has no trust with {issuer} (no {server} in its database); an "
            f"administrator sets one up with: orthrus-kdc trust add {issuer} --direction incoming",
        )
    if entry is None:
        raise KDCError("KDC_ERR_S_PRINCIPAL_UNKNOWN", f"{local_tgs} is missing from the database")
    return entry


@dataclass(frozen=True, slots=True)
class _ClientStanding:
    """What this realm grants a TGT's client: its groups, the realms its ticket crossed
    (RFC 4120 §3.3.3.2), and whether that path was checked against the realm's policy."""

    groups: tuple[str, ...]
    transited: str = ""
    flags: tuple[str, ...] = ()
    #: The client's entry when it is of this realm (None: a cross-realm TGT's client).
    entry: PrincipalEntry | None = None
    #: The login factors this realm takes from the TGT's KDC-signed data (``otp``): its own
    #: KDC's only, another realm's word is not this realm's.
    factors: tuple[str, ...] = ()


def _client_standing(
    tgt: EncTicketPart,
    issuer: str | None,
    body: KDCReqBody,
    ctx: KDCContext,
    known: OpenedTGT | None,
) -> _ClientStanding:
    """A local client as the database has it now; a client of a cross-realm TGT as this
    realm's policy sees it (:mod:`orthrus.crossrealm`): its path checked, none of this
    realm's groups unless mapped to it, and no TGT or renewal of this realm."""
    if issuer is None:
        entry = _check_client(tgt, ctx)
        factors = known.factors if known is not None else _factors(tgt)
        return _ClientStanding(entry.groups, tgt.transited, entry=entry, factors=factors)
    realm = ctx.policy.realm
    path = next_transited(tgt.transited, tgt.client, issuer)
    check_path(tgt.client, path, realm, ctx.cross_realm)
    if "renew" in body.options or body.server == krbtgt(realm):
        raise KDCError(
            "KDC_ERR_POLICY",
            f"a cross-realm TGT from {issuer} gives tickets for services of {realm}, not "
            f"{realm}'s own TGT nor a renewal; renew it at {issuer} ('orthrus kinit -R' there)",
        )
    return _ClientStanding(
        ctx.cross_realm.groups_of(tgt.client),
        encode_transited(path),
        ("transited-policy-checked",),
    )


def _local(client: _ClientStanding) -> PrincipalEntry:
    """The client's entry, for forwarding and delegation: between principals of this realm
    only (RFC 4120 §2.6), never for the client of a cross-realm TGT."""
    if client.entry is None:
        raise KDCError(
            "KDC_ERR_BADOPTION",
            "forwarding and delegation are for this realm's principals, not for the client "
            "of a cross-realm TGT; ask the client's own realm",
        )
    return client.entry


def _check_client(tgt: EncTicketPart, ctx: KDCContext) -> PrincipalEntry:
    client = ctx.lookup(tgt.client) if tgt.client.realm == ctx.policy.realm else None
    if client is None or not client.allow_tickets:
        raise KDCError(
            "KDC_ERR_CLIENT_REVOKED",
            f"{tgt.client} was deleted or disabled since the TGT was issued; ask an administrator",
        )
    return client


def _renewal_terms(
    body: KDCReqBody, tgt: EncTicketPart, client: _ClientStanding, tgs: Principal, now: float
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
        factors=client.factors,
    )


def _factors(tgt: EncTicketPart) -> tuple[str, ...]:
    """The login factors a TGT's signed authorization data names, for the tickets issued
    with it (imported here: pyjwt loads only in the KDC, not with every client)."""
    from orthrus.authz import claimed_factors

    return claimed_factors(tgt)


def _service_terms(
    body: KDCReqBody, tgt: EncTicketPart, client: _ClientStanding, ctx: KDCContext, now: float
) -> tuple[TicketTerms, PrincipalEntry]:
    """A service ticket (RFC 4120 §3.3.3): no longer than the TGT, renewable if the TGT is."""
    entry = ctx.lookup(body.server) if body.server.realm == ctx.policy.realm else None
    if entry is None and "canonicalize" in body.options:
        entry = _referral(body.server, ctx)
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
        flags=_service_flags(tgt, server) + client.flags,
        authtime=tgt.authtime,
        starttime=start,
        endtime=end,
        renew_till=renew_till if renew_till and renew_till > end else None,
        groups=client.groups,
        factors=client.factors,
        transited=client.transited,
    )
    return terms, server


def _service_flags(tgt: EncTicketPart, server: PrincipalEntry) -> tuple[str, ...]:
    """A service ticket's flags (RFC 4120 §2.6, §2.8): FORWARDABLE and FORWARDED as the
    TGT's, and OK-AS-DELEGATE when the realm trusts ``server`` with forwarded TGTs (the
    client forwards one only then)."""
    kept = tuple(f for f in tgt.flags if f in {"pre-authent", "forwardable", "forwarded"})
    return kept + (("ok-as-delegate",) if server.ok_as_delegate else ())


def _referral(server: Principal, ctx: KDCContext) -> PrincipalEntry | None:
    """The cross-realm TGS to answer with for a service of another realm (RFC 6806 §8): a
    client that asked with ``canonicalize`` for ``server`` — of a realm it named, or of ours
    while its host is another realm's (``domain_realm``) — gets a TGT for that realm, if
    this realm trusts it, and asks that realm's KDC next."""
    realm = ctx.policy.realm
    target = ctx.cross_realm.realm_of(server)
    if target == realm:
        return None
    return ctx.lookup(Principal(("krbtgt", target), realm))


@dataclass(frozen=True, slots=True)
class TGSGrant:
    """A TGS request that passed every check: what to issue, and for whom."""

    terms: TicketTerms
    server: PrincipalEntry
    tgt: EncTicketPart
    #: The login factors this realm took from the TGT, kept with it by :func:`remember_tgt`.
    tgt_factors: tuple[str, ...] = ()


def check_tgs_req(
    opened: OpenedAPReq[Any],
    body: KDCReqBody,
    tgs: PrincipalEntry,
    body_binding: bytes,
    ctx: KDCContext,
    now: float,
    known_tgt: OpenedTGT | None = None,
) -> TGSGrant:
    """The checks of a TGS-REQ (RFC 4120 §3.3.2, §3.2.3) once its TGT and authenticator
    opened (gather, then check; the caller issues). One implementation for every wire.

    ``body_binding`` is what the authenticator's checksum must be: the checksum of the
    request body as received. The KDC-signed authorization data of the TGT is checked with
    the other ticket checks, unless ``known_tgt`` (it checked out before: :func:`recall_tgt`;
    its login factors are then the ones read the first time);
    the replay cache is consulted last, after the client, service and options checks: a
    refused request never enters it. A cross-realm TGT (``tgs`` is ``krbtgt/THIS@OTHER``)
    has its client and transited path checked by :func:`_client_standing` instead.
    """
    issuer = issuing_realm(tgs.principal, ctx.policy.realm)
    rules = APRules(
        replay_cache=ctx.replay_cache,
        usage=KeyUsage.TGS_REQ_AUTHENTICATOR,
        max_skew=ctx.policy.max_skew,
        expected_checksum=body_binding,
        where="KDC",
        # A cross-realm TGT is signed by the other realm's KDC, whose word this realm takes
        # only as far as the shared key and its policy go (_client_standing).
        ticket_check=(
            None if known_tgt is not None or issuer is not None else _signed_by_this_kdc(ctx, now)
        ),
    )
    client_time = check_opened(opened, now, rules)
    tgt = opened.ticket
    client = _client_standing(tgt, issuer, body, ctx, known_tgt)
    if "renew" in body.options:
        terms, server = _renewal_terms(body, tgt, client, tgs.principal, now), tgs
    elif "forwarded" in body.options:
        terms, server = forwarded_terms(body, tgt, _local(client), tgs.principal, now), tgs
    elif "cname-in-addl-tkt" in body.options:
        terms, server = proxy_terms(body, tgt, _local(client), ctx, now)
    else:
        terms, server = _service_terms(body, tgt, client, ctx, now)
    expires_at = replay_expiry(opened.authenticator, ctx.policy.max_skew)
    check_replay(ctx.replay_cache, opened.replay_entry, expires_at, now, client_time, "KDC")
    return TGSGrant(terms, server, tgt, client.factors)


def tgt_memo_key(wire: bytes, server: Principal, kvno: int, ciphertext: bytes) -> bytes:
    """The key under which a TGT as sent is remembered: SHA-256 of the wire, the server,
    the key version and the exact ciphertext (never two TGTs; never one TGT on two wires)."""
    return hashlib.sha256(b"%s|%s|%d|" % (wire, str(server).encode(), kvno) + ciphertext).digest()


def recall_tgt(ctx: KDCContext, memo: bytes, now: float) -> OpenedTGT | None:
    """The TGT remembered under ``memo``, if the KDC keeps opened TGTs and has it."""
    return ctx.opened_tgts.get(memo, now) if ctx.opened_tgts is not None else None


def remember_tgt(
    ctx: KDCContext,
    memo: bytes,
    opened: OpenedAPReq[Any],
    grant: TGSGrant,
    known: OpenedTGT | None,
) -> None:
    """Keep a TGT that passed every check of a TGS-REQ (opened, KDC-signed), so that the
    next request with it skips those: decryption, decoding and the signature, the costly
    half of the TGS's work. Its times, its client and each authenticator are checked on
    every request."""
    if ctx.opened_tgts is not None and known is None:
        expires_at = opened.ticket.endtime + ctx.policy.max_skew
        entry = OpenedTGT(opened.ticket, opened.session_key, expires_at, grant.tgt_factors)
        ctx.opened_tgts.put(memo, entry)


def _signed_by_this_kdc(ctx: KDCContext, now: float) -> TicketCheck | None:
    signer = ctx.signer
    if signer is None or not ctx.verify_tgt_authz:
        return None

    def check(tgt: EncTicketPart, tgs: Principal) -> None:
        # A TGT sealed with a stolen krbtgt key (a "golden ticket") opens like a real one:
        # only the KDC's signature on its authorization data, bound to its client, times and
        # session key, shows the KDC issued it (RFC 4120 §5.2.6).
        signer.verify_own(tgt, tgs, ctx.policy.max_skew, now)

    return check


def handle_tgs_req(req: TGSReq, ctx: KDCContext, now: float) -> TGSRep:
    """Answer a TGS-REQ (RFC 4120 §3.3.2-§3.3.3) or raise the error that applies."""
    sent = req.ap_req.ticket
    tgs = tgs_entry(sent.server, ctx)
    memo = tgt_memo_key(b"jose", sent.server, sent.kvno, sent.enc_part.encode())
    known = recall_tgt(ctx, memo, now)
    if known is not None and isinstance(known.session_key, Key):
        select_key(tgs.keys, sent.kvno, tgs.principal)  # its key version is still there
        tgt, session_key = known.part, known.session_key
    else:
        tgt = open_ap_ticket(sent, lambda p: tgs.keys if p == tgs.principal else None)
        session_key = tgt.key.to_key()
    opened = open_authenticator(req.ap_req, tgt, KeyUsage.TGS_REQ_AUTHENTICATOR, session_key)
    checksum = body_checksum(req.body)
    grant = check_tgs_req(opened, req.body, tgs, checksum, ctx, now, known)
    remember_tgt(ctx, memo, opened, grant, known)
    ticket, part = issue_ticket(grant.terms, grant.server, req.body.nonce, ctx)
    client = grant.terms.client  # the TGT's, or a delegating service's user
    part = msgspec.structs.replace(part, checksum=reply_checksum(req, client, ticket))
    subkey = opened.authenticator.subkey
    reply_key, usage = (
        (subkey.to_key(), KeyUsage.TGS_REP_ENC_PART_SUBKEY)
        if subkey
        else (opened.session_key, KeyUsage.TGS_REP_ENC_PART_SESSKEY)
    )
    sealed = seal_reply(part, reply_key, usage, ctx.entropy)
    return TGSRep(client=client, ticket=ticket, enc_part=sealed)


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


def make_forward_req(tgt: Credential, now: float, entropy: Entropy) -> TGSRequest:
    """Ask for a forwarded TGT (RFC 4120 §2.6, §3.3.1: option FORWARDED) to hand to a
    service whose ticket is OK-AS-DELEGATE; ``tgt`` must be forwardable."""
    body = KDCReqBody(
        server=tgt.server,
        nonce=int.from_bytes(entropy(8), "big") >> 1,
        till=tgt.endtime,
        options=["forwarded", "forwardable"],
    )
    return make_tgs_req(tgt, tgt.server, now, entropy, body)


def make_proxy_req(
    service_tgt: Credential,
    evidence: Ticket,
    user: Principal,
    backend: Principal,
    now: float,
    entropy: Entropy,
) -> TGSRequest:
    """A service asks, with its own TGT, for a ticket to ``backend`` in the name of
    ``user``, whose ticket to the service is ``evidence`` (MS-SFU §3.1.5.2 S4U2Proxy, option
    ``cname-in-addl-tkt``). The reply names ``user`` as the client."""
    body = KDCReqBody(
        server=backend,
        nonce=int.from_bytes(entropy(8), "big") >> 1,
        till=0,
        options=["cname-in-addl-tkt"],
        additional_tickets=[evidence],
    )
    request = make_tgs_req(service_tgt, backend, now, entropy, body)
    return TGSRequest(request.message, request.subkey, user)


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
