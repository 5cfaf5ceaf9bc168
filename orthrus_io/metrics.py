"""Prometheus metrics from exchange events, correct with several worker processes.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``orthrus-kdc serve`` and ``python -m service_demo``
set it before forking), every worker writes its samples there and ``/metrics`` adds them up
(prometheus-client's multiprocess mode); otherwise the process's own registry is served.

Metrics (``component`` is ``kdc`` or ``service``):
- ``orthrus_requests_total{component, exchange, result}``: result is ``ok`` or the error name;
- ``orthrus_request_duration_seconds{component, exchange}``: a latency histogram;
- ``orthrus_lockouts_total{component}``: logins refused because the principal is locked;
- ``orthrus_replay_rejections_total{component, exchange}``: authenticators refused as replays.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from orthrus_io.events import ExchangeEvent

__all__ = ["CONTENT_TYPE_LATEST", "MetricsSink", "render_metrics"]

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

REQUESTS = Counter(
    "orthrus_requests", "Exchanges handled, by result", ["component", "exchange", "result"]
)
DURATION = Histogram(
    "orthrus_request_duration_seconds",
    "Time to handle one exchange",
    ["component", "exchange"],
    buckets=_BUCKETS,
)
LOCKOUTS = Counter("orthrus_lockouts", "Logins refused: principal locked out", ["component"])
REPLAYS = Counter(
    "orthrus_replay_rejections", "Authenticators refused as replays", ["component", "exchange"]
)


class MetricsSink:
    """Counts every event into the metrics above.

    The labelled series of each (exchange, result) are looked up once and kept (the few
    results are Kerberos error names), so an event costs the two updates and no
    ``labels()`` look-up.
    """

    def __init__(self, component: str) -> None:
        self._component = component
        self._series: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    def emit(self, event: ExchangeEvent) -> None:
        result = "ok" if event.ok else (event.error or "error")
        series = self._series.get((event.exchange, result))
        if series is None:
            series = (
                REQUESTS.labels(self._component, event.exchange, result),
                DURATION.labels(self._component, event.exchange),
            )
            self._series[(event.exchange, result)] = series
        series[0].inc()
        series[1].observe(event.duration)
        if event.error == "KRB_AP_ERR_REPEAT":
            REPLAYS.labels(self._component, event.exchange).inc()
        elif event.error == "KDC_ERR_CLIENT_REVOKED" and event.exchange == "AS":
            LOCKOUTS.labels(self._component).inc()


def render_metrics() -> bytes:
    """The text exposition of every worker's metrics (or this process's)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()
