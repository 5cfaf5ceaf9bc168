"""``orthrus-kdc`` whose Flask app has one more route, ``GET /test/slow?seconds=S``, answered
after S seconds, or ``GET /test/slow?until=PATH``, answered once the file PATH exists (the
test says when; at most 60 s): it holds a thread of the worker's pool as an administrator's
``cpw`` (Argon2id) does, for the tests of the server (tests/kdc/test_kdc_server.py,
tests/test_attacks.py): ``python serve_with_slow_route.py --dir DIR serve ...``. The workers
are forked from this process, so they serve with the route too."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask import Flask, request

import kdc.app
from kdc.cli import main

_create_app = kdc.app.create_app


def _with_slow_route(*args: Any, **kwargs: Any) -> Flask:
    app = _create_app(*args, **kwargs)

    @app.get("/test/slow")
    def slow() -> dict[str, float]:
        started = time.monotonic()
        until = request.args.get("until")
        if until is None:
            time.sleep(float(request.args.get("seconds", "1")))
        while until is not None and not Path(until).exists() and time.monotonic() < started + 60:
            time.sleep(0.02)
        return {"slept": time.monotonic() - started}

    return app


kdc.app.create_app = _with_slow_route
main()
