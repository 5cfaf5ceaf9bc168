"""Class grading of the offline-cracking exercises (7 and 11), from the class server's records.

The guessing happens on the student's machine, where the class server cannot see it; what
it can see is the password used. Each student has targets of their own, keyed from weak
passwords drawn at random and forgotten (``carol-NAME``, ``HTTP/legacy-NAME``:
:mod:`labs.classroom.realm`), so a password only their crack (or the instructor) could know
proves the crack:

- exercise 7: an AS reply for ``carol-NAME`` asked without any password, then a TGS
  exchange with a ticket the KDC issued to ``carol-NAME`` — only who opened that AS reply
  with carol-NAME's password holds the session key a TGS request needs (RFC 4120 §3.3.1);
- exercise 11: a ticket for ``HTTP/legacy-NAME`` issued to the student, then a
  pre-authenticated login as ``HTTP/legacy-NAME`` (its encrypted timestamp, under the key
  the password makes, RFC 4120 §5.2.7.2).

The events are those the realm attributes (:func:`labs.classroom.grading.attributed_client`).
"""

from __future__ import annotations

from collections.abc import Callable

from labs.classroom.realm import carol_principal, legacy_principal
from labs.evidence import Step, first_of, step
from labs.tracefile import TraceEvent

__all__ = ["CLASS_CRACK_CHECKS", "ClassCheck", "check_class_guessing", "check_class_roasting"]

#: (events, who each event is attributed to, student, realm) -> the steps.
ClassCheck = Callable[[list[TraceEvent], dict[int, str | None], str, str], list[Step]]


def check_class_guessing(
    events: list[TraceEvent], clients: dict[int, str | None], student: str, realm: str
) -> list[Step]:
    carol = carol_principal(student, realm)
    replies = [
        e
        for e in events
        if e.exchange == "AS" and e.ok and e.client == carol and not e.request.get("padata")
    ]
    reply = first_of(replies)
    used = None
    if reply is not None:
        used = next(
            (
                e
                for e in events
                if e.exchange == "TGS" and e.ok and clients.get(e.id) == carol and e.id > reply.id
            ),
            None,
        )
    return [
        step(
            f"ask the KDC for {carol}'s AS reply, without any password",
            reply,
            f"event #{reply.id}: an AS-REP for {carol}" if reply else "",
            f"no AS reply for {carol}: orthrus-lab crack carol-{student} (in your joined shell)",
        ),
        step(
            f"prove the cracked password: use {carol}'s TGT",
            used,
            f"event #{used.id}: a ticket asked with {carol}'s TGT" if used else "",
            f"no TGS exchange used a TGT of {carol}: ORTHRUS_CCACHE=carol.cc orthrus kinit "
            f"carol-{student} (the cracked password), then ORTHRUS_CCACHE=carol.cc orthrus "
            "kvno HTTP/notes",
        ),
    ]


def check_class_roasting(
    events: list[TraceEvent], clients: dict[int, str | None], student: str, realm: str
) -> list[Step]:
    me, legacy = f"{student}@{realm}", legacy_principal(student, realm)
    tickets = [
        e
        for e in events
        if e.exchange == "TGS"
        and e.ok
        and clients.get(e.id) == me
        and e.get("request.body.server") == legacy
    ]
    ticket = first_of(tickets)
    proof = None
    if ticket is not None:
        proof = next(
            (
                e
                for e in events
                if e.exchange == "AS"
                and e.ok
                and e.client == legacy
                and e.request.get("padata")
                and e.id > ticket.id
            ),
            None,
        )
    return [
        step(
            f"get a ticket for your {legacy} with your TGT",
            ticket,
            f"event #{ticket.id}: a ticket for {legacy}" if ticket else "",
            f"no ticket for {legacy} was issued to {me}: orthrus kvno HTTP/legacy-{student}",
        ),
        step(
            f"prove the cracked password: log in as {legacy} with it",
            proof,
            f"event #{proof.id}: {legacy} pre-authenticated" if proof else "",
            f"no pre-authenticated login as {legacy} after the ticket: orthrus-lab crack "
            f"--ticket HTTP/legacy-{student}, then ORTHRUS_CCACHE=legacy.cc orthrus kinit "
            f"HTTP/legacy-{student} with the password found",
        ),
    ]


#: The exercises graded this way, and their checks.
CLASS_CRACK_CHECKS: dict[int, ClassCheck] = {7: check_class_guessing, 11: check_class_roasting}
