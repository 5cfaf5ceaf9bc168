"""``orthrus-lab web``: the lab's exchanges as a live sequence diagram in a browser.

Plain HTML and JavaScript (``labs/static/``), no build step, served by Flask under gunicorn.
The page polls ``GET api/events?after=N&as=VIEWER`` and draws each AS, TGS and AP exchange
(RFC 4120 §3) as a request arrow and a reply arrow between a lifeline per client principal,
the KDC and the services; replays and forged tickets are marked; a click opens an arrow's
decoded fields, the key that protects each sealed part (a link to the event it was learnt
from) and a verdict on each opened ticket's KDC signature; refusals are red, with the error
explained; the rows can be filtered by principal and exchange.

A viewer decodes with the keys it holds (:mod:`labs.viewers`): in a local lab a user, a
service, or the KDC once exercise 12 hands out the krbtgt key — never an instructor, a view
the class dashboard alone serves (:mod:`labs.classroom.dashboard`), mounting the same page.

``python -m labs.web --dir LAB --port P``
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request, send_from_directory

from labs.decode import Decoder
from labs.lab import Lab
from labs.state import LabPaths
from labs.tracefile import TraceEvent, read_trace, record_activity
from labs.view import EventMarks, event_view
from labs.viewers import Viewer, ViewerRefused, local_viewer, local_viewers
from orthrus.authz import AuthzVerifier

__all__ = ["TraceViews", "create_app", "json_safe", "main", "serve", "trace_page"]

STATIC = Path(__file__).parent / "static"
#: The largest integer a JavaScript number holds exactly (``Number.MAX_SAFE_INTEGER``).
MAX_SAFE_INTEGER = 2**53 - 1


def json_safe(value: Any) -> Any:
    """``value`` with every integer JavaScript would round (nonces are 64-bit) as a string.

    The page shows what the CLI shows: ``7330425392013893930``, not ``7330425392013894000``.
    """
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER:
        return str(value)
    return value


class TraceViews:
    """A trace's events as views, one decoder per viewer, fed as the trace grows (all
    rebuilt if the trace is reset). ``choose`` names a viewer's keys (or refuses, with
    :class:`~labs.viewers.ViewerRefused`); ``on_decoded`` sees what a viewer opened."""

    def __init__(
        self,
        trace: Path,
        authz: AuthzVerifier,
        max_skew: int,
        choose: Callable[[str], Viewer],
        on_decoded: Callable[[Decoder, list[TraceEvent]], None] | None = None,
    ) -> None:
        self.trace = trace
        self.authz = authz
        self.max_skew = max_skew
        self.choose = choose
        self.on_decoded = on_decoded
        self.lock = threading.Lock()
        self.decoders: dict[str, Decoder] = {}
        self.marks = EventMarks()
        self.seen = 0

    def decoder(self, name: str) -> Decoder | None:
        if name in ("", "none"):
            return None
        found = self.decoders.get(name)
        if found is None:
            viewer = self.choose(name)
            found = Decoder(viewer.keys(), viewer.holder, self.authz, self.max_skew)
            self.decoders[name] = found
        return found

    def views(self, viewer: str, after: int) -> tuple[list[dict[str, Any]], list[str]]:
        """The events after ``after``, decoded as ``viewer``, and the trace's warnings."""
        warnings: list[str] = []
        events = read_trace(self.trace, warnings.append)
        with self.lock:
            last = events[-1].id if events else 0
            if last < self.seen:  # the lab was reset
                self.decoders.clear()
                self.marks = EventMarks()
            self.seen = last
            self.marks.feed(events)
            decoder = self.decoder(viewer)
            if decoder is not None:
                decoder.feed(events)
                if self.on_decoded is not None:
                    self.on_decoded(decoder, events)
            shown = [e for e in events if e.id > after]
            views = [
                event_view(e, decoder.parts(e) if decoder else None, self.marks.of(e))
                for e in shown
            ]
            return views, warnings


class _Decodes:
    """Exercise 3's decoding step: a user who opened their own AP authenticator (noted once
    per event in the lab's activity)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.recorded: dict[str, set[int]] = {}

    def __call__(self, decoder: Decoder, events: list[TraceEvent]) -> None:
        done = self.recorded.setdefault(decoder.holder, set())
        opened = [
            e.id
            for e in events
            if e.id not in done
            and e.exchange == "AP"
            and e.client == decoder.holder
            and any(p.opened and p.where == "request.authenticator" for p in decoder.parts(e))
        ]
        if opened:
            record_activity(
                self.lab.paths.activity,
                "decode",
                events=opened,
                via="web",
                **{"as": decoder.holder},
            )
        done.update(opened)


def trace_page(
    name: str,
    views: TraceViews,
    status: Callable[[], dict[str, Any]],
    guard: Callable[[], Any] | None = None,
) -> Blueprint:
    """The sequence-diagram page (``index.html``, its static files) and its API
    (``api/status``: realm, processes, lifelines and the views offered;
    ``api/events?after=N&as=VIEWER``), mountable under any prefix: the page
    asks for its files and API relative to its own URL. ``guard`` may answer a request
    first (a refusal)."""
    page = Blueprint(name, __name__)
    if guard is not None:
        page.before_request(guard)

    @page.get("/")
    def index_page() -> Response:
        return send_from_directory(STATIC, "index.html", max_age=0)

    @page.get("/static/<path:file>")
    def static_file(file: str) -> Response:
        return send_from_directory(STATIC, file, max_age=0)

    @page.get("/api/status")
    def status_api() -> Any:
        return jsonify(status())

    @page.get("/api/events")
    def events() -> Any:
        try:
            after = int(request.args.get("after", "0"))
        except ValueError:
            after = 0
        viewer = request.args.get("as", "")
        try:
            found, warnings = views.views(viewer, after)
        except ViewerRefused as exc:  # a view whose keys the asker does not hold
            return jsonify(error=str(exc), viewer=viewer), 403
        except Exception as exc:  # a viewer nobody is, an unreadable realm: say so
            return jsonify(error=str(exc)), 400
        return jsonify(events=json_safe(found), warnings=warnings, viewer=viewer or "none")

    return page


def create_app(root: Path) -> Flask:
    """The page's app for the lab in ``root``: decoded as the lab's users, services, or the
    KDC once its key was handed out (:mod:`labs.viewers`) — never as an instructor."""
    lab = Lab.open(LabPaths.of(root))
    store = lab.store()
    views = TraceViews(
        lab.paths.trace,
        AuthzVerifier(store.signer().jwks(), lab.state.realm),
        int(store.settings.max_skew),
        lambda name: local_viewer(lab, name),
        _Decodes(lab),
    )

    def status() -> dict[str, Any]:
        document = lab.status_json()
        return {
            "realm": document["realm"],
            "up": document["up"],
            "processes": document["processes"],
            "lanes": ["kdc", *(s.name for s in lab.state.services), "impostor"],
            "viewers": [v.to_json() for v in local_viewers(lab)],
        }

    app = Flask("labs.web", static_folder=None)
    app.register_blueprint(trace_page("lab", views, status))

    @app.get("/livez")
    def livez() -> Any:
        return jsonify(status="ok")

    return app


def serve(root: Path, host: str, port: int) -> None:
    from labs.serve import serve_app

    Lab.open(LabPaths.of(root))  # refuse a directory that is not a lab, before forking
    serve_app(lambda: create_app(root), host, port, "orthrus-lab-web")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labs.web", description=__doc__)
    parser.add_argument("--dir", required=True, help="the lab directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8804)
    args = parser.parse_args(argv)
    serve(Path(args.dir), args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
