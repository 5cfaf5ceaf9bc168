"""Grading a class: the student-by-exercise grid, from the class server's own records only.

The evidence is the class trace, written by the class server's KDC and services on the
instructor's machine. An event counts for a student only when its ``client`` is that
student's principal as the KDC or the service recorded it — for a TGT, the principal that
proved its password (pre-authentication, RFC 4120 §5.2.7.2); for a service ticket, the
client named in the TGT the KDC itself sealed; at a service, the client of a ticket it
opened. Nothing a student writes (a trace line, an activity log, a ``time`` field) is read.

Exercises whose evidence exists only on the student's machine (decoding with one's own
keys, offline cracking) are *self-check only*; those that need the lab's tools against a
service with its defences switched off are *local practice*: the grid says so, rather than
trusting what a student reports.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from typing import Any

from labs.checks import EXERCISES, CheckResult, Evidence, grade
from labs.classroom.realm import ClassState, student_lab
from labs.decode import Decoder, StoreKeys
from labs.state import LabPaths
from labs.tracefile import TraceEvent, read_trace

__all__ = ["CLASS_GRADED", "NOT_GRADED", "ClassGrid", "grade_class"]

#: Exercises the class server grades: their evidence is what its KDC and services saw.
CLASS_GRADED = (1, 2)
#: Why each other exercise is not graded by the class server (shown on the dashboard).
NOT_GRADED = {
    3: "self-check only: decoding with your own keys happens on your machine",
    4: "local practice: a refused authenticator names no authenticated client yet",
    5: "local practice: needs a service with its replay cache switched off",
    6: "local practice: the tamper tool replays a captured request from a local trace",
    7: "self-check only: offline cracking happens on your machine",
    8: "local practice: needs a service that believes unsigned groups",
    9: "local practice: rotating a service key is an administrator's step",
    10: "local practice: the impostor cannot authenticate who contacted it",
    11: "self-check only: offline cracking happens on your machine",
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
                "note": NOT_GRADED.get(e.number, "graded from the class server's records"),
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


def _recorded_for(events: list[TraceEvent], principal: str) -> list[TraceEvent]:
    """The events whose recorded client is ``principal`` (set by the KDC or a service)."""
    return [e for e in events if e.client == principal]


def grade_class(
    paths: LabPaths, state: ClassState, store: Any, since: float | None = None
) -> ClassGrid:
    """Grade every student of the class from the class trace (events from ``since`` on)."""
    warnings: list[str] = []
    events = read_trace(paths.trace, warnings.append)
    decoder = Decoder(StoreKeys(store), "the class server")
    decoder.feed(events)  # every key the realm holds: keys learnt before ``since`` still open
    if since is not None:
        events = [e for e in events if e.time >= since]
    results = {}
    for student in state.students:
        mine = _recorded_for(events, state.principal(student))
        evidence = Evidence(student_lab(paths, state, student), mine, [], decoder, warnings)
        results[student] = grade(evidence, list(CLASS_GRADED))
    return ClassGrid(state.realm, time.time(), results, warnings)
