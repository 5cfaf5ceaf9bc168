"""An impostor: a server that pretends to be ``HTTP/notes`` but does not hold its key.

It asks for a ticket like the real service (``401`` with ``WWW-Authenticate: Ticket``), takes
whatever AP-REQ comes, cannot open it — the ticket is sealed under the real service's key —
and answers ``200`` with made-up notes anyway. A client that does not ask for mutual
authentication believes it (exercise 10). A client that does (RFC 4120 §3.2.4-§3.2.5) needs
an AP-REP sealed under the ticket's session key, holding its authenticator's time: the
impostor can only send one sealed under a key it made up, and the client refuses it with
``KRB_AP_ERR_MUT_FAIL``. Every ticket it receives is written to the lab trace.

``python -m labs.impostor --port P --realm LAB.TEST --trace FILE``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request

from orthrus.codec import encode
from orthrus.errors import MalformedMessage
from orthrus.httpauth import challenge, decode_ap_req, encode_ap_rep, parse_authorization
from orthrus.keys import Key, KeyUsage
from orthrus.messages import APRep, EncAPRepPart
from orthrus.seal import seal
from orthrus_io.events import ExchangeEvent
from orthrus_io.trace import TraceSink

__all__ = ["create_app", "main"]


def _bogus_ap_rep() -> str:
    """An AP-REP the impostor can make: sealed under a key of its own, not the session key."""
    now = time.time()
    part = EncAPRepPart(ctime=int(now), cusec=0)
    made_up = Key.generate(os.urandom)
    return encode_ap_rep(APRep(seal(made_up, KeyUsage.AP_REP_ENC_PART, encode(part), os.urandom)))


def create_app(realm: str, trace: Path | None) -> Flask:
    """The impostor app: ``/livez``; every other path pretends to be the notes service."""
    app = Flask("labs.impostor")
    sink = TraceSink(trace, "impostor", {"impostor": "yes"}) if trace else None

    @app.get("/livez")
    def livez() -> Any:
        return jsonify(status="ok")

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
    @app.route("/<path:path>", methods=["GET", "POST"])
    def anything(path: str) -> Any:
        try:
            token = parse_authorization(request.headers.get("Authorization"))
            ap_req = decode_ap_req(token) if token else None
        except MalformedMessage:
            token, ap_req = None, None
        if token is None or ap_req is None:
            response = jsonify(error={"name": "KRB_ERR_GENERIC", "message": "send a ticket"})
            response.status_code = 401
            response.headers["WWW-Authenticate"] = challenge(realm)
            return response
        mutual = "mutual-required" in ap_req.options
        # It must answer something: the real service's proof needs the session key.
        bogus = _bogus_ap_rep() if mutual else None
        if sink is not None:
            sink.emit(
                ExchangeEvent(
                    "AP",
                    True,
                    time.time(),
                    server=str(ap_req.ticket.server),
                    realm=realm,
                    client_address=request.remote_addr,
                    request=token.encode(),
                    reply=bogus.encode() if bogus else None,
                    message="the impostor could not open the ticket, and answered anyway",
                    extra={
                        "impostor": True,
                        "mutual_required": mutual,
                        "method": request.method,
                        "path": "/" + path,
                    },
                )
            )
        response = jsonify(
            principal="(the impostor cannot read your ticket, so it cannot know who you are)",
            notes=[{"id": 1, "text": "Please send your password to it-support@example.test"}],
        )
        if bogus:
            response.headers["Authentication-Info"] = f"Ticket {bogus}"
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        return Response('{"error": "impostor failure"}', 500, mimetype="application/json")

    return app


def main(argv: Sequence[str] | None = None) -> int:
    from labs.serve import serve_app

    parser = argparse.ArgumentParser(
        prog="python -m labs.impostor", description="A fake notes service (no key)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8803)
    parser.add_argument("--realm", required=True)
    parser.add_argument("--trace", help="append every ticket received to this lab trace")
    args = parser.parse_args(argv)
    trace = Path(args.trace) if args.trace else None
    serve_app(lambda: create_app(args.realm, trace), args.host, args.port, "orthrus-lab-impostor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
