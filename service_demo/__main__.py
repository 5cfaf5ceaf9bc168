"""``python -m service_demo --keytab FILE [--kdc-jwks FILE]
[--principal P ... | --accept-any-keytab-principal]
[--host H] [--port P] [--workers N] [--db PATH] [--realm R] [--replay-cache PATH|memory]
[--no-sessions | --browser-sessions] [--redis-url URL] [--audit-log PATH]
[--certfile PEM --keyfile PEM] [--trace FILE] [--lab-no-replay-cache] [--lab-unsigned-authz]
[--kdc-url URL] [--backend-url URL --backend-principal P]``: the demo service under gunicorn.

The service is ``HTTP/<host name>`` unless ``--principal`` (repeatable) names what it is, or
``--accept-any-keytab-principal`` accepts every principal of the keytab; a ticket for any
other is ``KRB_AP_ERR_NOT_US``. Its workers share an SQLite replay cache that survives
restarts (``--replay-cache``, default next to the database), or Redis (``--redis-url``, also
shared with replicas on other hosts), so a request replayed to another worker, or after a
restart, is still refused (RFC 4120 §3.2.3). A keytab,
database or Redis that cannot be used is one line on standard error and exit status 2,
before any worker starts. The lab switches (``orthrus-lab``) are refused, the same way,
unless the KDC at ``--kdc-url`` says the realm is a lab realm (:mod:`service_lib.lab`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import msgspec

from orthrus.errors import ConfigError
from orthrus_io.cli import end_process
from orthrus_io.errors import Unavailable
from service_demo.models import NoteStore
from service_demo.server import serve
from service_demo.settings import DemoSettings
from service_lib import Verifier

__all__ = ["main", "parse_args"]


def parse_args(argv: Sequence[str] | None = None) -> DemoSettings:
    parser = argparse.ArgumentParser(
        prog="python -m service_demo",
        description="Per-user notes behind Orthrus tickets, served by gunicorn.",
    )
    parser.add_argument(
        "--keytab",
        required=True,
        help="the service keytab (mode 0600): Orthrus's (orthrus-kdc ktadd) for the Ticket "
        "scheme, MIT's (ktadd --format mit, kadmin ktadd, ktutil) for Negotiate, or both "
        "files comma-separated for both schemes",
    )
    parser.add_argument(
        "--kdc-jwks",
        default=os.environ.get("ORTHRUS_KDC_JWKS", ""),
        help="the Orthrus KDC's public keys (its /.well-known/orthrus/jwks.json), so that the "
        "groups of Negotiate tickets are checked with an MIT keytab (default $ORTHRUS_KDC_JWKS)",
    )
    parser.add_argument(
        "--principal",
        action="append",
        default=[],
        help="a principal this service is, e.g. HTTP/www.example.com (repeatable; default "
        "HTTP/<host name>, in the keytab's realm)",
    )
    parser.add_argument(
        "--accept-any-keytab-principal",
        action="store_true",
        help="accept tickets for every principal in the keytab instead",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--db", default="notes.sqlite", help="SQLite database of the notes")
    parser.add_argument("--realm", help="realm of the challenge (default: the keytab's)")
    parser.add_argument(
        "--replay-cache",
        help="SQLite replay cache shared by the workers, kept across restarts (default: "
        "DB.replay); 'memory' for one in the process (one worker only)",
    )
    parser.add_argument("--no-sessions", action="store_true", help="hand out no sessions")
    parser.add_argument(
        "--browser-sessions",
        action="store_true",
        help="also hand sessions to browsers as an HTTPS-only cookie (off by default)",
    )
    parser.add_argument("--bind-requests", action="store_true", help="require method+path binding")
    parser.add_argument("--max-skew", type=int, default=300, help="allowed clock skew (s)")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("ORTHRUS_REDIS_URL", ""),
        help="Redis replay cache shared by every worker and replica (default $ORTHRUS_REDIS_URL)",
    )
    parser.add_argument(
        "--redis-prefix",
        default=os.environ.get("ORTHRUS_REDIS_PREFIX", "orthrus-service"),
        help="key prefix in Redis (default $ORTHRUS_REDIS_PREFIX or orthrus-service)",
    )
    parser.add_argument(
        "--audit-log",
        help="JSON-lines audit log, one line per verification (default: audit.log beside "
        "the database; '' for none)",
    )
    parser.add_argument(
        "--backend-url",
        default="",
        help="a second service that /backend/whoami calls as the user (delegation)",
    )
    parser.add_argument(
        "--backend-principal",
        default="",
        help="that service's principal, e.g. HTTP/backend@R; this service must be allowed to "
        "delegate to it (orthrus-kdc modprinc --allowed-to-delegate-to); needs --kdc-url",
    )
    parser.add_argument("--certfile", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--keyfile", help="the certificate's private key (PEM)")
    lab = parser.add_argument_group(
        "lab switches", "for lab realms only (orthrus-lab): refused unless the KDC says so"
    )
    lab.add_argument("--trace", help="append every verification, token included, to this file")
    lab.add_argument(
        "--lab-no-replay-cache", action="store_true", help="accept replayed AP-REQs (no cache)"
    )
    lab.add_argument(
        "--lab-unsigned-authz",
        action="store_true",
        help="believe the ticket's groups without checking the KDC's signature",
    )
    lab.add_argument(
        "--kdc-url",
        default=os.environ.get("ORTHRUS_KDC_URL", ""),
        help="the realm's KDC, asked whether the realm is a lab and for delegated tickets "
        "(default $ORTHRUS_KDC_URL)",
    )
    args = parser.parse_args(argv)
    if bool(args.certfile) != bool(args.keyfile):
        parser.error("--certfile and --keyfile go together")
    if args.browser_sessions and args.no_sessions:
        parser.error("--browser-sessions and --no-sessions exclude each other")
    if args.principal and args.accept_any_keytab_principal:
        parser.error("--principal and --accept-any-keytab-principal exclude each other")
    if bool(args.backend_url) != bool(args.backend_principal):
        parser.error("--backend-url and --backend-principal go together")
    if args.backend_url and not args.kdc_url:
        parser.error("--backend-url needs --kdc-url (or ORTHRUS_KDC_URL) for delegated tickets")
    if args.replay_cache == "memory" and args.workers > 1 and not args.redis_url:
        parser.error("--replay-cache memory is one worker's: use a file or --redis-url")
    audit_log = args.audit_log
    if audit_log is None:
        audit_log = str(Path(args.db).parent / "audit.log")
    values = {
        "keytab": args.keytab,
        "kdc_jwks": args.kdc_jwks,
        "db": args.db,
        "realm": args.realm,
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "replay_cache": args.replay_cache,
        "principals": args.principal,
        "accept_any_keytab_principal": args.accept_any_keytab_principal,
        "sessions": not args.no_sessions,
        "browser_sessions": args.browser_sessions,
        "bind_requests": args.bind_requests,
        "max_skew": args.max_skew,
        "redis_url": args.redis_url,
        "redis_prefix": args.redis_prefix,
        "audit_log": audit_log,
        "certfile": args.certfile,
        "keyfile": args.keyfile,
        "trace": args.trace,
        "lab_replay_cache_off": args.lab_no_replay_cache,
        "lab_unsigned_authz": args.lab_unsigned_authz,
        "kdc_url": args.kdc_url,
        "backend_url": args.backend_url,
        "backend_principal": args.backend_principal,
    }
    try:
        return msgspec.convert(values, DemoSettings)
    except msgspec.ValidationError as exc:
        parser.error(str(exc).replace("`$.", "`--").replace("_", "-"))
        raise  # unreachable: parser.error exits


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = parse_args(argv)
    try:
        # Fail before forking: a bad keytab or database is one clear message, not N workers dying.
        Verifier.from_settings(settings.verifier_settings())
        NoteStore(settings.db_path).create_schema()
        for pem in (settings.certfile, settings.keyfile):
            if pem and not os.access(pem, os.R_OK):
                raise ConfigError(f"cannot read {pem} (--certfile/--keyfile)")
    except (ConfigError, Unavailable) as exc:
        print(f"service_demo: {exc}", file=sys.stderr)
        return 2
    master = os.getpid()
    try:
        serve(settings)
    except SystemExit as exc:  # gunicorn's master and workers end so
        if os.getpid() != master or not isinstance(exc.code, int):
            raise
        return exc.code
    return 0


if __name__ == "__main__":
    # Only gunicorn's master returns here (its workers leave main() by SystemExit): once
    # they are gone it ends without the interpreter's teardown (~0.3 s of CPU at each stop).
    end_process(main())
