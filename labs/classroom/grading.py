"""Grading a class: the student-by-exercise grid, from the class server's own records only.

The evidence is the class trace, written by the class server's KDC and services on the
instructor's machine, where students cannot write. An event counts for a student only when
the realm itself names them (:func:`attributed_client`): for an AS exchange, the client the
KDC recorded; for anything carrying a ticket (a TGS request, an AP request, refused or not),
the client sealed inside a ticket the KDC issued. Nothing a student writes (a trace line,
an activity log, a ``time`` field) is read.

Offline cracking (exercises 7 and 11) is graded by its proof: a login with the cracked
password of a target of the student's own (:mod:`labs.classroom.cracking`); MIT's programs
on the class KDC's Kerberos port (16 to 18) by what the KDC recorded of them
(:mod:`labs.classroom.wire`). Exercises whose
evidence exists only on the student's machine (decoding with one's own keys) are
*self-check only*; those that need the lab's tools against a
service with its defences switched off are *local practice*: the grid says so, rather than
trusting what a student reports. An exercise only some of whose steps the class server sees
is graded on those (:data:`CLASS_STEPS`), and the grid says which.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from typing import Any

from labs.checks import EXERCISES, CheckResult, Evidence, exercise, grade
from labs.classroom.cracking import CLASS_CRACK_CHECKS, ClassCheck
from labs.classroom.realm import ClassState, student_lab
from labs.classroom.wire import CLASS_WIRE_CHECKS
from labs.decode import Decoder, StoreKeys
from labs.state import LabPaths
from labs.tracefile import TraceEvent, read_trace
from orthrus.session_token import ticket_id
from orthrus_io.trace import KERBEROS_TRANSPORTS

__all__ = [
    "CLASS_GRADED",
    "CLASS_STEPS",
    "NOT_GRADED",
    "ClassGrid",
    "attributed_client",
    "grade_class",
]

#: Exercises the class server grades: their evidence is what its KDC and services saw.
CLASS_GRADED = (1, 2, 4, 5, 7, 11, 16, 17, 18)
#: Of a graded exercise whose other steps need a local lab, the steps the class server grades,
#: and why the others are left out (shown on the dashboard).
CLASS_STEPS: dict[int, tuple[slice, str]] = {
    5: (
        slice(0, 1),
        "graded: the replay refused by the class service; replaying with its cache off is "
        "local practice",
    ),
}
#: The exercises graded from the class server's records by checks of their own (a crack's
#: proof, MIT's programs on the Kerberos wire), not by the local lab's.
CLASS_CHECKS: dict[int, ClassCheck] = {**CLASS_CRACK_CHECKS, **CLASS_WIRE_CHECKS}
#: What the grid says of the exercises graded by their own class checks.
CLASS_NOTES = {
    7: "graded: the AS reply of your carol-NAME, then a ticket asked with its TGT (the "
    "cracked password); the crack itself happens on your machine",
    11: "graded: a ticket for your HTTP/legacy-NAME, then a login as it with the cracked "
    "password; the random-key attempt is a self-check",
    16: "graded: MIT's kinit and kvno against the class KDC's Kerberos port (the krb5.conf "
    "orthrus-lab join wrote); tshark decodes a capture on your machine",
    17: "graded: your carol-NAME's AS reply on the Kerberos wire, then a ticket asked with its "
    "TGT (the cracked password); requiring pre-authentication is an administrator's step",
    18: "graded: a ticket for your HTTP/legacy-NAME on the Kerberos wire, then a login as it "
    "with the cracked password; --no-allow-svr is an administrator's step",
}
#: Why each other exercise is not graded by the class server (shown on the dashboard).
NOT_GRADED = {
    3: "self-check only: decoding with your own keys happens on your machine",
    6: "local practice: the tamper tool replays a captured request from a local trace",
    8: "local practice: needs a service that believes unsigned groups",
    9: "local practice: rotating a service key is an administrator's step",
    10: "local practice: the impostor cannot authenticate who contacted it",
    12: "local practice: stealing and rotating the krbtgt key is an administrator's step",
    13: "local practice: the copied cache is a file on your machine",
    14: "local practice: exporting and changing a user's key is an administrator's step",
    15: "local practice: needs the KDC's defences switched off; a failed login names nobody",
    19: "local practice: trusting a service with TGTs or letting it delegate is an "
    "administrator's step (modprinc --ok-as-delegate, --allowed-to-delegate-to)",
    20: "local practice: needs legacy with its authenticator, session-key and timestamp "
    "switches off",
}


@dataclass
class ClassGrid:
    """Each student's results for the graded exercises."""

    realm: str
    generated: float
    results: dict[str, list[CheckResult]]
    warnings: list[str]

    def to_json(self) -> dict[str, Any]:
        exercises = [
            {
                "exercise": e.number,
                "title": e.title,
                "graded": e.number in CLASS_GRADED,
                "note": _note(e.number),
            }
            for e in EXERCISES
        ]
        students = []
        for student, results in self.results.items():
            students.append(
                {
                    "student": student,
                    "principal": f"{student}@{self.realm}",
                    "passed": sum(r.passed for r in results),
                    "results": {str(r.number): _cell(r) for r in results},
                }
            )
        return {
            "realm": self.realm,
            "generated": self.generated,
            "graded": list(CLASS_GRADED),
            "exercises": exercises,
            "students": students,
        }

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["student", *(f"exercise {e.number}" for e in EXERCISES)])
        for student, results in self.results.items():
            by_number = {r.number: r for r in results}
            writer.writerow([student, *(_status(by_number, e.number) for e in EXERCISES)])
        return out.getvalue()


def _note(number: int) -> str:
    if number in CLASS_STEPS:
        return CLASS_STEPS[number][1]
    if number in CLASS_NOTES:
        return CLASS_NOTES[number]
    return NOT_GRADED.get(number, "graded from the class server's records")


def _class_steps(result: CheckResult) -> CheckResult:
    """``result`` with only the steps the class server grades."""
    if result.number not in CLASS_STEPS:
        return result
    steps = result.steps[CLASS_STEPS[result.number][0]]
    return CheckResult(result.number, result.slug, result.title, steps)


def _cell(result: CheckResult) -> dict[str, Any]:
    return {
        "passed": result.passed,
        "done": sum(s.done for s in result.steps),
        "steps": [s.to_json() for s in result.steps],
        "status": _word(result),
    }


def _status(by_number: dict[int, CheckResult], number: int) -> str:
    """A cell of the CSV: the result, or why the class server does not grade it."""
    if number in by_number:
        return _word(by_number[number])
    return NOT_GRADED[number].split(":", 1)[0]


def _word(result: CheckResult) -> str:
    done = sum(s.done for s in result.steps)
    if result.passed:
        return "passed"
    return f"{done}/{len(result.steps)} steps" if done else "not started"


def attributed_client(event: TraceEvent, decoder: Decoder, issued: set[str]) -> str | None:
    """Who an event counts for, from what only the realm could have made.

    An AS exchange: the client the KDC recorded (a TGT is issued only after the client
    proved its password, RFC 4120 §5.2.7.2). An exchange carrying a ticket (TGS, AP), even
    one refused: the client sealed inside that ticket, opened with the realm's key, and only
    if the KDC itself issued the ticket (its id is in a reply of the trace). Else nobody.

    On the Kerberos wire (RFC 4120 DER, kept whole, with no parts to open again): a TGS
    exchange the KDC itself granted, by the client it found in the TGT it opened with
    krbtgt's key and whose signed authorization data it checked; a refused one, nobody.
    """
    if event.exchange == "AS":
        return event.client
    if event.record.get("transport") in KERBEROS_TRANSPORTS:
        granted = event.component == "kdc" and event.exchange == "TGS" and event.ok
        return event.client if granted else None
    sealed = event.ticket_sealed
    if sealed is None or ticket_id(sealed) not in issued:
        return None
    where = (
        "request.ticket.enc_part" if event.exchange == "AP" else "request.ap_req.ticket.enc_part"
    )
    part = decoder.part(event, where)
    if part is None or not part.opened or part.fields is None:
        return None
    client = part.fields.get("client")
    return client if isinstance(client, str) else None


def grade_class(
    paths: LabPaths, state: ClassState, store: Any, since: float | None = None
) -> ClassGrid:
    """Grade every student of the class from the class trace (events from ``since`` on)."""
    warnings: list[str] = []
    events = read_trace(paths.trace, warnings.append)
    decoder = Decoder(StoreKeys(store), "the class server")
    decoder.feed(events)  # every key the realm holds: keys learnt before ``since`` still open
    issued = {
        ticket_id(sealed)
        for e in events
        if e.component == "kdc" and isinstance(sealed := e.get("reply.ticket.enc_part"), str)
    }
    clients = {e.id: attributed_client(e, decoder, issued) for e in events}
    if since is not None:
        events = [e for e in events if e.time >= since]
    results = {}
    by_checks = [n for n in CLASS_GRADED if n not in CLASS_CHECKS]
    for student in state.students:
        principal = state.principal(student)
        mine = [e for e in events if clients[e.id] == principal]
        evidence = Evidence(student_lab(paths, state, student, store), mine, [], decoder, warnings)
        graded = {r.number: _class_steps(r) for r in grade(evidence, by_checks)}
        for number, check in CLASS_CHECKS.items():
            item = exercise(number)
            steps = check(events, clients, student, state.realm)
            graded[number] = CheckResult(number, item.slug, item.title, steps)
        results[student] = [graded[n] for n in CLASS_GRADED]
    return ClassGrid(state.realm, time.time(), results, warnings)
