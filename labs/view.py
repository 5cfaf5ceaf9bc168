"""One trace event as shown to a student: arrows, clear fields, sealed parts and their keys.

The same view feeds the terminal (``orthrus-lab trace``, rendered with rich) and the web page
(``orthrus-lab web``, as JSON): who sent what to whom (RFC 4120 §3's AS, TGS and AP
exchanges), the result or the error with its explanation, and each sealed part with the key
that protects it — opened, when the viewer holds that key.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from labs.decode import OpenedPart
from labs.explain import FORGED, explain
from labs.tracefile import TraceEvent
from orthrus.session_token import ticket_id

__all__ = ["TIME_FIELDS", "EventMarks", "event_view", "format_time"]

TIME_FIELDS = {
    "ctime",
    "patimestamp",
    "authtime",
    "starttime",
    "endtime",
    "renew_till",
    "till",
    "iat",
    "nbf",
    "exp",
    "timestamp",
}

_MESSAGES = {
    "AS": ("AS-REQ", "AS-REP"),
    "TGS": ("TGS-REQ", "TGS-REP"),
    "AP": ("AP-REQ", "accepted"),
    "KPASSWD": ("KPASSWD-REQ", "KPASSWD-REP"),
}


class EventMarks:
    """What the trace itself shows of an exchange, event after event: a *replay* (its
    authenticator, byte for byte, was sent before: RFC 4120 §3.2.3) and a *forgery* (its
    ticket is in no reply of the KDC: minted with a stolen key, §5.2.6, or altered)."""

    def __init__(self) -> None:
        self.authenticators: dict[str, int] = {}
        self.issued: set[str] = set()
        self.marks: dict[int, dict[str, Any]] = {}

    def feed(self, events: Iterable[TraceEvent]) -> None:
        """Mark new events, in trace order (each only once)."""
        for event in events:
            if event.id in self.marks:
                continue
            marks: dict[str, Any] = {}
            sealed, ticket = event.authenticator_sealed, event.ticket_sealed
            if sealed is not None:
                first = self.authenticators.setdefault(sealed, event.id)
                if first != event.id:
                    marks["replay_of"] = first
            if ticket is not None and ticket_id(ticket) not in self.issued:
                marks["forged"] = True
            issued = event.get("reply.ticket.enc_part")
            if event.component == "kdc" and isinstance(issued, str):
                self.issued.add(ticket_id(issued))
            self.marks[event.id] = marks

    def of(self, event: TraceEvent) -> dict[str, Any]:
        self.feed([event])
        return self.marks[event.id]


def format_time(value: Any) -> str:
    """An epoch time as ``2026-11-27 08:44:25 UTC``."""
    try:
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        return str(value)


def _summary(event: TraceEvent) -> str:
    client = event.client or "a client"
    server = event.server or "?"
    request = event.request
    if "der" in request:  # RFC 4120 DER over UDP or TCP: MIT's or Heimdal's programs
        return (
            f"{client} asks the KDC for a ticket for {server} on the Kerberos wire "
            f"({event.record.get('transport')}, DER, kept whole: orthrus-lab roast {event.id} "
            "reads the reply, tshark decodes a capture; exercise 16)"
        )
    if event.exchange == "AS":
        how = (
            "with its timestamp sealed under its password key (pre-authentication)"
            if request.get("padata")
            else "without pre-authentication"
        )
        return f"{client} asks the KDC for a ticket for {server}, {how}"
    if event.exchange == "TGS":
        return f"{client} shows its TGT and an authenticator, and asks for a ticket for {server}"
    if event.exchange == "AP":
        mutual = "mutual-required" in (request.get("options") or [])
        whom = "an impostor" if event.component == "impostor" else f"service {event.component}"
        ask = ", asking it to prove itself (mutual authentication)" if mutual else ""
        return f"{client} presents a ticket for {server} to {whom}{ask}"
    return f"{client}: {event.exchange}"


def _clear(event: TraceEvent) -> dict[str, Any]:
    """What travels in clear: anyone on the wire sees this."""
    request, reply = event.request, event.reply
    clear: dict[str, Any] = {}
    kind = request.get("type")
    if kind == "AS-REQ":
        body = request.get("body") or {}
        clear.update(
            client=request.get("client"),
            server=body.get("server"),
            nonce=body.get("nonce"),
            options=body.get("options"),
            padata=[p.get("type") for p in request.get("padata") or [] if isinstance(p, dict)],
        )
    elif kind in ("TGS-REQ", "KPASSWD-REQ"):
        body = request.get("body") or {}
        ticket = (request.get("ap_req") or {}).get("ticket") or {}
        clear.update(
            server=body.get("server"),
            nonce=body.get("nonce"),
            options=body.get("options"),
            ticket=f"{ticket.get('server')} (kvno {ticket.get('kvno')})",
        )
    elif kind == "AP-REQ":
        ticket = request.get("ticket") or {}
        clear.update(
            ticket=f"{ticket.get('server')} (kvno {ticket.get('kvno')})",
            options=request.get("options") or [],
        )
        if event.extra.get("method"):
            clear["request"] = f"{event.extra.get('method')} {event.extra.get('path')}"
    if reply.get("type") in ("AS-REP", "TGS-REP"):
        ticket = reply.get("ticket") or {}
        clear["reply"] = f"{reply.get('type')} for {reply.get('client')}"
        clear["new ticket"] = f"{ticket.get('server')} (kvno {ticket.get('kvno')})"
        if reply.get("kdf"):
            clear["kdf"] = reply.get("kdf")
    error = reply.get("error")
    if isinstance(error, dict) and error.get("data"):
        clear["error data"] = error.get("data")
    return {k: v for k, v in clear.items() if v not in (None, [], {})}


def _explanation(event: TraceEvent, parts: list[OpenedPart], marks: dict[str, Any]) -> Any:
    """The error explained; a forged ticket's refusal by its real cause, the signature."""
    unsigned = any(p.signed is False for p in parts)
    # Not decoded: a ticket the KDC never issued, refused for its authorization data (an
    # altered one, which does not open, is refused for its tag: explained as such).
    unissued = marks.get("forged") and "authorization data" in str(event.record.get("message"))
    if event.error == "KRB_AP_ERR_MODIFIED" and (unsigned or unissued):
        return FORGED
    return explain(event.error)


def event_view(
    event: TraceEvent, parts: list[OpenedPart] | None, marks: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The view of ``event``; ``parts`` are its sealed parts as decoded for the viewer,
    ``marks`` what :class:`EventMarks` found (a replay, a forgery)."""
    request_label, reply_label = _MESSAGES.get(event.exchange, (event.exchange, "reply"))
    if not event.ok:
        reply_label = event.error or "refused"
    elif event.component == "impostor":
        reply_label = "200 OK (fake)"
    elif event.reply.get("type") == "AP-REP":
        reply_label = "accepted, AP-REP"
    shown_parts = parts
    if shown_parts is None:
        shown_parts = [
            OpenedPart(
                where=str(p.get("where")),
                part=str(p.get("part")),
                usage=p.get("usage"),
                usage_name=p.get("usage_name"),
                kvno=p.get("kvno"),
                key=str(p.get("key")),
            )
            for p in event.parts
        ]
    return {
        "id": event.id,
        "time": event.time,
        "at": format_time(event.time),
        "component": event.component,
        "lane": event.component,
        "exchange": event.exchange,
        "ok": event.ok,
        "client": event.client,
        "server": event.server,
        "error": event.error,
        "message": event.record.get("message"),
        "explanation": _explanation(event, shown_parts, marks or {}),
        "request_label": request_label,
        "reply_label": reply_label,
        "summary": _summary(event),
        "labels": event.labels,
        "clear": _clear(event),
        "parts": [p.to_json() for p in shown_parts],
        "decoded": parts is not None,
        "marks": marks or {},
    }
