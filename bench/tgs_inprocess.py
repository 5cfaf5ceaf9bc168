"""The KDC's TGS exchange in-process: ``python -m bench.tgs_inprocess [--wire W] [--profile]``.

Sets up a throwaway realm as the benchmark's (:class:`bench.orthrus_realm.OrthrusRealm`:
``orthrus-kdc init``, SQLite, the audit log on) and builds the exchange runner as a worker
of ``make bench``'s two-worker KDC does (``kdc.app.create_app`` with the Kerberos exchanges,
the SQLite TGS replay cache, metrics in prometheus-client's multiprocess mode, the log line
at INFO to a file): the path every
transport shares, without HTTP or sockets. ``alice`` logs in, then asks for tickets for
``HTTP/bench.test``: over the JSON API (``runner.run_json``, ``--wire json``) and over
Kerberos DER (``runner.run_kerberos``, ``--wire der``, aes256-cts-hmac-sha1-96 as MIT's
clients ask first). Each request has its own authenticator (the TGS replay cache sees each
once); they are built before the clock starts. Prints µs of CPU per TGS, best of
``--rounds``; ``--profile`` prints cProfile's top functions of one more round.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from bench.orthrus_realm import REALM, SERVICE, OrthrusRealm  # noqa: E402

#: aes256-cts-hmac-sha1-96 (RFC 3962): the first enctype of MIT's default list.
ETYPE = 18


def _runner(realm: OrthrusRealm, tmp: Path) -> Any:
    """The exchange runner of one KDC worker of ``realm``, as ``orthrus-kdc serve`` makes it."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(tmp / "metrics")
    (tmp / "metrics").mkdir()
    logging.basicConfig(level=logging.INFO, filename=str(tmp / "kdc.log"))
    from kdc.app import RUNNER, create_app
    from kdc.backends import make_backends
    from kdc.config import load_settings
    from kdc.store import Store
    from orthrus.kerberos.kdc import answer

    settings = load_settings(realm.kdc_dir)
    backends = make_backends(settings, workers=2)  # the replay cache two workers share
    app = create_app(settings, Store.open(settings), backends, kerberos=answer)
    return app.extensions[RUNNER]


def _arrival(transport: str) -> Any:
    from kdc.exchanges import Arrival

    return Arrival(transport, "127.0.0.1", None, time.perf_counter(), time.time())  # type: ignore[arg-type]


def _json_requests(realm: OrthrusRealm, runner: Any) -> Callable[[int], list[Callable[[], Any]]]:
    from orthrus.as_exchange import ASOptions, make_as_req, read_as_rep
    from orthrus.codec import decode, encode
    from orthrus.keytab import Keytab
    from orthrus.messages import ASRep
    from orthrus.principal import Principal
    from orthrus.tgs_exchange import make_tgs_req

    alice, service = Principal.parse(f"alice@{REALM}"), Principal.parse(SERVICE)
    keys = Keytab.from_bytes(realm.keytab("alice").read_bytes()).keys_by_principal()[alice]
    key = keys[max(keys)]
    as_req = make_as_req(alice, time.time(), os.urandom, ASOptions(), key)
    answer = runner.run_json(runner.routes["/v1/as"], encode(as_req), _arrival("http"))
    assert answer.status == 200, answer.body
    tgt = read_as_rep(decode(answer.body, ASRep), as_req, key, time.time())
    route = runner.routes["/v1/tgs"]

    def batch(count: int) -> list[Callable[[], Any]]:
        bodies = [
            encode(make_tgs_req(tgt, service, time.time(), os.urandom).message)
            for _ in range(count)
        ]
        return [lambda b=b: _ok(runner.run_json(route, b, _arrival("http"))) for b in bodies]

    return batch


def _ok(answer: Any) -> None:
    assert answer.status == 200, answer.body


def _der_requests(realm: OrthrusRealm, runner: Any) -> Callable[[int], list[Callable[[], Any]]]:
    from orthrus.der import decode_as_rep
    from orthrus.kerberos.client import as_request, read_kdc_rep, tgs_request
    from orthrus.mitkeytab import parse_keytab
    from orthrus.principal import Principal, krbtgt

    alice, service = Principal.parse(f"alice@{REALM}"), Principal.parse(SERVICE)
    entries = parse_keytab(Path(realm.mit_keytab("alice")).read_bytes())
    key = next(e.key for e in entries if e.enctype == ETYPE)
    request = as_request(alice, krbtgt(REALM), (ETYPE,), time.time(), os.urandom, key)
    reply = runner.run_kerberos(request.encode(), _arrival("udp"), 4096)
    tgt = read_kdc_rep(decode_as_rep(reply), request, key)

    def batch(count: int) -> list[Callable[[], Any]]:
        data = [tgs_request(tgt, service, time.time(), os.urandom).encode() for _ in range(count)]
        return [lambda d=d: _der_ok(runner.run_kerberos(d, _arrival("udp"), 4096)) for d in data]

    return batch


def _der_ok(reply: bytes | None) -> None:
    assert reply is not None and reply[:1] == b"\x6d", reply  # [APPLICATION 13] TGS-REP


def _run(calls: list[Callable[[], Any]]) -> float:
    """CPU seconds per call of ``calls``."""
    started = time.process_time()
    for call in calls:
        call()
    return (time.process_time() - started) / len(calls)


def _serve() -> None:
    """The worker of ``--against``: one realm and runner, then for each line ``WIRE COUNT``
    on stdin one round of COUNT fresh requests, its µs per request on stdout."""
    with tempfile.TemporaryDirectory(prefix="orthrus-tgs-") as tmp:
        realm = OrthrusRealm(Path(tmp))
        realm.setup()
        runner = _runner(realm, Path(tmp))
        makers = {"json": _json_requests(realm, runner), "der": _der_requests(realm, runner)}
        print("ready", flush=True)
        for line in sys.stdin:
            wire, count = line.split()
            print(_run(makers[wire](int(count))) * 1e6, flush=True)


def _against(other: Path, wires: tuple[str, ...], requests: int, rounds: int) -> None:
    """This tree and ``other`` (which needs this version of this file) side by side: one
    worker each, set up alike, then ``rounds`` rounds alternating between them (which goes
    first alternates too), so that both see the same load on a shared machine."""
    trees = {"this": ROOT, "other": other.resolve()}
    workers = {
        name: subprocess.Popen(
            [sys.executable, "-m", "bench.tgs_inprocess", "--serve"],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name, tree in trees.items()
    }
    figures: dict[tuple[str, str], list[float]] = {(n, w): [] for n in trees for w in wires}
    try:
        for worker in workers.values():
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        for number in range(rounds):
            order = list(workers.items())
            for wire in wires:
                for name, worker in order if number % 2 == 0 else order[::-1]:
                    assert worker.stdin is not None and worker.stdout is not None
                    worker.stdin.write(f"{wire} {requests}\n")
                    worker.stdin.flush()
                    figures[(name, wire)].append(float(worker.stdout.readline()))
    finally:
        for worker in workers.values():
            if worker.stdin is not None:
                worker.stdin.close()
            worker.wait()
    for wire in wires:
        this, that = figures[("this", wire)], figures[("other", wire)]
        print(
            f"in-process {wire.upper()} TGS, µs per request, min / median of {rounds} rounds "
            f"of {requests}: {other} {min(that):,.0f} / {statistics.median(that):,.0f}, "
            f"this tree {min(this):,.0f} / {statistics.median(this):,.0f} "
            f"({statistics.median(this) / statistics.median(that) - 1:+.1%})",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wire", choices=("json", "der", "both"), default="both")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--against", type=Path, metavar="TREE", help="compare with another checkout, alternating"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    wires = ("json", "der") if args.wire == "both" else (args.wire,)
    if args.serve:
        _serve()
        return 0
    if args.against is not None:
        _against(args.against, wires, args.requests, args.rounds)
        return 0
    with tempfile.TemporaryDirectory(prefix="orthrus-tgs-") as tmp:
        realm = OrthrusRealm(Path(tmp))
        realm.setup()
        runner = _runner(realm, Path(tmp))
        for wire in wires:
            make = (_json_requests if wire == "json" else _der_requests)(realm, runner)
            best = min(_run(make(args.requests)) for _ in range(args.rounds))
            print(f"in-process {wire.upper()} TGS: {best * 1e6:,.0f} µs per request "
                  f"(best of {args.rounds})", flush=True)  # fmt: skip
            if args.profile:
                calls = make(args.requests)
                profiler = cProfile.Profile()
                profiler.runcall(_run, calls)
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
