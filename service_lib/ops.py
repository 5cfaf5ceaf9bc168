"""Operating a protected service: audit log, Prometheus metrics, readiness.

Every verification the :class:`~service_lib.verifier.Verifier` makes is one ``AP`` event
(:mod:`orthrus_io.events`). :func:`service_events` sends them to

- Prometheus metrics with ``component="service"`` (:mod:`orthrus_io.metrics`):
  ``orthrus_requests_total{exchange="AP", result}``, ``orthrus_request_duration_seconds``,
  ``orthrus_replay_rejections_total``,
- given a path, the audit log: one JSON line per verification with the time, principal,
  service, client address, result, error name and request id (never a ticket, key or token);
- without one, a log line per verification (logger ``orthrus.service``). With an audit log
  that line would say again what the audit line says, once more per request; refusals are
  logged either way, by the Flask extension and the WSGI middleware that answer them.

:func:`register_ops_routes` adds ``GET /readyz`` (the keytab holds keys and the replay cache
answers, plus the application's own checks) and ``GET /metrics`` to a Flask app.

Under gunicorn with several workers the metrics must be summed over the workers: set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory *before* anything imports
``prometheus_client`` (prometheus-client picks its multiprocess mode at import), and call
``prometheus_client.multiprocess.mark_process_dead(pid)`` from gunicorn's ``child_exit``
hook (see :mod:`service_demo.server`). This module imports the metrics only when first used,
so importing :mod:`service_lib` never fixes the mode too early.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from flask import Flask, Response

from orthrus.errors import OrthrusError
from orthrus_io.audit import record_sink
from orthrus_io.events import EventSink, fan_out
from service_lib.verifier import Verifier

__all__ = ["ReadinessCheck", "readiness_problems", "register_ops_routes", "service_events"]

log = logging.getLogger("orthrus.service")

JSON = "application/json"

#: A readiness check: returns normally when ready, raises (any exception) when not.
ReadinessCheck = Callable[[], object]


def service_events(audit_log: Path | None = None, component: str = "service") -> EventSink:
    """Prometheus metrics, and the audit log at ``audit_log`` (else a log line per event),
    for ``Verifier(events=)``.

    Build it in each worker, after ``PROMETHEUS_MULTIPROC_DIR`` is set; the audit log is
    opened for appending (mode 0600) and shared safely by the workers of one host.
    """
    from orthrus_io.metrics import MetricsSink  # see the module docstring: imported late

    path = None if audit_log is None else Path(audit_log)
    return fan_out([MetricsSink(component), record_sink(path, component, log)])


def _check_keytab(verifier: Verifier) -> None:
    snapshot = verifier.keytab.snapshot()
    if not snapshot.principals:
        raise OrthrusError("the keytab holds no keys")


def _check_replay_cache(verifier: Verifier) -> None:
    ping = getattr(verifier.replay_cache, "ping", None)
    if ping is not None:
        ping()


def readiness_problems(
    verifier: Verifier, checks: Mapping[str, ReadinessCheck] | None = None
) -> dict[str, str]:
    """What keeps the service from answering: ``{check: reason}``, empty when ready.

    Always checked: ``keytab`` (keys are loaded) and ``replay_cache`` (it answers: a Redis
    cache is pinged, a SQLite file read); then ``checks``, the application's own.
    """
    all_checks: dict[str, ReadinessCheck] = {
        "keytab": lambda: _check_keytab(verifier),
        "replay_cache": lambda: _check_replay_cache(verifier),
        **(checks or {}),
    }
    problems: dict[str, str] = {}
    for name, check in all_checks.items():
        try:
            check()
        except Exception as exc:  # any failure means not ready; the reason is reported
            lines = str(exc).strip().splitlines()
            problems[name] = lines[0][:300] if lines else type(exc).__name__
    return problems


def register_ops_routes(
    app: Flask,
    verifier: Verifier,
    checks: Mapping[str, ReadinessCheck] | None = None,
    metrics_path: str = "/metrics",
    readyz_path: str = "/readyz",
) -> None:
    """Add ``GET /readyz`` and ``GET /metrics`` (no ticket needed) to ``app``.

    ``/readyz`` answers ``200 {"status": "ready", "principals": [...]}`` or
    ``503 {"status": "unavailable", "problems": {check: reason}}``; ``/metrics`` is the
    Prometheus text exposition, summed over every worker in multiprocess mode.
    """

    def readyz() -> Response:
        problems = readiness_problems(verifier, checks)
        if problems:
            log.warning("not ready: %s", problems)
            body = {"status": "unavailable", "problems": problems}
            return Response(json.dumps(body), 503, {"Cache-Control": "no-store"}, JSON)
        principals = sorted(str(p) for p in verifier.keytab.snapshot().principals)
        return Response(json.dumps({"status": "ready", "principals": principals}), 200, None, JSON)

    def metrics() -> Response:
        from orthrus_io.metrics import CONTENT_TYPE_LATEST, render_metrics

        return Response(render_metrics(), mimetype=CONTENT_TYPE_LATEST)

    app.add_url_rule(readyz_path, "orthrus_readyz", readyz, methods=["GET"])
    app.add_url_rule(metrics_path, "orthrus_metrics", metrics, methods=["GET"])
