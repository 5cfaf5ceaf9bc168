"""Lab traces: one JSON line per AS, TGS or AP exchange, with which key seals each part.

A lab realm (``kdc.toml`` with ``lab = true``, made by ``orthrus-lab up``) records every exchange
its KDC and its services see, so that students can watch the protocol of RFC 4120 §3 happen:
who asked, for what, when, the result or error (RFC 4120 §7.5.9), the wire messages as sent,
and for every sealed part (RFC 4120 §5, carried as JWE) its key usage (RFC 4120 §7.5.1), key
version and *which key* protects it — a principal's long-term key, the session key of a ticket,
or a subkey. The parts stay ciphertext here; ``labs`` opens them with the keys a student holds.

One line per exchange (``TRACE_FORMAT`` 1)::

    {"v": 1, "time": 1795768000.12, "component": "kdc", "exchange": "AS", "ok": false,
     "client": "alice@LAB.TEST", "server": "krbtgt/LAB.TEST@LAB.TEST",
     "error": "KDC_ERR_PREAUTH_REQUIRED", "message": "...", "duration_ms": 1.3,
     "labels": {}, "extra": {}, "request": {...AS-REQ...}, "reply": {"error": {...}},
     "parts": [{"where": "request.padata[0].value", "part": "PA-ENC-TIMESTAMP", "usage": 1,
                "usage_name": "AS_REQ_PA_ENC_TIMESTAMP", "kvno": 1,
                "key": "long-term key of alice@LAB.TEST (kvno 1)",
                "key_ref": {"kind": "long-term", "principal": "alice@LAB.TEST", "kvno": 1}}]}

An exchange on the Kerberos wire (RFC 4120 DER over UDP or TCP, ``"transport": "udp"``)
keeps its messages whole, ``"request": {"der": BASE64}`` and the same for the reply, and
lists no parts: the lab reads them with :mod:`orthrus.der` (``orthrus-lab roast``, the
checks of exercises 16-18).

Writers (the KDC's workers, each service's workers) append whole lines with one ``write`` on a
file opened ``O_APPEND`` (mode 0600), so several processes can share one trace file.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orthrus.b64 import b64u_decode
from orthrus.errors import ProtocolError
from orthrus.keys import KeyUsage
from orthrus.seal import peek_header
from orthrus.session_token import ticket_id
from orthrus_io.events import ExchangeEvent

__all__ = [
    "KERBEROS_TRANSPORTS",
    "TRACE_FORMAT",
    "TRACE_NAME",
    "TraceSink",
    "describe_parts",
    "trace_record",
]

log = logging.getLogger("orthrus.trace")

TRACE_FORMAT = 1
#: The trace file's name in a lab KDC's directory.
TRACE_NAME = "trace.jsonl"

_PART_NAMES = {
    KeyUsage.AS_REQ_PA_ENC_TIMESTAMP: "PA-ENC-TIMESTAMP",
    KeyUsage.TICKET: "EncTicketPart",
    KeyUsage.AS_REP_ENC_PART: "EncASRepPart",
    KeyUsage.TGS_REQ_AUTHENTICATOR: "Authenticator (TGS)",
    KeyUsage.TGS_REP_ENC_PART_SESSKEY: "EncTGSRepPart",
    KeyUsage.TGS_REP_ENC_PART_SUBKEY: "EncTGSRepPart",
    KeyUsage.AP_REQ_AUTHENTICATOR: "Authenticator",
    KeyUsage.AP_REP_ENC_PART: "EncAPRepPart",
    KeyUsage.KRB_PRIV_ENC_PART: "EncKrbPrivPart",
}


def _parse_message(data: bytes | None) -> tuple[Any, str | None]:
    """The JSON of a wire message, and the token if it came as base64url (an AP-REQ header)."""
    if data is None:
        return None, None
    try:
        return json.loads(data), None
    except (ValueError, UnicodeDecodeError):
        pass
    try:
        text = data.decode("ascii")
        return json.loads(b64u_decode(text)), text
    except (ValueError, UnicodeDecodeError, ProtocolError):
        return {"unreadable": data[:512].decode("latin-1")}, None


def _long_term(principal: Any, kvno: Any) -> dict[str, Any]:
    return {"kind": "long-term", "principal": str(principal), "kvno": kvno}


def _key_text(ref: Mapping[str, Any], servers: Mapping[str, str]) -> str:
    kind = ref.get("kind")
    if kind == "long-term":
        return f"long-term key of {ref['principal']} (kvno {ref['kvno']})"
    if kind == "session":
        server = servers.get(str(ref.get("ticket")), "a ticket")
        return f"session key of the ticket for {server}"
    if kind == "subkey":
        return "subkey the client chose in its authenticator"
    return "a key this trace cannot name"


class _Walker:
    """Finds the sealed parts of one record's request and reply (RFC 4120 §5.3-§5.5)."""

    def __init__(self) -> None:
        self.parts: list[dict[str, Any]] = []
        self.servers: dict[str, str] = {}

    def add(self, where: str, sealed: Any, ref: dict[str, Any]) -> None:
        if not isinstance(sealed, str):
            return
        try:
            header = peek_header(sealed)
        except ProtocolError:
            header = {}
        usage = header.get("usage")
        kid = header.get("kid")
        kvno = int(kid) if isinstance(kid, str) and kid.isdigit() else None
        if ref.get("kind") == "long-term" and ref.get("kvno") is None:
            ref = {**ref, "kvno": kvno}
        usage_name, part = None, "sealed part"
        if isinstance(usage, int) and usage in KeyUsage._value2member_map_:
            known = KeyUsage(usage)
            usage_name, part = known.name, _PART_NAMES.get(known, part)
        self.parts.append(
            {
                "where": where,
                "part": part,
                "usage": usage,
                "usage_name": usage_name,
                "kvno": kvno,
                "key_ref": ref,
            }
        )

    def ticket(self, where: str, ticket: Any) -> str | None:
        if not isinstance(ticket, dict) or not isinstance(ticket.get("enc_part"), str):
            return None
        tid = ticket_id(ticket["enc_part"])
        self.servers[tid] = str(ticket.get("server"))
        self.add(f"{where}.enc_part", ticket["enc_part"], _long_term(ticket.get("server"), None))
        return tid

    def ap_req(self, where: str, ap_req: Any) -> None:
        if not isinstance(ap_req, dict):
            return
        tid = self.ticket(f"{where}.ticket", ap_req.get("ticket"))
        self.add(f"{where}.authenticator", ap_req.get("authenticator"), _session(tid))

    def request(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "AS-REQ":
            for index, padata in enumerate(message.get("padata") or []):
                if isinstance(padata, dict):
                    self.add(
                        f"request.padata[{index}].value",
                        padata.get("value"),
                        _long_term(message.get("client"), None),
                    )
        elif kind in ("TGS-REQ", "KPASSWD-REQ"):
            self.ap_req("request.ap_req", message.get("ap_req"))
            data = message.get("data")
            if isinstance(data, dict):
                self.add("request.data.enc_part", data.get("enc_part"), _subkey())
        elif kind == "AP-REQ":
            self.ap_req("request", message)

    def reply(self, message: Any, request: Any) -> None:
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind in ("AS-REP", "TGS-REP"):
            self.ticket("reply.ticket", message.get("ticket"))
            if kind == "AS-REP":
                ref = _long_term(message.get("client"), None)
            else:
                ref = self._tgs_reply_key(message.get("enc_part"), request)
            self.add("reply.enc_part", message.get("enc_part"), ref)
        elif kind == "AP-REP":  # mutual authentication, under the ticket's session key
            self.add("reply.enc_part", message.get("enc_part"), _session(_request_ticket(request)))
        elif kind == "KPASSWD-REP":
            ap_rep = message.get("ap_rep")
            tid = _request_ticket(request)
            if isinstance(ap_rep, dict):
                self.add("reply.ap_rep.enc_part", ap_rep.get("enc_part"), _session(tid))
            data = message.get("data")
            if isinstance(data, dict):
                self.add("reply.data.enc_part", data.get("enc_part"), _subkey())

    @staticmethod
    def _tgs_reply_key(sealed: Any, request: Any) -> dict[str, Any]:
        try:
            usage = peek_header(sealed).get("usage") if isinstance(sealed, str) else None
        except ProtocolError:
            usage = None
        if usage == KeyUsage.TGS_REP_ENC_PART_SUBKEY:
            return _subkey()
        return _session(_request_ticket(request))


def _session(tid: str | None) -> dict[str, Any]:
    return {"kind": "session", "ticket": tid} if tid else {"kind": "unknown"}


def _subkey() -> dict[str, Any]:
    return {"kind": "subkey", "of": "request.ap_req.authenticator"}


def _request_ticket(request: Any) -> str | None:
    """The id of the ticket a request presents: an AP-REQ's, or that of the AP-REQ it holds."""
    if not isinstance(request, dict):
        return None
    ap_req = request if request.get("type") == "AP-REQ" else request.get("ap_req")
    ticket = ap_req.get("ticket") if isinstance(ap_req, dict) else None
    sealed = ticket.get("enc_part") if isinstance(ticket, dict) else None
    return ticket_id(sealed) if isinstance(sealed, str) else None


def describe_parts(request: Any, reply: Any) -> list[dict[str, Any]]:
    """Every sealed part of a request and its reply: where, usage, kvno and which key."""
    walker = _Walker()
    walker.request(request)
    walker.reply(reply, request)
    for part in walker.parts:
        part["key"] = _key_text(part["key_ref"], walker.servers)
    return walker.parts


#: The transports whose messages are RFC 4120 DER (RFC 4120 §7.2), not the JSON dialect.
KERBEROS_TRANSPORTS = frozenset({"udp", "tcp"})


def _der_message(data: bytes | None) -> dict[str, str] | None:
    """A DER message as the trace keeps it: whole, in base64 (read with ``orthrus.der``)."""
    return None if data is None else {"der": base64.b64encode(data).decode("ascii")}


def trace_record(
    event: ExchangeEvent, component: str, labels: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON object of one trace line for ``event``; a Kerberos-wire exchange keeps its
    DER messages whole (``{"der": BASE64}``) and the transport it came over."""
    if event.transport in KERBEROS_TRANSPORTS:
        request, token, reply = _der_message(event.request), None, _der_message(event.reply)
    else:
        request, token = _parse_message(event.request)
        reply, _ = _parse_message(event.reply)
    record: dict[str, Any] = {
        "v": TRACE_FORMAT,
        "time": event.time,
        "component": component,
        "exchange": event.exchange,
        "ok": event.ok,
        "client": event.client,
        "server": event.server,
        "realm": event.realm,
        "error": event.error,
        "message": event.message,
        "duration_ms": round(event.duration * 1000, 3),
        "client_address": event.client_address,
        "request_id": event.request_id,
        "transport": event.transport,
        "labels": dict(labels or {}),
        "extra": {k: v for k, v in event.extra.items() if _jsonable(v)},
        "request": request,
        "reply": reply,
        "parts": describe_parts(request, reply),
    }
    if token is not None:
        record["token"] = token
    return record


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


class TraceSink:
    """Appends one JSON line per event to a lab trace file (mode 0600).

    ``component`` names the writer (``kdc``, or the service's name); ``labels`` are the lab
    switches it runs with (``{"replay_cache": "off"}``), kept in every line so that a grader
    knows which defences were on. A failure to write is logged, never raised: tracing must
    not break an exchange.
    """

    def __init__(self, path: Path, component: str, labels: Mapping[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.component = component
        self.labels = dict(labels or {})

    def emit(self, event: ExchangeEvent) -> None:
        try:
            record = trace_record(event, self.component, self.labels)
            line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except (OSError, ValueError, TypeError) as exc:
            log.warning("cannot write the lab trace %s: %s", self.path, exc)
