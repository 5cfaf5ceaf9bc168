"""``python -m service_demo --keytab FILE [--host H] [--port P] [--workers N] [--db PATH]
[--realm R]``: the demo service under gunicorn.

With more than one worker the workers share an SQLite replay cache (``--replay-cache``,
default next to the database) so a request replayed to another worker is still refused
(RFC 4120 §3.2.3).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import msgspec

from orthrus.errors import ConfigError
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
    parser.add_argument("--keytab", required=True, help="the service keytab (mode 0600)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--db", default="notes.sqlite", help="SQLite database of the notes")
    parser.add_argument("--realm", help="realm of the challenge (default: the keytab's)")
    parser.add_argument(
        "--replay-cache", help="SQLite replay cache shared by the workers (default: DB.replay)"
    )
    parser.add_argument("--no-sessions", action="store_true", help="hand out no sessions")
    parser.add_argument("--bind-requests", action="store_true", help="require method+path binding")
    parser.add_argument("--max-skew", type=int, default=300, help="allowed clock skew (s)")
    args = parser.parse_args(argv)
    replay = args.replay_cache
    if replay is None and args.workers > 1:
        replay = f"{args.db}.replay"
    values = {
        "keytab": args.keytab,
        "db": args.db,
        "realm": args.realm,
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "replay_cache": replay,
        "sessions": not args.no_sessions,
        "bind_requests": args.bind_requests,
        "max_skew": args.max_skew,
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
    except ConfigError as exc:
        print(f"service_demo: {exc}", file=sys.stderr)
        return 2
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
