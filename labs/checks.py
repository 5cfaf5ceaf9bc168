"""The exercises and their grading: judged from the trace and the realm, not the student's word.

Each check looks for evidence that each step happened: exchanges in the trace (decoded with
every key of the realm, as the KDC could), the lab tools' activity log (whose claims are
verified — a cracked password must really derive the key), and the KDC's database (a
rotated key). A step passes only when its evidence is there; the check passes when every
step does. ``since`` limits the evidence to what happened from that time on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from labs.delegation_checks import check_delegation
from labs.dialogue_checks import check_dialogue
from labs.evidence import CheckResult, Evidence, Step
from labs.evidence import first_of as _first
from labs.evidence import step as _step
from labs.tracefile import Activity, TraceEvent
from labs.wire_checks import check_asrep_roasting, check_kerberoasting, check_mit_tools
from orthrus.ap import open_ticket
from orthrus.codec import decode
from orthrus.errors import ProtocolError
from orthrus.keys import KeyUsage
from orthrus.messages import Ticket
from orthrus.principal import Principal
from orthrus.pwkdf import KDFParams, string_to_key
from orthrus.seal import open_sealed, peek_header
from orthrus.session_token import ticket_id

__all__ = ["EXERCISES", "CheckResult", "Evidence", "Exercise", "Step", "grade"]


# -- 1. First login (AS) -------------------------------------------------------------------


def check_first_login(ev: Evidence) -> list[Step]:
    users = ev.users(preauth=True)
    probes = ev.where(exchange="AS", error="KDC_ERR_PREAUTH_REQUIRED", client=users)
    logins = [
        e
        for e in ev.where(exchange="AS", ok=True, client=users)
        if e.request.get("padata") and any(p.id < e.id and p.client == e.client for p in probes)
    ]
    probe, login = _first(probes), _first(logins)
    return [
        _step(
            "ask the KDC for a TGT and be told to pre-authenticate",
            probe,
            f"event #{probe.id}: KDC_ERR_PREAUTH_REQUIRED for {probe.client}" if probe else "",
            "no AS exchange answered KDC_ERR_PREAUTH_REQUIRED: run orthrus kinit",
        ),
        _step(
            "log in with the timestamp sealed under the password key, and get a TGT",
            login,
            f"event #{login.id}: AS-REP for {login.client}" if login else "",
            "no successful AS exchange with an encrypted timestamp: run orthrus kinit",
        ),
    ]


# -- 2. Service tickets (TGS) ---------------------------------------------------------------


def check_service_ticket(ev: Evidence) -> list[Step]:
    users = ev.users()
    tgts: dict[str, TraceEvent] = {}
    for event in ev.where(exchange="AS", ok=True, client=users):
        sealed = event.get("reply.ticket.enc_part")
        if isinstance(sealed, str):
            tgts[ticket_id(sealed)] = event
    services = {s.principal for s in ev.lab.state.services}
    by_tgt: dict[str, dict[str, TraceEvent]] = {}
    for event in ev.where(exchange="TGS", ok=True):
        sealed = event.ticket_sealed
        server = event.get("request.body.server")
        if sealed and ticket_id(sealed) in tgts and server in services:
            by_tgt.setdefault(ticket_id(sealed), {}).setdefault(str(server), event)
    one = next(iter(by_tgt.values()), None)
    both = next((t for t, s in by_tgt.items() if set(s) >= services), None)
    login = tgts.get(both or next(iter(by_tgt), ""), _first(list(tgts.values())))
    return [
        _step(
            "log in once (a TGT)",
            tgts,
            f"event #{login.id}: a TGT for {login.client}" if login else "",
            "no TGT issued to a lab user in this period: run orthrus kinit",
        ),
        _step(
            "get a service ticket with that TGT (TGS), without the password",
            one,
            "events " + ", ".join(f"#{e.id}" for e in one.values()) if one else "",
            "no TGS exchange used a TGT from this period: run orthrus kvno HTTP/notes",
        ),
        _step(
            "get tickets for both services with the same TGT",
            both,
            f"TGT {both}: tickets for {', '.join(sorted(by_tgt[both]))}" if both else "",
            "no single TGT was used for both HTTP/notes and HTTP/legacy: "
            "run orthrus kvno HTTP/notes HTTP/legacy",
        ),
    ]


# -- 3. The authenticator (AP) -------------------------------------------------------------


def check_authenticator(ev: Evidence) -> list[Step]:
    accepted = [e for e in ev.at_services() if e.ok and e.client in ev.users()]
    decoded = {
        (str(a.data.get("as")), int(event_id))
        for a in ev.acts("decode")
        for event_id in a.data.get("events") or []
        if isinstance(event_id, int)
    }
    seen = next((e for e in accepted if (e.client, e.id) in decoded), None)
    used = _first(accepted)
    return [
        _step(
            "use a service ticket at a service (AP exchange)",
            used,
            f"event #{used.id}: {used.client} accepted by {used.component}" if used else "",
            "no lab user was accepted by a lab service: run orthrus fetch ... /whoami",
        ),
        _step(
            "decode your own authenticator with your keys and read your name and timestamp",
            seen,
            f"{seen.client} decoded the authenticator of event #{seen.id}" if seen else "",
            "no accepted authenticator was decoded by its own user: "
            "run orthrus-lab trace --as USER (or pick your user on the web page)",
        ),
    ]


# -- 4. Clock skew -------------------------------------------------------------------------


def check_clock_skew(ev: Evidence) -> list[Step]:
    refused = _first(ev.where(error="KRB_AP_ERR_SKEW"))
    max_skew = ev.lab.store().settings.max_skew
    tolerated = None
    for event in ev.events:
        if event.ok and event.exchange in ("TGS", "AP") and event.component != "impostor":
            client_time = ev.authenticator_time(event)
            if client_time is not None and 60 < abs(client_time - event.time) <= max_skew:
                tolerated = (event, client_time - event.time)
                break
    return [
        _step(
            "send an authenticator from a clock too far off, and see it refused",
            refused,
            f"event #{refused.id}: KRB_AP_ERR_SKEW at {refused.component}" if refused else "",
            "no exchange was refused with KRB_AP_ERR_SKEW: try orthrus --clock-offset 600 ...",
        ),
        _step(
            "send one from a clock off by more than a minute but within the allowed skew",
            tolerated,
            f"event #{tolerated[0].id}: accepted with the clock {tolerated[1]:+.0f} s off"
            if tolerated
            else "",
            f"no accepted authenticator was between 60 and {max_skew} s off: "
            "try orthrus --clock-offset 120 ...",
        ),
    ]


# -- 5. Replay -----------------------------------------------------------------------------


def check_replay(ev: Evidence) -> list[Step]:
    by_token: dict[str, list[TraceEvent]] = {}
    for event in ev.at_services():
        if event.token:
            by_token.setdefault(event.token, []).append(event)
    refused = accepted_twice = None
    for events in by_token.values():
        on = [e for e in events if e.labels.get("replay_cache") == "on"]
        first_ok = next((e for e in on if e.ok), None)
        if first_ok and refused is None:
            refused = next(
                (e for e in on if e.id > first_ok.id and e.error == "KRB_AP_ERR_REPEAT"), None
            )
        off_ok = [e for e in events if e.ok and e.labels.get("replay_cache") == "off"]
        if len(off_ok) >= 2 and accepted_twice is None:
            accepted_twice = off_ok
    return [
        _step(
            "replay a captured AP-REQ while the replay cache is on: refused",
            refused,
            f"event #{refused.id}: KRB_AP_ERR_REPEAT at {refused.component}" if refused else "",
            "no AP-REQ was accepted and then refused as a replay (replay cache on): "
            "orthrus-lab replay EVENT",
        ),
        _step(
            "replay it with the replay cache off: accepted twice",
            accepted_twice,
            "events " + ", ".join(f"#{e.id}" for e in accepted_twice) if accepted_twice else "",
            "no AP-REQ was accepted twice with the replay cache off: "
            "orthrus-lab switch notes replay-cache off, then replay",
        ),
    ]


# -- 6. Tampering --------------------------------------------------------------------------


def check_tampering(ev: Evidence) -> list[Step]:
    earlier_tickets: set[str] = set()
    earlier_authenticators: set[str] = set()
    ticket_hit = authenticator_hit = None
    for event in ev.at_services():
        ticket, authenticator = event.ticket_sealed, event.authenticator_sealed
        if event.error == "KRB_AP_ERR_MODIFIED":
            ticket_part = ev.decoder.part(event, "request.ticket.enc_part")
            auth_part = ev.decoder.part(event, "request.authenticator")
            if (
                ticket_hit is None
                and authenticator in earlier_authenticators
                and ticket_part is not None
                and ticket_part.altered
            ):
                ticket_hit = event
            if (
                authenticator_hit is None
                and ticket in earlier_tickets
                and ticket_part is not None
                and ticket_part.opened
                and auth_part is not None
                and auth_part.altered
            ):
                authenticator_hit = event
        if ticket:
            earlier_tickets.add(ticket)
        if authenticator:
            earlier_authenticators.add(authenticator)
    return [
        _step(
            "alter the ticket of a captured AP-REQ: refused",
            ticket_hit,
            f"event #{ticket_hit.id}: KRB_AP_ERR_MODIFIED" if ticket_hit else "",
            "no captured AP-REQ with an altered ticket was refused: "
            "orthrus-lab tamper EVENT --part ticket",
        ),
        _step(
            "alter its authenticator: refused",
            authenticator_hit,
            f"event #{authenticator_hit.id}: KRB_AP_ERR_MODIFIED" if authenticator_hit else "",
            "no captured AP-REQ with an altered authenticator was refused: "
            "orthrus-lab tamper EVENT --part authenticator",
        ),
    ]


# -- 7. Offline password guessing against an AS reply -------------------------------------------


def _cracked_as_rep(ev: Evidence, act: Activity) -> TraceEvent | None:
    """The AS-REP the crack ran against, if ``act``'s password truly opens its part."""
    event = next((e for e in ev.events if e.id == act.data.get("event")), None)
    password = act.data.get("password")
    if event is None or not isinstance(password, str) or not event.ok:
        return None
    reply = event.reply
    try:
        params = msgspec.convert(reply.get("kdf"), KDFParams)
        kid = peek_header(reply["enc_part"]).get("kid")
        key = string_to_key(
            password, Principal.parse(str(reply.get("client"))), params, int(str(kid))
        )
        open_sealed(key, KeyUsage.AS_REP_ENC_PART, reply["enc_part"])
    except (msgspec.ValidationError, ProtocolError, KeyError, ValueError):
        return None
    return event


def check_password_guessing(ev: Evidence) -> list[Step]:
    exposed = [
        e
        for e in ev.where(exchange="AS", ok=True, client=ev.users(preauth=False))
        if not e.request.get("padata")
    ]
    cracked = next(
        (
            (a, e)
            for a in ev.acts("crack", mode="as-rep", result="found")
            if (e := _cracked_as_rep(ev, a)) is not None
        ),
        None,
    )
    refused_ids = {e.id for e in ev.where(exchange="AS", error="KDC_ERR_PREAUTH_REQUIRED")}
    nothing = next(
        (
            a
            for a in ev.acts("crack", mode="as-rep", result="nothing-to-crack")
            if a.data.get("event") in refused_ids and a.data.get("target") in ev.users(True)
        ),
        None,
    )
    first = _first(exposed)
    return [
        _step(
            "get an AS reply for a user without pre-authentication",
            first,
            f"event #{first.id}: an AS-REP for {first.client}, asked without a password"
            if first
            else "",
            "no AS-REP for a user without pre-authentication: orthrus-lab crack carol",
        ),
        _step(
            "recover the password offline from it",
            cracked,
            f"{cracked[0].data.get('target')}'s password found in {cracked[0].data.get('guesses')} "
            f"guesses, and it opens event #{cracked[1].id}"
            if cracked
            else "",
            "no password was recovered (and verified) from an AS reply: orthrus-lab crack carol",
        ),
        _step(
            "try the same against a user with pre-authentication: nothing to crack",
            nothing,
            f"{nothing.data.get('target')}: KDC_ERR_PREAUTH_REQUIRED, event #"
            f"{nothing.data.get('event')}"
            if nothing
            else "",
            "no attempt against a user with pre-authentication: orthrus-lab crack alice",
        ),
    ]


# -- 8. Silver ticket ----------------------------------------------------------------------


def check_silver_ticket(ev: Evidence) -> list[Step]:
    issued = ev.issued_tickets()
    refused = accepted = None
    for event in ev.at_services():
        sealed = event.ticket_sealed
        if not sealed or ticket_id(sealed) in issued:
            continue
        claims = ev.ticket_claims(event)  # None: not sealed under the service's key
        if claims is None or "admins" not in (claims.get("groups") or []):
            continue
        if (
            refused is None
            and event.error == "KRB_AP_ERR_MODIFIED"
            and event.labels.get("authz") == "on"
        ):
            refused = event
        if accepted is None and event.ok and event.labels.get("authz") == "off":
            accepted = event
    return [
        _step(
            "present a ticket forged with the leaked key, claiming group admins, "
            "while the service checks the KDC's signature: refused",
            refused,
            f"event #{refused.id}: KRB_AP_ERR_MODIFIED at {refused.component}" if refused else "",
            "no forged ticket claiming admins was refused: orthrus-lab forge ..., "
            "then orthrus fetch with its cache",
        ),
        _step(
            "present it while the service believes unsigned groups: accepted as admins",
            accepted,
            f"event #{accepted.id}: accepted at {accepted.component}" if accepted else "",
            "no forged ticket was accepted with the check off: "
            "orthrus-lab switch notes authz off, then fetch again",
        ),
    ]


# -- 9. Key rotation -----------------------------------------------------------------------


def check_key_rotation(ev: Evidence) -> list[Step]:
    store = ev.lab.store()
    rotated: tuple[str, int] | None = None
    for service in ev.lab.state.services:
        if not service.weak:
            kvno = int(store.describe(Principal.parse(service.principal))["kvno"])
            if kvno >= 2:
                rotated = (service.name, kvno)
                break
    badkey = new_ok = old_ok = None
    if rotated:
        name, _ = rotated
        events = ev.where(exchange="AP", component=name)
        badkey = next((e for e in events if e.error == "KRB_AP_ERR_BADKEYVER"), None)
        if badkey is not None and badkey.ticket_kvno is not None:
            newer = badkey.ticket_kvno
            later = [e for e in events if e.id > badkey.id and e.ok]
            new_ok = next((e for e in later if e.ticket_kvno == newer), None)
            old_ok = next(
                (e for e in later if e.ticket_kvno is not None and e.ticket_kvno < newer), None
            )
    return [
        _step(
            "rotate a service's key (a new kvno in the KDC)",
            rotated,
            f"{rotated[0]} is at kvno {rotated[1]}" if rotated else "",
            "no random-key service has a kvno above 1: orthrus-kdc --dir lab/kdc rotate HTTP/notes",
        ),
        _step(
            "present a ticket of the new kvno before the keytab has it: KRB_AP_ERR_BADKEYVER",
            badkey,
            f"event #{badkey.id}: kvno {badkey.ticket_kvno} refused" if badkey else "",
            "no ticket was refused with KRB_AP_ERR_BADKEYVER at the rotated service",
        ),
        _step(
            "export the new key to the keytab: the new ticket is accepted",
            new_ok,
            f"event #{new_ok.id}: kvno {new_ok.ticket_kvno} accepted" if new_ok else "",
            "no ticket of the new kvno was accepted after that: orthrus-kdc ... ktadd",
        ),
        _step(
            "an old ticket (older kvno) still works",
            old_ok,
            f"event #{old_ok.id}: kvno {old_ok.ticket_kvno} accepted" if old_ok else "",
            "no ticket of an older kvno was accepted after the rotation",
        ),
    ]


# -- 10. Mutual authentication -------------------------------------------------------------


def check_mutual_auth(ev: Evidence) -> list[Step]:
    impostor = ev.where(exchange="AP", component="impostor")
    fooled = next((e for e in impostor if not e.extra.get("mutual_required")), None)
    caught = next((e for e in impostor if e.extra.get("mutual_required")), None)
    proved = next(
        (
            e
            for e in ev.at_services()
            if e.ok and "mutual-required" in (e.request.get("options") or [])
        ),
        None,
    )
    return [
        _step(
            "send a ticket to the impostor without mutual authentication (and believe it)",
            fooled,
            f"event #{fooled.id}: the impostor answered 200 without proving anything"
            if fooled
            else "",
            "the impostor got no request without mutual authentication: orthrus fetch ... "
            "$LAB_IMPOSTOR/notes",
        ),
        _step(
            "ask the impostor for mutual authentication: it cannot prove itself",
            caught,
            f"event #{caught.id}: mutual-required; its AP-REP could not be sealed under the "
            "session key (your client said KRB_AP_ERR_MUT_FAIL)"
            if caught
            else "",
            "the impostor got no request with mutual authentication: orthrus fetch --mutual ...",
        ),
        _step(
            "ask the real service for mutual authentication: it proves itself",
            proved,
            f"event #{proved.id}: {proved.component} accepted a mutual-required AP-REQ"
            if proved
            else "",
            "no real service answered a mutual-required AP-REQ: orthrus fetch --mutual "
            "--service HTTP/notes $LAB_NOTES/whoami",
        ),
    ]


# -- 11. Roasting service tickets ----------------------------------------------------------


def _ticket_from_trace(ev: Evidence, wanted: str) -> Ticket | None:
    for event in ev.events:
        ticket = event.get("reply.ticket")
        if isinstance(ticket, dict) and ticket_id(str(ticket.get("enc_part"))) == wanted:
            with contextlib.suppress(ProtocolError):
                import json

                return decode(json.dumps(ticket).encode(), Ticket)
    return None


def _roasted(ev: Evidence, act: Activity) -> bool:
    """``act``'s password truly derives the key of the ticket it names."""
    password, wanted = act.data.get("password"), act.data.get("ticket")
    if not isinstance(password, str) or not isinstance(wanted, str):
        return False
    ticket = _ticket_from_trace(ev, wanted)
    entry = ev.lab.store().lookup(ticket.server) if ticket is not None else None
    if ticket is None or entry is None or entry.kdf is None:
        return False
    try:
        open_ticket(ticket, string_to_key(password, ticket.server, entry.kdf, ticket.kvno))
    except ProtocolError:
        return False
    return True


def check_roasting(ev: Evidence) -> list[Step]:
    weak = {s.principal for s in ev.lab.state.services if s.weak}
    strong = {s.principal for s in ev.lab.state.services if not s.weak}
    ticket = next(
        (e for e in ev.where(exchange="TGS", ok=True) if e.get("request.body.server") in weak),
        None,
    )
    roasted = next(
        (
            a
            for a in ev.acts("crack", mode="ticket", result="found")
            if a.data.get("target") in weak and _roasted(ev, a)
        ),
        None,
    )
    random_key = next(
        (
            a
            for a in ev.acts("crack", mode="ticket", result="random-key")
            if a.data.get("target") in strong
        ),
        None,
    )
    return [
        _step(
            "get a service ticket for the legacy service (any user may)",
            ticket,
            f"event #{ticket.id}: a ticket for {ticket.get('request.body.server')}"
            if ticket
            else "",
            "no ticket for HTTP/legacy was issued: orthrus kvno HTTP/legacy",
        ),
        _step(
            "guess the service's password offline from the ticket",
            roasted,
            f"{roasted.data.get('target')}: password found in {roasted.data.get('guesses')} "
            "guesses, and it opens the ticket"
            if roasted
            else "",
            "no service password was recovered (and verified): orthrus-lab crack --ticket "
            "HTTP/legacy",
        ),
        _step(
            "try the same on a service with a random key: nothing to guess",
            random_key,
            f"{random_key.data.get('target')}: a random key" if random_key else "",
            "no attempt on a random-key service: orthrus-lab crack --ticket HTTP/notes",
        ),
    ]


# -- 12. Golden ticket ----------------------------------------------------------------------


def _tgs_ticket_client(ev: Evidence, event: TraceEvent) -> str | None:
    """The client a TGS exchange's TGT names, if it opens under a krbtgt key of the realm."""
    part = ev.decoder.part(event, "request.ap_req.ticket.enc_part")
    if part is None or not part.opened or part.fields is None:
        return None
    return str(part.fields.get("client"))


def check_golden_ticket(ev: Evidence) -> list[Step]:
    issued = ev.issued_tickets()
    forged = next(
        (
            (e, client)
            for e in ev.where(exchange="TGS", error="KRB_AP_ERR_MODIFIED")
            if e.ticket_sealed
            and ticket_id(e.ticket_sealed) not in issued
            and (client := _tgs_ticket_client(ev, e)) is not None
        ),
        None,
    )
    believed = next(
        (
            (e, client)
            for e in ev.where(exchange="TGS", ok=True)
            if e.labels.get("tgt_signature") == "off"
            and e.ticket_sealed
            and ticket_id(e.ticket_sealed) not in issued
            and (client := _tgs_ticket_client(ev, e)) is not None
        ),
        None,
    )
    tgs = Principal.parse(f"krbtgt/{ev.realm}@{ev.realm}")
    kvno = int(ev.lab.store().describe(tgs)["kvno"])
    rotated = kvno if kvno >= 2 else None
    # A login after the rotation got a TGT of the new kvno; an older TGT used after that
    # shows what a rotation leaves alone: tickets already out.
    new_login = next(
        (e for e in ev.where(exchange="AS", ok=True) if e.get("reply.ticket.kvno") == kvno),
        None,
    )
    old_used = (
        next(
            (
                e
                for e in ev.where(exchange="TGS", ok=True)
                if e.id > new_login.id and e.ticket_kvno is not None and e.ticket_kvno < kvno
            ),
            None,
        )
        if rotated and new_login
        else None
    )
    return [
        _step(
            "forge a TGT with the stolen krbtgt key and ask the TGS for a ticket: refused",
            forged,
            f"event #{forged[0].id}: KRB_AP_ERR_MODIFIED for a TGT the KDC never issued, "
            f"naming {forged[1]}"
            if forged
            else "",
            "no forged TGT was refused by the TGS: orthrus-lab forge --golden --as dave, then "
            "ORTHRUS_CCACHE=... orthrus kvno HTTP/notes",
        ),
        _step(
            "turn the TGS's check of the signature off: the forged TGT gets a service ticket",
            believed,
            f"event #{believed[0].id}: a service ticket for {believed[1]}, from a TGT the KDC "
            "never issued"
            if believed
            else "",
            "no forged TGT got a service ticket with the check off: orthrus-lab switch kdc "
            "tgt-signature off, then ORTHRUS_CCACHE=... orthrus kvno HTTP/notes (and on again)",
        ),
        _step(
            "rotate the krbtgt key (a new kvno in the KDC)",
            rotated,
            f"{tgs} is at kvno {rotated}" if rotated else "",
            f"krbtgt is still at kvno 1: orthrus-kdc --dir lab/kdc rotate {tgs}",
        ),
        _step(
            "after the rotation, a TGT issued before it still gets service tickets",
            old_used,
            f"event #{old_used.id}: a kvno {old_used.ticket_kvno} TGT accepted after a kvno "
            f"{kvno} one was issued"
            if old_used
            else "",
            "no TGT of an older kvno was used after a login got the new one: log in as bob "
            "(new kvno), then orthrus kvno HTTP/legacy as alice (her TGT from before)",
        ),
    ]


# -- 13. Pass-the-ticket --------------------------------------------------------------------


def check_pass_the_ticket(ev: Evidence) -> list[Step]:
    steals = [a for a in ev.acts("steal") if isinstance(a.data.get("tickets"), dict)]
    stolen = {t: a for a in steals for t in a.data["tickets"]}

    def with_stolen(event: TraceEvent) -> bool:
        sealed = event.ticket_sealed
        act = stolen.get(ticket_id(sealed)) if sealed else None
        return act is not None and event.time >= act.time

    kdc_or_service = [e for e in ev.events if e.exchange in ("TGS", "AP") and with_stolen(e)]
    used = next((e for e in kdc_or_service if e.ok), None)
    revoked = next(
        (e for e in kdc_or_service if e.exchange == "TGS" and e.error == "KDC_ERR_CLIENT_REVOKED"),
        None,
    )
    first = steals[0] if steals else None
    return [
        _step(
            "copy another user's credential cache",
            first,
            f"{first.data.get('victim')}'s cache (mode {first.data.get('mode')}) copied, "
            f"{len(first.data['tickets'])} ticket(s)"
            if first
            else "",
            "no credential cache was copied: orthrus-lab steal alice",
        ),
        _step(
            "use a ticket from the copy, with no password: accepted",
            used,
            f"event #{used.id}: the {used.exchange} exchange accepted a copied ticket"
            if used
            else "",
            "no copied ticket was used: ORTHRUS_CCACHE=lab/users/thief.ccache orthrus fetch "
            '--service HTTP/notes "$LAB_NOTES/whoami"',
        ),
        _step(
            "disable the victim: the copied TGT gets nothing more from the KDC",
            revoked,
            f"event #{revoked.id}: KDC_ERR_CLIENT_REVOKED for a copied TGT" if revoked else "",
            "no copied TGT was refused with KDC_ERR_CLIENT_REVOKED: orthrus-kdc --dir lab/kdc "
            "modprinc --disallow-tickets alice, then ORTHRUS_CCACHE=... orthrus kvno HTTP/legacy",
        ),
    ]


# -- 14. Overpass-the-hash (pass-the-key) ---------------------------------------------------


def _with_key_only(ev: Evidence, event: TraceEvent) -> bool:
    """An AS-REQ with a timestamp at once: the client held the key, not a password.

    A client with a password first asks without pre-authentication, to learn the salt and
    KDF parameters that turn the password into the key; a client holding the key skips that.
    """
    if not event.request.get("padata"):
        return False
    before = [e for e in ev.where(exchange="AS", client=event.client) if e.id < event.id]
    return not before or before[-1].error != "KDC_ERR_PREAUTH_REQUIRED"


def check_overpass_the_hash(ev: Evidence) -> list[Step]:
    services = {s.principal for s in ev.lab.state.services}  # keytab logins are theirs to do
    keyed = [
        e for e in ev.where(exchange="AS") if e.client not in services and _with_key_only(ev, e)
    ]
    login = next((e for e in keyed if e.ok), None)
    tgt = login.get("reply.ticket.enc_part") if login else None
    used = next(
        (
            e
            for e in ev.where(exchange="TGS", ok=True)
            if isinstance(tgt, str) and e.ticket_sealed == tgt
        ),
        None,
    )
    refused = (
        next(
            (
                e
                for e in keyed
                if e.id > login.id
                and e.client == login.client
                and e.error == "KDC_ERR_PREAUTH_FAILED"
            ),
            None,
        )
        if login
        else None
    )
    return [
        _step(
            "log in as a user with their stolen key, no password: a TGT",
            login,
            f"event #{login.id}: a TGT for {login.client}, the timestamp sealed at once "
            "(no salt asked for)"
            if login
            else "",
            "no login with a key alone: orthrus-kdc --dir lab/kdc ktadd -k stolen.keytab bob, "
            "then orthrus kinit -k -t stolen.keytab bob",
        ),
        _step(
            "use that TGT for a service ticket",
            used,
            f"event #{used.id}: a ticket for {used.get('request.body.server')}" if used else "",
            "the TGT got from the key was not used: orthrus kvno HTTP/notes",
        ),
        _step(
            "change the user's password: the stolen key no longer logs in",
            refused,
            f"event #{refused.id}: KDC_ERR_PREAUTH_FAILED for {refused.client}" if refused else "",
            "no login with the old key was refused after a password change: orthrus-kdc "
            "--dir lab/kdc cpw bob, then orthrus kinit -k -t stolen.keytab bob again",
        ),
    ]


# -- 15. Password spraying and user enumeration ---------------------------------------------


def _unknown(store: Any, name: str | None) -> bool:
    """``name`` is no principal of the realm (so an answer for it came from a decoy)."""
    try:
        return name is not None and store.lookup(Principal.parse(name)) is None
    except ProtocolError:
        return True


def _sprayed(ev: Evidence, act: Activity) -> TraceEvent | None:
    """A spray run of one password at three names or more, each with one failed
    pre-authentication or a login, none locked out: the login it found, if any."""
    if act.data.get("passwords") != 1:
        return None
    wanted = {i for i in act.data.get("events") or [] if isinstance(i, int)}
    tried = [e for e in ev.where(exchange="AS") if e.id in wanted and e.request.get("padata")]
    failed = {e.client for e in tried if e.error == "KDC_ERR_PREAUTH_FAILED"}
    hit = next((e for e in tried if e.ok), None)
    locked = any(e.error == "KDC_ERR_CLIENT_REVOKED" for e in tried)
    if hit is None or locked or len(failed | {hit.client}) < 3:
        return None
    return hit


def _guessed_without_lockout(ev: Evidence, limit: int) -> tuple[str, int] | None:
    """A user who got more failed pre-authentications than a lockout allows, lockout off."""
    failures: dict[str, int] = {}
    for event in ev.where(exchange="AS", error="KDC_ERR_PREAUTH_FAILED"):
        if event.labels.get("lockout") == "off" and event.client is not None:
            failures[event.client] = failures.get(event.client, 0) + 1
    client, count = max(failures.items(), key=lambda item: item[1], default=(None, 0))
    return (client, count) if client is not None and count > limit else None


def check_spraying(ev: Evidence) -> list[Step]:
    store = ev.lab.store()
    listed = next(
        (
            e
            for e in ev.where(exchange="AS", error="KDC_ERR_C_PRINCIPAL_UNKNOWN")
            if not e.request.get("padata")
        ),
        None,
    )
    hit = next((h for a in ev.acts("spray") if (h := _sprayed(ev, a)) is not None), None)
    locked = next(
        (
            e
            for e in ev.where(exchange="AS", error="KDC_ERR_CLIENT_REVOKED")
            if e.request.get("padata") and e.labels.get("lockout", "off") != "off"
        ),
        None,
    )
    # Off, the realm's settings say 0: compare with the default lockout's five failures.
    unlimited = _guessed_without_lockout(ev, store.settings.lockout_attempts or 5)
    hidden = next(
        (
            e
            for e in ev.where(exchange="AS", error="KDC_ERR_PREAUTH_REQUIRED")
            if e.labels.get("hide_unknown_principals") == "on" and _unknown(store, e.client)
        ),
        None,
    )
    limited = next(
        (e for e in ev.where(component="kdc", ok=False) if e.extra.get("status") == 429), None
    )
    return [
        _step(
            "list names: the KDC tells a name it does not have from one it has",
            listed,
            f"event #{listed.id}: KDC_ERR_C_PRINCIPAL_UNKNOWN for {listed.client}"
            if listed
            else "",
            "no name was answered KDC_ERR_C_PRINCIPAL_UNKNOWN: orthrus-lab enumerate alice "
            "bob admin root",
        ),
        _step(
            "spray one password at many names: one failure each, nobody locked out, one in",
            hit,
            f"event #{hit.id}: {hit.client} logged in with the sprayed password" if hit else "",
            "no run of one password at three names or more found a login: "
            "orthrus-lab spray -p password1 alice bob dave erin",
        ),
        _step(
            "guess many passwords against one user: locked out",
            locked,
            f"event #{locked.id}: KDC_ERR_CLIENT_REVOKED for {locked.client} "
            f"(lockout {locked.labels.get('lockout')})"
            if locked
            else "",
            "nobody was locked out: orthrus-lab spray bob -p 123456 -p password -p qwerty "
            "-p abc123 -p monkey -p letmein",
        ),
        _step(
            "turn lockout off: the guesses go on unrefused",
            unlimited,
            f"{unlimited[0]}: {unlimited[1]} failed guesses, none refused (lockout off)"
            if unlimited
            else "",
            "no user got more failed guesses than the lockout allows with lockout off: "
            "orthrus-lab switch kdc lockout off, then the same guesses against dave",
        ),
        _step(
            "hide unknown names: a name nobody has answers as a real one",
            hidden,
            f"event #{hidden.id}: KDC_ERR_PREAUTH_REQUIRED for {hidden.client}, which does "
            "not exist"
            if hidden
            else "",
            "no unknown name was answered KDC_ERR_PREAUTH_REQUIRED: orthrus-lab switch kdc "
            "hide-unknown on, then orthrus-lab enumerate again",
        ),
        _step(
            "turn the rate limit on: the spray is cut off (HTTP 429)",
            limited,
            f"event #{limited.id}: HTTP 429, limit {limited.extra.get('rate_limit')}"
            if limited
            else "",
            "no request was refused by the rate limit: orthrus-lab switch kdc rate-limit on, "
            "then spray again",
        ),
    ]


@dataclass(frozen=True, slots=True)
class Exercise:
    number: int
    slug: str
    title: str
    check: Callable[[Evidence], list[Step]]

    @property
    def doc_name(self) -> str:
        return f"{self.number:02d}-{self.slug}.md"


EXERCISES: tuple[Exercise, ...] = (
    Exercise(1, "first-login", "First login: the AS exchange", check_first_login),
    Exercise(2, "service-ticket", "Service tickets: the TGS exchange", check_service_ticket),
    Exercise(
        3, "authenticator", "The authenticator, decoded: the AP exchange", check_authenticator
    ),
    Exercise(4, "clock-skew", "Clock skew", check_clock_skew),
    Exercise(5, "replay", "Replay, and the replay cache", check_replay),
    Exercise(6, "tampering", "Tampering, and authenticated encryption", check_tampering),
    Exercise(
        7,
        "password-guessing",
        "Offline password guessing and pre-authentication",
        check_password_guessing,
    ),
    Exercise(8, "silver-ticket", "A silver ticket, and KDC-signed groups", check_silver_ticket),
    Exercise(9, "key-rotation", "Key rotation and key version numbers", check_key_rotation),
    Exercise(10, "mutual-auth", "Mutual authentication and an impostor", check_mutual_auth),
    Exercise(11, "roasting", "Roasting service tickets: weak vs random keys", check_roasting),
    Exercise(12, "golden-ticket", "A golden ticket, and krbtgt rotation", check_golden_ticket),
    Exercise(
        13, "pass-the-ticket", "Pass-the-ticket: a copied credential cache", check_pass_the_ticket
    ),
    Exercise(
        14,
        "overpass-the-hash",
        "Overpass-the-hash: a stolen key is a password",
        check_overpass_the_hash,
    ),
    Exercise(15, "password-spraying", "Password spraying and user enumeration", check_spraying),
    Exercise(16, "mit-tools", "MIT's kinit, klist, kvno and tshark on the lab", check_mit_tools),
    Exercise(17, "asrep-roasting", "AS-REP roasting, and pre-authentication", check_asrep_roasting),
    Exercise(18, "kerberoasting", "Kerberoasting with hashcat's format", check_kerberoasting),
    Exercise(19, "delegation", "Delegation: unconstrained vs constrained", check_delegation),
    Exercise(
        20,
        "dialogue",
        "The Dialogue: no authenticator, no session key, no timestamp",
        check_dialogue,
    ),
)


def exercise(number: int) -> Exercise:
    for item in EXERCISES:
        if item.number == number:
            return item
    from orthrus.errors import ConfigError

    raise ConfigError(f"there is no exercise {number}; they are 1 to {len(EXERCISES)}")


def grade(evidence: Evidence, numbers: list[int]) -> list[CheckResult]:
    """Run the checks of ``numbers`` against ``evidence``."""
    out = []
    for number in numbers:
        item = exercise(number)
        out.append(CheckResult(item.number, item.slug, item.title, item.check(evidence)))
    return out
