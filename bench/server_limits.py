"""Can a candidate server bound what a client may do with a request's head? The checks that
decide whether the KDC's HTTP server can change (docs/architecture.md, "The server, chosen by
measuring"), run against each candidate on one realm with ``request_timeout`` seconds:

- **slow head**: a request line, then one header byte every 0.2 s (slowloris): is the
  connection cut, and after how long? The KDC's server cuts it at ``request_timeout``.
- **idle head**: a request line and one header, then nothing: is it cut?
- **20 KiB field**, **150 fields**, **8 KiB request line**, each on ``GET /livez``: refused
  with a 4xx before the application (kdc.http_server: ``MAX_HEAD``, ``MAX_FIELDS``,
  ``MAX_TARGET``)? And does the server answer afterwards?

The servers are those of bench/server_candidates.py, each with its hardening settings
(:data:`bench.server_candidates.HARDENING`): ``orthrus-kdc serve`` as it ships (its own
server), uvicorn with httptools and with h11, granian. A body's deadline is not checked here: an
ASGI server hands the body to the application, which can bound it. Prints a table and
writes ``bench/results/server-limits-*.json``.

    .venv/bin/python -m bench.server_limits
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.common import HOST, log, stop, stopping_all, write_results
from bench.orthrus_realm import OrthrusRealm
from bench.server_candidates import HARDENING, install_candidates, start_asgi

#: How long a probe waits for a cut before it says "not cut".
PATIENCE = 15.0


def _cut_after(port: int, dribble: bool) -> float | None:
    """Seconds until the server closed a connection whose head never ends; None: not
    closed within :data:`PATIENCE`."""
    started = time.monotonic()
    with socket.create_connection((HOST, port), timeout=0.2) as sock:
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: kdc\r\n")
        while time.monotonic() - started < PATIENCE:
            try:
                if dribble:
                    sock.sendall(b"X")
                if sock.recv(4096) == b"":
                    return time.monotonic() - started
            except TimeoutError:
                continue
            except OSError:
                return time.monotonic() - started
    return None


def _status(port: int, path: str = "/livez", headers: dict[str, str] | None = None) -> str:
    try:
        answer = httpx.get(f"http://{HOST}:{port}{path}", headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return str(answer.status_code)


def probe(port: int) -> dict[str, Any]:
    """Every check of the module's docstring against the server on ``port``."""
    slow, idle = _cut_after(port, dribble=True), _cut_after(port, dribble=False)
    return {
        "slow head cut after s": None if slow is None else round(slow, 1),
        "idle head cut after s": None if idle is None else round(idle, 1),
        "20 KiB field": _status(port, headers={"X-Big": "a" * 20_000}),
        "150 fields": _status(port, headers={f"X-Field-{i}": "v" for i in range(150)}),
        "8 KiB request line": _status(port, f"/livez?{'q' * 8192}"),
        "answers after": _status(port),
    }


def _cell(value: Any) -> str:
    return "not cut" if value is None else str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=int, default=2, help="request_timeout, seconds")
    parser.add_argument("--packages", type=Path, default=Path("/tmp/orthrus-server-candidates"))
    args = parser.parse_args()
    install_candidates(args.packages)
    results: dict[str, Any] = {"request_timeout": args.timeout}
    with tempfile.TemporaryDirectory(prefix="orthrus-limits-") as tmp, stopping_all():
        realm = OrthrusRealm(Path(tmp))
        realm.setup()
        toml = realm.kdc_dir / "kdc.toml"
        text = toml.read_text()
        if "\nrequest_timeout = 30\n" not in text:
            raise SystemExit(f"{toml} has no default request_timeout line to change")
        toml.write_text(text.replace("request_timeout = 30", f"request_timeout = {args.timeout}"))
        realm.start_kdc(2, 4)
        assert realm.kdc is not None
        log("own (orthrus-kdc serve)")
        results["own"] = probe(realm.port)
        for candidate in HARDENING:
            proc, port = start_asgi(candidate, realm, args.packages, Path(tmp), args.timeout)
            log(candidate)
            try:
                results[candidate] = probe(port)
            finally:
                stop(proc)
        with contextlib.suppress(Exception):
            realm.stop_kdc()
    names = [name for name in results if name != "request_timeout"]
    checks = list(results[names[0]])
    print(f"| check (request_timeout {args.timeout} s) | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for check in checks:
        print(f"| {check} | " + " | ".join(_cell(results[n][check]) for n in names) + " |")
    print(json.dumps(results, indent=1))
    print(f"results: {write_results('server-limits', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
