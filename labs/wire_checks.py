"""The checks of the exercises with MIT's own tools on the Kerberos wire (RFC 4120 DER over
UDP and TCP, §7.2): MIT's kinit and kvno, AS-REP roasting and Kerberoasting.

The evidence is what the lab's KDC recorded of those exchanges: their DER messages, whole
(:mod:`orthrus_io.trace`). A cracked password counts only when it opens the very part the KDC
sent (:meth:`labs.roast.RoastHash.opens`): a claim in the activity log is not enough.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from labs.evidence import Evidence, Step, first_of, step
from labs.roast import RoastHash, der_of, parse_hash, roast_reply
from labs.tracefile import Activity, TraceEvent
from orthrus import der
from orthrus.errors import MalformedMessage
from orthrus_io.trace import KERBEROS_TRANSPORTS

__all__ = [
    "check_asrep_roasting",
    "check_kerberoasting",
    "check_mit_tools",
    "cracked_reply",
    "preauthenticated",
]

T = TypeVar("T")


def _on_the_wire(ev: Evidence, exchange: str, **conditions: object) -> list[TraceEvent]:
    """The KDC's events of ``exchange`` that came over UDP or TCP."""
    return [
        e
        for e in ev.where(exchange=exchange, component="kdc", **conditions)
        if e.record.get("transport") in KERBEROS_TRANSPORTS
    ]


def preauthenticated(event: TraceEvent) -> bool:
    """The AS-REQ carried pre-authentication (RFC 4120 §5.2.7.2): PA-ENC-TIMESTAMP on the
    Kerberos wire, padata in the JSON dialect."""
    data = der_of(event.request)
    if data is None:
        return bool(event.request.get("padata"))
    try:
        request = der.decode_as_req(data)
    except MalformedMessage:
        return False
    return der.find_padata(request.padata, der.PA_ENC_TIMESTAMP) is not None


def _roasted(event: TraceEvent) -> RoastHash | None:
    data = der_of(event.reply)
    if data is None:
        return None
    try:
        return roast_reply(event.exchange, data)
    except MalformedMessage:
        return None


def _cracked(ev: Evidence, replies: list[TraceEvent]) -> tuple[TraceEvent, str] | None:
    """A reply of ``replies`` whose sealed part a ``crack --hashes`` password truly opens."""
    recorded = {h.cipher: (e, h) for e in replies if (h := _roasted(e)) is not None}
    for act in ev.acts("crack", mode="hashcat", result="found"):
        line, password = act.data.get("line"), act.data.get("password")
        if isinstance(line, str) and isinstance(password, str):
            found = cracked_reply(line, password, recorded)
            if found is not None:
                return found[0], password
    return None


def cracked_reply(
    line: str, password: str, recorded: Mapping[bytes, tuple[T, RoastHash]]
) -> tuple[T, RoastHash] | None:
    """What a claimed crack (a hashcat line and its password) is worth: the recorded reply it
    names (``recorded``: by ciphertext, what the KDC sent) if the password opens that very
    reply's part, else None. A line the KDC never sent, or a password that does not open the
    part, counts for nothing."""
    try:
        cipher = parse_hash(line).cipher
    except MalformedMessage:
        return None
    found = recorded.get(cipher)
    if found is None or not found[1].opens(password):
        return None
    return found


def _refused_later(
    ev: Evidence,
    cracked: tuple[TraceEvent, str] | None,
    exchange: str,
    error: str,
    same: str,
) -> TraceEvent | None:
    """After the crack, a refusal ``error`` of the same ``same`` (client or server): the
    defence turned on."""
    if cracked is None:
        return None
    name = getattr(cracked[0], same)
    later = _on_the_wire(ev, exchange, error=error)
    return next((e for e in later if getattr(e, same) == name and e.id > cracked[0].id), None)


# -- 16. MIT's tools -----------------------------------------------------------------------


def check_mit_tools(ev: Evidence) -> list[Step]:
    users = ev.users()
    logins = [e for e in _on_the_wire(ev, "AS", ok=True, client=users) if preauthenticated(e)]
    services = {s.principal for s in ev.lab.state.services}
    tickets = _on_the_wire(ev, "TGS", ok=True, server=services)
    login, ticket = first_of(logins), first_of(tickets)
    return [
        step(
            "log in with MIT's kinit: an AS exchange on the Kerberos wire, pre-authenticated",
            login,
            f"event #{login.id}: AS-REP for {login.client} over {login.record.get('transport')}"
            if login
            else "",
            "no pre-authenticated AS exchange came over UDP or TCP: "
            'eval "$(orthrus-lab env alice)"; kinit alice',
        ),
        step(
            "get a service ticket with MIT's kvno (TGS on the Kerberos wire)",
            ticket,
            f"event #{ticket.id}: a ticket for {ticket.server} to {ticket.client}"
            if ticket
            else "",
            "no ticket for a lab service was issued over UDP or TCP: kvno HTTP/notes",
        ),
    ]


# -- 17. AS-REP roasting -------------------------------------------------------------------


def check_asrep_roasting(ev: Evidence) -> list[Step]:
    users = ev.users()
    unasked = [e for e in _on_the_wire(ev, "AS", ok=True, client=users) if not preauthenticated(e)]
    cracked = _cracked(ev, unasked)
    roasted = {e.client for e in unasked}
    got = first_of(unasked)
    refused = _refused_later(ev, cracked, "AS", "KDC_ERR_PREAUTH_REQUIRED", "client")
    return [
        step(
            "get a user's AS reply without any password (no pre-authentication)",
            got,
            f"event #{got.id}: an AS-REP for {got.client}, nothing proved" if got else "",
            "no AS-REP was sent over the Kerberos wire to a request without PA-ENC-TIMESTAMP: "
            "kinit carol (type anything at the prompt: the KDC has already answered)",
        ),
        step(
            "recover the password from it, offline (orthrus-lab roast, then crack --hashes)",
            cracked,
            f"the password of {cracked[0].client} opens the reply of event #{cracked[0].id}"
            if cracked
            else "",
            "no password that opens such a reply was found: orthrus-lab roast EVENT -o "
            "lab/roast.txt; orthrus-lab crack --hashes lab/roast.txt"
            if roasted
            else "get an AS reply first",
        ),
        step(
            "require pre-authentication of that user: the same request is refused",
            refused,
            f"event #{refused.id}: KDC_ERR_PREAUTH_REQUIRED for {refused.client}"
            if refused
            else "",
            "after the crack, no request for that user was refused with "
            "KDC_ERR_PREAUTH_REQUIRED: orthrus-kdc --dir lab/kdc modprinc --requires-preauth "
            "carol, then kinit carol again",
        ),
    ]


# -- 18. Kerberoasting ---------------------------------------------------------------------


def check_kerberoasting(ev: Evidence) -> list[Step]:
    weak = {s.principal for s in ev.lab.state.services if s.weak}
    random = {s.principal for s in ev.lab.state.services if not s.weak}
    tickets = _on_the_wire(ev, "TGS", ok=True, server=weak)
    cracked = _cracked(ev, tickets)
    strong = _on_the_wire(ev, "TGS", ok=True, server=random)
    strong_ciphers = {h.cipher for e in strong if (h := _roasted(e)) is not None}
    tried = next(
        (
            a
            for a in ev.acts("crack", mode="hashcat", result="not-found")
            if _cipher_of(a) in strong_ciphers
        ),
        None,
    )
    refused = _refused_later(ev, cracked, "TGS", "KDC_ERR_MUST_USE_USER2USER", "server")
    got = first_of(tickets)
    return [
        step(
            "get a ticket for the password-keyed service with MIT's kvno",
            got,
            f"event #{got.id}: a ticket for {got.server}" if got else "",
            "no ticket for HTTP/legacy was issued over the Kerberos wire: kvno HTTP/legacy",
        ),
        step(
            "recover the service's password from the ticket (roast, then crack --hashes)",
            cracked,
            f"the password of {cracked[0].server} opens the ticket of event #{cracked[0].id}"
            if cracked
            else "",
            "no password that opens such a ticket was found: orthrus-lab roast EVENT -o "
            "lab/roast.txt; orthrus-lab crack --hashes lab/roast.txt",
        ),
        step(
            "try the same on the random-key service: nothing found",
            tried,
            f"{tried.data.get('target')}: not found in {tried.data.get('guesses')} guesses"
            if tried
            else "",
            "no crack of a ticket for HTTP/notes (random key) was run: kvno HTTP/notes, "
            "then roast and crack --hashes its line",
        ),
        step(
            "take the service's permission away: the KDC refuses its tickets",
            refused,
            f"event #{refused.id}: KDC_ERR_MUST_USE_USER2USER for {refused.server}"
            if refused
            else "",
            "after the crack, no ticket for that service was refused with "
            "KDC_ERR_MUST_USE_USER2USER: orthrus-kdc --dir lab/kdc modprinc --no-allow-svr "
            "HTTP/legacy, then kvno HTTP/legacy again",
        ),
    ]


def _cipher_of(act: Activity) -> bytes | None:
    line = act.data.get("line")
    if not isinstance(line, str):
        return None
    try:
        return parse_hash(line).cipher
    except MalformedMessage:
        return None
