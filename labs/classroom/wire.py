"""Class grading of the exercises with MIT's programs on the Kerberos wire (16, 17, 18).

The class KDC speaks RFC 4120 DER over UDP and TCP (:mod:`labs.classroom.server`); what it
recorded of those exchanges, on the instructor's machine, is the evidence, per student, by
the principal the realm authenticated (:func:`labs.classroom.grading.attributed_client`):

- exercise 16: a pre-authenticated AS exchange of the student's own principal on the wire
  (MIT's ``kinit``: PA-ENC-TIMESTAMP, RFC 4120 §5.2.7.2), then a service ticket issued to
  the student on the wire (``kvno``);
- exercise 17 (AS-REP roasting): an AS reply for the student's own ``carol-NAME`` sent on the
  wire to a request without pre-authentication, then the cracked password used: a TGS
  exchange with a TGT the KDC issued to ``carol-NAME`` (only who opened that reply's part
  holds the session key a TGS request needs, §3.3.1);
- exercise 18 (Kerberoasting): a ticket for the student's own ``HTTP/legacy-NAME`` issued to
  the student on the wire, then the cracked password used: a pre-authenticated login as
  ``HTTP/legacy-NAME``.

The defences (``modprinc --requires-preauth``, ``--no-allow-svr``) are administrator's steps
on the one class realm: local practice.
"""

from __future__ import annotations

from labs.classroom.cracking import ClassCheck
from labs.classroom.realm import carol_principal, legacy_principal, notes_principal
from labs.evidence import Step, first_of, step
from labs.tracefile import TraceEvent
from labs.wire_checks import preauthenticated
from orthrus_io.trace import KERBEROS_TRANSPORTS

__all__ = [
    "CLASS_WIRE_CHECKS",
    "check_class_asrep_roasting",
    "check_class_kerberoasting",
    "check_class_mit_tools",
]


def _wire(events: list[TraceEvent], exchange: str) -> list[TraceEvent]:
    """The class KDC's successful ``exchange`` events that came over UDP or TCP."""
    return [
        e
        for e in events
        if e.exchange == exchange
        and e.component == "kdc"
        and e.ok
        and e.record.get("transport") in KERBEROS_TRANSPORTS
    ]


def _after(events: list[TraceEvent], first: TraceEvent | None) -> list[TraceEvent]:
    return [e for e in events if first is not None and e.id > first.id]


def check_class_mit_tools(
    events: list[TraceEvent], clients: dict[int, str | None], student: str, realm: str
) -> list[Step]:
    me = f"{student}@{realm}"
    services = {notes_principal(realm), legacy_principal(student, realm)}
    login = first_of([e for e in _wire(events, "AS") if e.client == me and preauthenticated(e)])
    ticket = first_of(
        [e for e in _wire(events, "TGS") if clients.get(e.id) == me and e.server in services]
    )
    return [
        step(
            f"log in as {me} with MIT's kinit: a pre-authenticated AS exchange on the wire",
            login,
            f"event #{login.id}: AS-REP for {me} over {login.record.get('transport')}"
            if login
            else "",
            f"the class KDC saw no pre-authenticated AS exchange of {me} over UDP or TCP: "
            f'eval "$(orthrus-lab join ...)" sets KRB5_CONFIG; then kinit {student}',
        ),
        step(
            "get a service ticket with MIT's kvno (TGS on the Kerberos wire)",
            ticket,
            f"event #{ticket.id}: a ticket for {ticket.server}" if ticket else "",
            f"no ticket for HTTP/notes or HTTP/legacy-{student} was issued to {me} over UDP "
            "or TCP: kvno HTTP/notes",
        ),
    ]


def check_class_asrep_roasting(
    events: list[TraceEvent], clients: dict[int, str | None], student: str, realm: str
) -> list[Step]:
    carol = carol_principal(student, realm)
    reply = first_of(
        [e for e in _wire(events, "AS") if e.client == carol and not preauthenticated(e)]
    )
    used = first_of(
        [
            e
            for e in _after(events, reply)
            if e.exchange == "TGS" and e.ok and clients.get(e.id) == carol
        ]
    )
    return [
        step(
            f"get {carol}'s AS reply on the Kerberos wire, without any password",
            reply,
            f"event #{reply.id}: an AS-REP for {carol} over {reply.record.get('transport')}"
            if reply
            else "",
            f"the class KDC sent no AS-REP for {carol} over UDP or TCP to a request without "
            f"pre-authentication: kinit carol-{student} (type anything at the prompt)",
        ),
        step(
            f"prove the cracked password: use {carol}'s TGT after that reply",
            used,
            f"event #{used.id}: a ticket asked with {carol}'s TGT" if used else "",
            f"no TGS exchange used a TGT of {carol} after the wire AS-REP: crack it (orthrus-lab "
            f"crack carol-{student}), then kinit carol-{student} with the password found and "
            "kvno HTTP/notes",
        ),
    ]


def check_class_kerberoasting(
    events: list[TraceEvent], clients: dict[int, str | None], student: str, realm: str
) -> list[Step]:
    me, legacy = f"{student}@{realm}", legacy_principal(student, realm)
    ticket = first_of(
        [e for e in _wire(events, "TGS") if clients.get(e.id) == me and e.server == legacy]
    )
    proof = first_of(
        [
            e
            for e in _after(events, ticket)
            if e.exchange == "AS" and e.ok and e.client == legacy and preauthenticated(e)
        ]
    )
    return [
        step(
            f"get a ticket for your {legacy} with MIT's kvno (TGS on the Kerberos wire)",
            ticket,
            f"event #{ticket.id}: a ticket for {legacy} over {ticket.record.get('transport')}"
            if ticket
            else "",
            f"no ticket for {legacy} was issued to {me} over UDP or TCP: "
            f"kvno HTTP/legacy-{student}",
        ),
        step(
            f"prove the cracked password: log in as {legacy} with it",
            proof,
            f"event #{proof.id}: {legacy} pre-authenticated" if proof else "",
            f"no pre-authenticated login as {legacy} after the wire ticket: orthrus-lab crack "
            f"--ticket HTTP/legacy-{student}, then kinit HTTP/legacy-{student} with the "
            "password found",
        ),
    ]


#: The exercises graded this way, and their checks.
CLASS_WIRE_CHECKS: dict[int, ClassCheck] = {
    16: check_class_mit_tools,
    17: check_class_asrep_roasting,
    18: check_class_kerberoasting,
}
