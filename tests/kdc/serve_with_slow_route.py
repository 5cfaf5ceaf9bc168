"""``orthrus-kdc`` whose Flask app has one more route, ``GET /test/slow?seconds=S``, answered
after S seconds: it holds a thread of the worker's pool as an administrator's ``cpw``
(Argon2id) does, for the tests of the server (tests/kdc/test_kdc_server.py,
tests/test_attacks.py): ``python serve_with_slow_route.py --dir DIR serve ...``. The workers
are forked from this process, so they serve with the route too."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, request

import kdc.app
from kdc.cli import main

_create_app = kdc.app.create_app


def _with_slow_route(*args: Any, **kwargs: Any) -> Flask:
    app = _create_app(*args, **kwargs)

    @app.get("/test/slow")
    def slow() -> dict[str, float]:
        seconds = float(request.args.get("seconds", "1"))
        time.sleep(seconds)
        return {"slept": seconds}

    return app


kdc.app.create_app = _with_slow_route
main()
