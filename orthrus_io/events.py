"""Exchange events: one record per AS, TGS, AP or admin operation, for the sinks that watch
them (audit log, metrics, lab traces). The KDC and services emit; sinks never see secrets:
an event holds names, times, results and, only where a lab asks for it, the wire messages
(which are ciphertext to anyone without the keys).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["EventSink", "Exchange", "ExchangeEvent", "LoggingSink", "Transport", "fan_out"]

Exchange = Literal["AS", "TGS", "AP", "ADMIN", "KPASSWD"]
#: How a request came: HTTP (the JSON API), or Kerberos over UDP or TCP (RFC 4120 §7.2).
Transport = Literal["http", "udp", "tcp"]


@dataclass(frozen=True, slots=True)
class ExchangeEvent:
    """What happened in one exchange."""

    exchange: Exchange
    ok: bool
    time: float
    duration: float = 0.0
    client: str | None = None
    server: str | None = None
    error: str | None = None
    message: str | None = None
    client_address: str | None = None
    request_id: str | None = None
    realm: str | None = None
    action: str | None = None
    transport: Transport | None = None
    request: bytes | None = field(default=None, repr=False)
    reply: bytes | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)


class EventSink(Protocol):
    def emit(self, event: ExchangeEvent) -> None: ...


class LoggingSink:
    """Writes one human-readable line per event to a :mod:`logging` logger."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def emit(self, event: ExchangeEvent) -> None:
        who = f"{event.client or '?'} -> {event.server or '?'}"
        if event.ok:
            self._logger.info("%s %s ok (%.1f ms)", event.exchange, who, event.duration * 1000)
        else:
            self._logger.info(
                "%s %s refused: %s (%.1f ms)",
                event.exchange,
                who,
                event.error,
                event.duration * 1000,
            )


class _FanOut:
    def __init__(self, sinks: Sequence[EventSink]) -> None:
        self._sinks = tuple(sinks)

    def emit(self, event: ExchangeEvent) -> None:
        for sink in self._sinks:
            sink.emit(event)


def fan_out(sinks: Sequence[EventSink]) -> EventSink:
    """One sink that passes each event to every sink of ``sinks``, in order."""
    return _FanOut(sinks)
