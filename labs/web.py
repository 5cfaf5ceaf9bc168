"""``orthrus-lab web``: the lab's exchanges as a live sequence diagram in a browser.

Plain HTML and JavaScript (``labs/static/``), no build step, served by Flask under gunicorn.
The page polls ``GET /api/events?after=N&as=USER`` and draws each AS, TGS and AP exchange
(RFC 4120 §3) as a request arrow and a reply arrow between a lifeline per client principal,
the KDC and the services; replays and forged tickets are marked; a click opens an arrow's
decoded fields, the key that protects each sealed part (a link to the event it was learnt
from) and a verdict on each opened ticket's KDC signature; refusals are red, with the error
explained; the rows can be filtered by principal and exchange.

``python -m labs.web --dir LAB --port P``
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request

from labs.decode import Decoder, PasswordKeys, StoreKeys
from labs.lab import Lab
from labs.page import page_app
from labs.state import LabPaths
from labs.tracefile import TraceEvent, read_trace, record_activity
from labs.view import EventMarks, event_view
from orthrus.authz import AuthzVerifier

__all__ = ["create_app", "main", "serve"]

STATIC = Path(__file__).parent / "static"
INSTRUCTOR = "instructor"
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


class _Viewers:
    """One decoder per viewer, fed as the trace grows (rebuilt if the trace is reset)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.lock = threading.Lock()
        self.decoders: dict[str, Decoder] = {}
        self.recorded: dict[str, set[int]] = {}
        self.marks = EventMarks()
        self.seen = 0
        store = lab.store()
        self.authz = AuthzVerifier(store.signer().jwks(), lab.state.realm)
        self.max_skew = int(store.settings.max_skew)

    def decoder(self, viewer: str) -> Decoder | None:
        if viewer in ("", "none"):
            return None
        found = self.decoders.get(viewer)
        if found is None:
            if viewer == INSTRUCTOR:
                keys: Any = StoreKeys(self.lab.store())
                holder = "the instructor (every key)"
            else:
                user = self.lab.state.user(viewer)
                holder = user.principal(self.lab.state.realm)
                keys = PasswordKeys({holder: user.password})
            found = Decoder(keys, holder, self.authz, self.max_skew)
            self.decoders[viewer] = found
        return found

    def views(self, viewer: str, after: int) -> tuple[list[dict[str, Any]], list[str]]:
        warnings: list[str] = []
        events = read_trace(self.lab.paths.trace, warnings.append)
        with self.lock:
            last = events[-1].id if events else 0
            if last < self.seen:  # the lab was reset
                self.decoders.clear()
                self.recorded.clear()
                self.marks = EventMarks()
            self.seen = last
            self.marks.feed(events)
            decoder = self.decoder(viewer)
            if decoder is not None:
                decoder.feed(events)
                self._record(viewer, decoder, events)
            shown = [e for e in events if e.id > after]
            views = [
                event_view(e, decoder.parts(e) if decoder else None, self.marks.of(e))
                for e in shown
            ]
            return views, warnings

    def _record(self, viewer: str, decoder: Decoder, events: list[TraceEvent]) -> None:
        """A user who opened their own AP authenticator did exercise 3's decoding step."""
        done = self.recorded.setdefault(viewer, set())
        opened = [
            e.id
            for e in events
            if e.id not in done
            and e.exchange == "AP"
            and e.client == decoder.holder
            and any(p.opened and p.where == "request.authenticator" for p in decoder.parts(e))
        ]
        if opened and viewer != INSTRUCTOR:
            record_activity(
                self.lab.paths.activity,
                "decode",
                events=opened,
                via="web",
                **{"as": decoder.holder},
            )
        done.update(opened)


def create_app(root: Path) -> Flask:
    """The page's app for the lab in ``root``."""
    lab = Lab.open(LabPaths.of(root))
    viewers = _Viewers(lab)
    app = page_app("labs.web", STATIC, "index.html")

    @app.get("/api/status")
    def status() -> Any:
        document = lab.status_json()
        return jsonify(
            realm=document["realm"],
            up=document["up"],
            processes=document["processes"],
            users=[
                {"name": name, "principal": u["principal"], "note": u["note"]}
                for name, u in document["users"].items()
            ],
            services={n: s["principal"] for n, s in document["services"].items()},
        )

    @app.get("/api/events")
    def events() -> Any:
        try:
            after = int(request.args.get("after", "0"))
        except ValueError:
            after = 0
        viewer = request.args.get("as", "")
        try:
            views, warnings = viewers.views(viewer, after)
        except Exception as exc:  # a bad viewer name or an unreadable realm: say so
            return jsonify(error=str(exc)), 400
        return jsonify(events=json_safe(views), warnings=warnings, viewer=viewer or "none")

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
