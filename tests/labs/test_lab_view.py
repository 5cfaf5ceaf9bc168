"""What the trace itself shows of an exchange (labs.view.EventMarks): a replay is an
authenticator sent before; a forgery is a ticket in no reply of the KDC; and the refusal of a
forgery is explained by the KDC's signature, an altered ticket's by the tag."""

from __future__ import annotations

from typing import Any

from labs.explain import EXPLANATIONS, FORGED
from labs.tracefile import TraceEvent
from labs.view import EventMarks, event_view


def event(number: int, component: str, exchange: str, **record: Any) -> TraceEvent:
    return TraceEvent(
        number,
        {"v": 1, "time": 1.0, "component": component, "exchange": exchange, "ok": True, **record},
    )


def ap(number: int, ticket: str, authenticator: str, **record: Any) -> TraceEvent:
    request = {"type": "AP-REQ", "ticket": {"enc_part": ticket}, "authenticator": authenticator}
    return event(number, "notes", "AP", request=request, **record)


def test_replays_and_tickets_the_kdc_never_issued_are_marked() -> None:
    issued = event(1, "kdc", "TGS", reply={"ticket": {"enc_part": "issued.t"}})
    first = ap(2, "issued.t", "auth.1")
    again = ap(3, "issued.t", "auth.1", ok=False, error="KRB_AP_ERR_REPEAT")
    forged = ap(4, "minted.t", "auth.2", ok=False, error="KRB_AP_ERR_MODIFIED")
    marks = EventMarks()
    marks.feed([issued, first, again, forged])
    assert [marks.of(e) for e in (issued, first, again)] == [{}, {}, {"replay_of": 2}]
    assert marks.of(forged) == {"forged": True}
    assert EventMarks().of(first) == {"forged": True}  # a trace without the KDC's reply


def test_a_forgery_is_explained_by_the_signature_an_altered_ticket_by_the_tag() -> None:
    message = "the authorization data is signed by an unknown KDC key: ..."
    forged = ap(4, "minted.t", "auth.2", ok=False, error="KRB_AP_ERR_MODIFIED", message=message)
    altered = ap(5, "flipped.t", "auth.3", ok=False, error="KRB_AP_ERR_MODIFIED", message="tag")
    marks = EventMarks()
    assert event_view(forged, None, marks.of(forged))["explanation"] == FORGED
    view = event_view(altered, None, marks.of(altered))
    assert view["explanation"] == EXPLANATIONS["KRB_AP_ERR_MODIFIED"]
    assert view["marks"] == {"forged": True}
