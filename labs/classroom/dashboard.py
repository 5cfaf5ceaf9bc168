"""The instructor's dashboard: the student-by-exercise grid of a class, live.

Plain HTML and JavaScript (``static/``), served by Flask under gunicorn on loopback only
(it shows every student's grades). The page polls ``GET /api/grid`` every two seconds;
the grid is graded afresh from the class trace on each request (:mod:`.grading`).

``python -m labs.classroom.dashboard --dir CLASS --port P``
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flask import Flask, jsonify

from labs.classroom.grading import grade_class
from labs.classroom.realm import ClassState, class_paths
from labs.page import page_app

__all__ = ["create_app", "main"]

STATIC = Path(__file__).parent / "static"


def create_app(root: Path) -> Flask:
    """The dashboard of the class in ``root``."""
    from kdc.config import load_settings
    from kdc.store import Store

    paths = class_paths(root)
    state = ClassState.load(paths)
    store = Store.open(load_settings(paths.kdc, env={}))
    lock = threading.Lock()  # one grading at a time: the grader's decoder is not shared-safe
    app = page_app("labs.classroom.dashboard", STATIC, "dashboard.html")

    @app.get("/api/grid")
    def grid() -> Any:
        with lock:
            return jsonify(grade_class(paths, state, store).to_json())

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
