"""The lab's second service: an old file archive, ``HTTP/legacy@LAB.TEST``.

It is protected by :mod:`service_lib` like ``service_demo``, but its long-term key was made
from a weak password, as old service accounts often were: anyone who can get a service
ticket for it (any user of the realm, RFC 4120 §3.3) holds ciphertext under that key and can
guess the password offline ("roasting", exercise 11). Its keytab holds the derived key.

``python -m labs.legacy --keytab FILE --principal P --port P --kdc-url URL --trace FILE
[--replay-cache FILE] [--lab-no-replay-cache] [--lab-unsigned-authz]
[--lab-no-authenticator] [--lab-no-session-key] [--lab-no-timestamp]``
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flask import Flask, jsonify

from orthrus.errors import ConfigError
from orthrus_io.trace import TraceSink
from service_lib import TicketAuth, Verifier, VerifierSettings, current_identity

__all__ = ["create_app", "main"]

FILES = [
    {"name": "1998-budget.xls", "size": 48_128},
    {"name": "payroll-export.csv", "size": 9_801},
    {"name": "README.txt", "size": 211},
]


def _settings(args: argparse.Namespace) -> VerifierSettings:
    return VerifierSettings(
        keytab=args.keytab,
        principals=args.principal,
        kdc_url=args.kdc_url,
        replay_cache_path=args.replay_cache,
        record_messages=bool(args.trace),
        lab_replay_cache_off=args.lab_no_replay_cache,
        lab_unsigned_authz=args.lab_unsigned_authz,
        lab_no_authenticator=args.lab_no_authenticator,
        lab_no_session_key=args.lab_no_session_key,
        lab_no_timestamp=args.lab_no_timestamp,
    )


def create_app(args: argparse.Namespace) -> Flask:
    """The archive app: ``/livez``; with a ticket ``/whoami`` and ``/files``; ``/admin`` for
    group ``admins``."""
    labels = {
        "replay_cache": "off" if args.lab_no_replay_cache else "on",
        "authz": "off" if args.lab_unsigned_authz else "on",
        "authenticator": "off" if args.lab_no_authenticator else "on",
        "session_key": "off" if args.lab_no_session_key else "on",
        "timestamp": "off" if args.lab_no_timestamp else "on",
    }
    events = TraceSink(Path(args.trace), "legacy", labels) if args.trace else None
    verifier = Verifier.from_settings(_settings(args), events=events)
    app = Flask("labs.legacy")
    auth = TicketAuth(app, verifier)

    @app.get("/livez")
    def livez() -> Any:
        return jsonify(status="ok")

    @app.get("/whoami")
    @auth.required
    def whoami() -> Any:
        identity = current_identity()
        assert identity is not None
        # delegated_by: the front service that asked for this ticket as the user (exercise 19)
        delegated_by = str(identity.delegated_by) if identity.delegated_by else None
        return jsonify(
            principal=identity.name,
            groups=list(identity.groups),
            service=str(identity.service),
            delegated_by=delegated_by,
        )

    @app.get("/files")
    @auth.required
    def files() -> Any:
        return jsonify(files=FILES)

    @app.get("/admin")
    @auth.required(groups=["admins"])
    def admin() -> Any:
        return jsonify(files=len(FILES), note="only group admins sees this")

    return app


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m labs.legacy", description="The lab's legacy archive service."
    )
    parser.add_argument("--keytab", required=True, help="the service keytab (mode 0600)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8802)
    parser.add_argument("--kdc-url", default="", help="the lab KDC (asked: is this a lab?)")
    parser.add_argument("--trace", help="append every verification to this lab trace")
    parser.add_argument(
        "--principal", action="append", default=[], help="the principal it is (repeatable)"
    )
    parser.add_argument(
        "--replay-cache", help="SQLite replay cache (default: in the service's state directory)"
    )
    parser.add_argument("--lab-no-replay-cache", action="store_true")
    parser.add_argument("--lab-unsigned-authz", action="store_true")
    parser.add_argument("--lab-no-authenticator", action="store_true")
    parser.add_argument("--lab-no-session-key", action="store_true")
    parser.add_argument("--lab-no-timestamp", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    from labs.serve import serve_app

    args = parse_args(argv)
    try:
        Verifier.from_settings(_settings(args))  # fail before forking, in one line
    except ConfigError as exc:
        print(f"labs.legacy: {exc}", file=sys.stderr)
        return 2
    serve_app(lambda: create_app(args), args.host, args.port, "orthrus-lab-legacy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
