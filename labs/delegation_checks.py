"""The check of exercise 19: delegation, unconstrained (forwarded TGTs, RFC 4120 §2.6) vs
constrained (S4U2Proxy in the spirit of MS-SFU §3.2.5.2).

The evidence is the lab KDC's record of its TGS exchanges, opened with the realm's keys: the
TGT each request presented (whose client and flags say who asked, and whether it was a
forwarded TGT), and, for a constrained delegation request (KDC option
``cname-in-addl-tkt``), the user's ticket to the front service it carried (its flags say
whether the user's ticket could be delegated at all).
"""

from __future__ import annotations

import json
from typing import Any

from labs.evidence import Evidence, Step, first_of, step
from labs.tracefile import TraceEvent
from orthrus.ap import open_ticket
from orthrus.codec import decode
from orthrus.errors import ProtocolError
from orthrus.messages import EncTicketPart, Ticket

__all__ = ["check_delegation"]


def _tgt(ev: Evidence, event: TraceEvent) -> dict[str, Any]:
    """The opened fields of the TGT a TGS request presented ({} if it did not open)."""
    part = ev.decoder.part(event, "request.ap_req.ticket.enc_part")
    return part.fields if part is not None and part.opened and part.fields else {}


def _users_ticket(ev: Evidence, event: TraceEvent) -> EncTicketPart | None:
    """The user's ticket an S4U2Proxy request carried, opened with its server's key."""
    raw = event.get("request.body.additional_tickets[0]")
    if not isinstance(raw, dict):
        return None
    try:
        ticket = decode(json.dumps(raw).encode(), Ticket)
        found = ev.decoder.keys.key(str(ticket.server), ticket.kvno, None)
        return open_ticket(ticket, found[0]) if found else None
    except ProtocolError:
        return None


def _proxy_requests(ev: Evidence) -> list[tuple[TraceEvent, str, EncTicketPart]]:
    """S4U2Proxy requests of a lab service: (event, the front service, the user's ticket)."""
    services = {s.principal for s in ev.lab.state.services}
    out = []
    for event in ev.where(exchange="TGS", component="kdc"):
        options = event.get("request.body.options") or []
        front = _tgt(ev, event).get("client")
        if "cname-in-addl-tkt" not in options or front not in services:
            continue
        user_ticket = _users_ticket(ev, event)
        if user_ticket is not None and str(user_ticket.client) in ev.users():
            out.append((event, str(front), user_ticket))
    return out


def check_delegation(ev: Evidence) -> list[Step]:
    proxied = _proxy_requests(ev)
    not_allowed = first_of(
        [e for e, _, t in proxied if e.error == "KDC_ERR_BADOPTION" and "forwardable" in t.flags]
    )
    services = {s.principal for s in ev.lab.state.services}
    forwarded = first_of(
        [
            e
            for e in ev.where(exchange="TGS", component="kdc", ok=True, client=ev.users())
            if "forwarded" in (_tgt(ev, e).get("flags") or [])
            and e.get("request.body.server") in services
        ]
    )
    constrained = [(e, front) for e, front, _ in proxied if e.ok]
    allowed = first_of([e for e, _ in constrained])
    kept_out = first_of(
        [
            e
            for e, front, t in proxied
            if e.error == "KDC_ERR_BADOPTION"
            and "forwardable" not in t.flags
            and any((a.id < e.id and f == front and a.server == e.server) for a, f in constrained)
        ]
    )
    return [
        _step_of(
            "a front service not allowed to delegate is refused a ticket to the back end "
            "(KDC_ERR_BADOPTION)",
            not_allowed,
            "no refused S4U2Proxy request with a user's forwardable ticket: orthrus kinit -f, "
            'then orthrus fetch --service HTTP/notes "$LAB_NOTES/backend/whoami"',
        ),
        _step_of(
            "a service trusted with forwarded TGTs (--ok-as-delegate) uses the user's TGT for "
            "a ticket as the user to another service",
            forwarded,
            "no ticket to a lab service was got with a user's forwarded TGT: orthrus-kdc "
            "modprinc --ok-as-delegate HTTP/notes, then orthrus fetch --forward --service "
            'HTTP/notes "$LAB_NOTES/backend/whoami"',
        ),
        _step_of(
            "constrained delegation: the front gets a ticket as the user to its one allowed "
            "back end",
            allowed,
            "no S4U2Proxy request succeeded: orthrus-kdc modprinc --no-ok-as-delegate "
            "--allowed-to-delegate-to HTTP/legacy HTTP/notes, then fetch /backend/whoami "
            "without --forward",
        ),
        _step_of(
            "a sensitive account (--disallow-forwardable) is kept out of delegation",
            kept_out,
            "no S4U2Proxy request was refused for a user's ticket that is not forwardable, "
            "after the same delegation had worked: orthrus-kdc modprinc --disallow-forwardable "
            "alice, orthrus kinit -f, then fetch /backend/whoami again",
        ),
    ]


def _step_of(text: str, event: TraceEvent | None, missing: str) -> Step:
    detail = f"event #{event.id}: {event.server}, {event.error or 'ticket issued'}" if event else ""
    return step(text, event, detail, missing)
