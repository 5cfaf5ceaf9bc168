"""The instructor's dashboard: the student-by-exercise grid of a class, live.

Plain HTML and JavaScript (``static/``), served by Flask under gunicorn on loopback only
(it shows every student's grades). The page polls ``GET /api/grid`` every two seconds;
the grid is graded afresh from the class trace on each request (:mod:`.grading`).

Loopback is not enough where students have accounts on the class server's machine: the grid
answers only a request bearing the dashboard's token (``Authorization: Bearer TOKEN``), a
random value ``class serve`` writes to ``DIR/dashboard.token`` (mode 0600, readable by the
instructor alone) and ``class dashboard`` prints in the URL's fragment (``#token=``), which
the browser never sends to a server or a log. Anything else is 403.

Under ``/trace/`` the dashboard serves the lab's sequence-diagram page for the class trace,
decoded as ``instructor``: every key of the class realm's KDC database. That view exists in
class mode only, and its API (``/trace/api/...``) answers the token alone, as the grid does.

``python -m labs.classroom.dashboard --dir CLASS --port P``
"""

from __future__ import annotations

import argparse
import hmac
import secrets
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request

from labs.classroom.grading import grade_class
from labs.classroom.realm import ClassState, class_paths
from labs.page import page_app
from labs.viewers import INSTRUCTOR, Viewer, ViewerRefused, instructor_viewer
from labs.web import TraceViews, trace_page
from orthrus.authz import AuthzVerifier
from orthrus.errors import ConfigError
from orthrus_io.files import read_private, write_private

__all__ = ["TOKEN_FILE", "create_app", "main", "new_token", "token_of"]

STATIC = Path(__file__).parent / "static"
#: The dashboard's token, in the class directory.
TOKEN_FILE = "dashboard.token"  # noqa: S105 - a file name, not a secret


def new_token(root: Path) -> str:
    """A fresh token for the dashboard of the class in ``root`` (mode 0600)."""
    token = secrets.token_urlsafe(32)
    write_private(root / TOKEN_FILE, (token + "\n").encode())
    return token


def token_of(root: Path) -> str:
    """The dashboard's token (``ConfigError`` saying what to run if there is none)."""
    path = root / TOKEN_FILE
    if not path.exists():
        raise ConfigError(
            f"no dashboard token in {root}: start the class with: orthrus-lab class serve "
            f"--dir {root} --host HOST --port PORT"
        )
    return read_private(path, "dashboard token").decode().strip()


def create_app(root: Path) -> Flask:
    """The dashboard of the class in ``root``: the grid, and under ``/trace/`` the class
    trace's sequence diagram decoded with every key of the realm (the instructor's view,
    which a local lab does not have: :mod:`labs.viewers`). Both only with the token."""
    from kdc.config import load_settings
    from kdc.store import Store

    paths = class_paths(root)
    state = ClassState.load(paths)
    store = Store.open(load_settings(paths.kdc, env={}))
    lock = threading.Lock()  # one grading at a time: the grader's decoder is not shared-safe
    expected = f"Bearer {token_of(paths.root)}".encode()
    app = page_app("labs.classroom.dashboard", STATIC, "dashboard.html")

    def refused() -> Any:
        """403 unless the request bears the dashboard's token (None: let it through)."""
        given = request.headers.get("Authorization", "").encode()
        if hmac.compare_digest(given, expected):
            return None
        why = "the dashboard is the instructor's: open the URL orthrus-lab class dashboard prints"
        return jsonify(error=why), 403

    @app.get("/api/grid")
    def grid() -> Any:
        refusal = refused()
        if refusal is not None:
            return refusal
        with lock:
            return jsonify(grade_class(paths, state, store).to_json())

    instructor = instructor_viewer(store)

    def choose(name: str) -> Viewer:
        if name != INSTRUCTOR:
            raise ViewerRefused(
                f"the class trace is decoded as {INSTRUCTOR} (every key) or not at all; a "
                "student decodes their own exchanges in their own lab"
            )
        return instructor

    views = TraceViews(
        paths.trace,
        AuthzVerifier(store.signer().jwks(), state.realm),
        int(store.settings.max_skew),
        choose,
    )

    def status() -> dict[str, Any]:
        return {
            "realm": state.realm,
            "processes": {},
            "lanes": ["kdc", "notes"],
            "viewers": [instructor.to_json()],
        }

    def trace_refused() -> Any:
        """The trace page's HTML and scripts are static; its API is the instructor's."""
        return refused() if request.path.startswith("/trace/api/") else None

    app.register_blueprint(trace_page("trace", views, status, trace_refused), url_prefix="/trace")
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labs.classroom.dashboard", description=__doc__)
    parser.add_argument("--dir", required=True, help="the class directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8902)
    args = parser.parse_args(argv)
    from labs.serve import serve_app

    root = Path(args.dir)
    ClassState.load(class_paths(root))  # refuse a directory that is not a class, before forking
    serve_app(lambda: create_app(root), args.host, args.port, "orthrus-class-dashboard")
    return 0


if __name__ == "__main__":
    sys.exit(main())
