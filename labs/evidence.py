"""What the lab's grader looks at, and what it says: the evidence of one lab (its trace,
activity log, keys and realm) and the steps of an exercise, done or not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labs.decode import Decoder, StoreKeys
from labs.lab import Lab
from labs.tracefile import Activity, TraceEvent, read_activity, read_trace
from orthrus.session_token import ticket_id

__all__ = ["CheckResult", "Evidence", "Step", "first_of", "step"]


@dataclass(frozen=True, slots=True)
class Step:
    """One step of an exercise, done or not, with what showed it (or what is missing)."""

    text: str
    done: bool
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"step": self.text, "done": self.done, "detail": self.detail}


@dataclass
class CheckResult:
    number: int
    slug: str
    title: str
    steps: list[Step]

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(step.done for step in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "exercise": self.number,
            "slug": self.slug,
            "title": self.title,
            "passed": self.passed,
            "steps": [s.to_json() for s in self.steps],
        }


@dataclass
class Evidence:
    """What the grader looks at: the trace, the activity log, every key, the realm."""

    lab: Lab
    events: list[TraceEvent]
    activity: list[Activity]
    decoder: Decoder
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def gather(cls, lab: Lab, since: float | None = None) -> Evidence:
        warnings: list[str] = []
        events = read_trace(lab.paths.trace, warnings.append)
        activity = read_activity(lab.paths.activity, warnings.append, since)
        decoder = Decoder(StoreKeys(lab.store()), "the grader")
        decoder.feed(events)  # all of them: keys learned before ``since`` still open parts
        if since is not None:
            events = [e for e in events if e.time >= since]
        return cls(lab, events, activity, decoder, warnings)

    @property
    def realm(self) -> str:
        return self.lab.state.realm

    def users(self, preauth: bool | None = None) -> set[str]:
        return {
            u.principal(self.realm)
            for u in self.lab.state.users
            if preauth is None or u.preauth == preauth
        }

    def service_names(self) -> set[str]:
        return {s.name for s in self.lab.state.services}

    def where(self, **conditions: Any) -> list[TraceEvent]:
        """Events matching every ``attribute=value`` (a value may be a set of choices)."""
        out = []
        for event in self.events:
            for name, wanted in conditions.items():
                value = getattr(event, name)
                if isinstance(wanted, set | frozenset):
                    if value not in wanted:
                        break
                elif value != wanted:
                    break
            else:
                out.append(event)
        return out

    def at_services(self) -> list[TraceEvent]:
        names = self.service_names()
        return [e for e in self.events if e.exchange == "AP" and e.component in names]

    def issued_tickets(self) -> set[str]:
        """Ids of every ticket the KDC handed out (in an AS or TGS reply)."""
        out = set()
        for event in self.events:
            sealed = event.get("reply.ticket.enc_part")
            if isinstance(sealed, str):
                out.add(ticket_id(sealed))
        return out

    def authenticator_time(self, event: TraceEvent) -> float | None:
        """The client's clock in the event's authenticator, as the grader reads it."""
        where = (
            "request.authenticator" if event.exchange == "AP" else "request.ap_req.authenticator"
        )
        part = self.decoder.part(event, where)
        if part is None or not part.opened or part.fields is None:
            return None
        ctime, cusec = part.fields.get("ctime"), part.fields.get("cusec", 0)
        if not isinstance(ctime, int) or not isinstance(cusec, int):
            return None
        return ctime + cusec / 1e6

    def ticket_claims(self, event: TraceEvent) -> dict[str, Any] | None:
        part = self.decoder.part(event, "request.ticket.enc_part")
        if part is None or not part.opened or part.fields is None:
            return None
        decoded = part.fields.get("authorization_data (decoded, not verified)")
        return decoded.get("claims") if isinstance(decoded, dict) else {}

    def acts(self, action: str, **conditions: Any) -> list[Activity]:
        return [
            a
            for a in self.activity
            if a.action == action and all(a.data.get(k) == v for k, v in conditions.items())
        ]


def step(text: str, found: Any, detail: str, missing: str) -> Step:
    return Step(text, bool(found), detail if found else missing)


def first_of(events: list[TraceEvent]) -> TraceEvent | None:
    return events[0] if events else None
