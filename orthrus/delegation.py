"""The KDC's delegation checks: a forwarded TGT (RFC 4120 §2.6) and a ticket asked for by a
service in a client's name, constrained delegation in the manner of MS-SFU's S4U2Proxy
(MS-SFU §3.2.5.2). Both run inside the TGS exchange (:func:`orthrus.tgs_exchange.check_tgs_req`),
after the TGT and its authenticator checked out; anything not allowed is
``KDC_ERR_BADOPTION``, as RFC 4120 §3.3.3 and MS-SFU §3.2.5.2.2 have it.
"""

from __future__ import annotations

from orthrus.ap import open_ap_ticket
from orthrus.errors import APError, KDCError
from orthrus.kdcrep import TicketTerms, grant_times
from orthrus.messages import EncTicketPart, KDCReqBody, Ticket
from orthrus.principal import Principal
from orthrus.realm import KDCContext, PrincipalEntry, ticket_server

__all__ = ["forwarded_terms", "proxy_terms"]


def _refused(why: str) -> KDCError:
    return KDCError("KDC_ERR_BADOPTION", why)


def forwarded_terms(
    body: KDCReqBody, tgt: EncTicketPart, client: PrincipalEntry, tgs: Principal, now: float
) -> TicketTerms:
    """A forwarded TGT (RFC 4120 §2.6 FORWARDED): a TGT its holder may hand to a service
    trusted for delegation. Only from a FORWARDABLE TGT of a client still allowed
    forwardable tickets, and only for the ticket-granting service (no addresses: a
    forwarded ticket is usable from any host, as MIT's ``noaddresses`` ones are)."""
    if "forwardable" not in tgt.flags:
        raise _refused(
            "the TGT is not forwardable, so it cannot be forwarded; log in again asking for a "
            "forwardable ticket: orthrus kinit -f"
        )
    if not client.allow_forwardable:
        raise _refused(
            f"{client.principal} may not forward tickets (an administrator disallowed "
            "forwardable tickets for it)"
        )
    if body.server != tgs:
        raise _refused(f"only a ticket-granting ticket ({tgs}) can be forwarded")
    start = int(now)
    return TicketTerms(
        client=tgt.client,
        flags=(*(f for f in tgt.flags if f in {"forwardable", "pre-authent"}), "forwarded"),
        authtime=tgt.authtime,
        starttime=start,
        endtime=tgt.endtime,
        renew_till=tgt.renew_till if "renewable" in tgt.flags else None,
        groups=client.groups,
    )


def proxy_terms(
    body: KDCReqBody, tgt: EncTicketPart, service: PrincipalEntry, ctx: KDCContext, now: float
) -> tuple[TicketTerms, PrincipalEntry]:
    """A ticket for ``body.server`` in the name of the client of the evidence ticket
    (``additional_tickets[0]``), asked for by ``service`` with its own TGT (MS-SFU
    §3.2.5.2 S4U2Proxy, the option ``cname-in-addl-tkt``).

    Refused (``KDC_ERR_BADOPTION``) unless: an administrator allowed ``service`` to
    delegate to that server (``orthrus-kdc modprinc --allowed-to-delegate-to``); the
    evidence ticket is for ``service`` itself, opens under its key and carries this KDC's
    signature (a service holds its own key and could otherwise mint evidence for any user);
    it is valid now and FORWARDABLE (a client kept from delegation gets none); and its
    client still exists, may get tickets and may be delegated. The ticket issued names the
    client, carries ``service`` as ``delegated_by`` in its signed authorization data, ends
    no later than the evidence, and is not forwardable (no second hop).
    """
    if len(body.additional_tickets) != 1:
        raise _refused("a ticket in a client's name needs the client's ticket as evidence")
    target = body.server
    if target not in service.delegate_to:
        raise _refused(
            f"{service.principal} is not allowed to delegate to {target}; an administrator "
            f"can allow it: orthrus-kdc modprinc --allowed-to-delegate-to {target} "
            f"{service.principal}"
        )
    evidence = _open_evidence(body.additional_tickets[0], service, ctx, now)
    user = ctx.lookup(evidence.client) if evidence.client.realm == ctx.policy.realm else None
    if user is None or not user.allow_tickets:
        raise KDCError(
            "KDC_ERR_CLIENT_REVOKED",
            f"{evidence.client} was deleted or disabled since its ticket was issued",
        )
    if "forwardable" not in evidence.flags or not user.allow_forwardable:
        raise _refused(
            f"the ticket of {evidence.client} is not forwardable: it may not be delegated "
            "(the user logs in with 'orthrus kinit -f', if the realm allows it)"
        )
    entry = ctx.lookup(target) if target.realm == ctx.policy.realm else None
    server = ticket_server(target, entry, ctx.policy)
    start, end, _ = grant_times(body, now, ctx.policy, (server,))
    terms = TicketTerms(
        client=evidence.client,
        flags=tuple(f for f in evidence.flags if f == "pre-authent"),
        authtime=evidence.authtime,
        starttime=start,
        endtime=min(end, evidence.endtime, tgt.endtime),
        groups=user.groups,
        delegated_by=service.principal,
    )
    return terms, server


def _open_evidence(
    ticket: Ticket, service: PrincipalEntry, ctx: KDCContext, now: float
) -> EncTicketPart:
    """The evidence ticket opened under ``service``'s key, its KDC signature and times
    checked (MS-SFU §3.2.5.2.2: the KDC decrypts it with the requesting service's key)."""
    if ticket.server != service.principal:
        raise _refused(
            f"the evidence ticket is for {ticket.server}, not for {service.principal}: a "
            "service can act only on a ticket a client gave it"
        )
    if ctx.signer is None:
        raise _refused("this KDC signs no authorization data, so it delegates nothing")
    part = open_ap_ticket(ticket, lambda p: service.keys if p == service.principal else None)
    if now > part.endtime + ctx.policy.max_skew:
        raise APError(
            "KRB_AP_ERR_TKT_EXPIRED",
            "the client's ticket given as evidence has expired; the client logs in again",
        )
    ctx.signer.verify_own(part, service.principal, ctx.policy.max_skew, now)
    return part
