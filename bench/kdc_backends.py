"""KDC throughput with SQLite and PostgreSQL, and AS latency with 10³ and 10⁶ principals.

    .venv/bin/python bench/kdc_backends.py [--pg-url URL] [--workers 2] [--clients 8]
        [--seconds 5] [--large 1000000] [--latency-requests 2000]

1. Throughput: for each back end a realm (``orthrus-kdc init``; PostgreSQL in a schema of
   its own), ``--measured`` principals with random keys, and ``HTTP/bench``; served by
   ``orthrus-kdc serve --workers W --threads 4``. ``--clients`` threads, each
   with its own keep-alive connection, send pre-authenticated AS-REQs for ``--seconds``,
   then TGS-REQs (each thread logged in once) for as long: requests per second, p50, p99.
2. Scale: on the PostgreSQL realm, AS p99 latency of sequential requests (one client) with
   10³ principals, then again after bulk-inserting filler principals up to ``--large``
   (COPY of rows whose wrapped key is a placeholder that is never opened; the measured
   principals are real). Target: at most 1.5x apart. Same server, same measured principals:
   only the size of the tables differs.

Bounded (time per phase, count of rows), 127.0.0.1 only; every process is stopped by its
pid, the schema dropped and the directories removed at the end. Prints its figures.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port
from orthrus import codec
from orthrus.as_exchange import ASOptions, make_as_req, read_as_rep
from orthrus.keys import Key
from orthrus.messages import ASRep
from orthrus.principal import Principal
from orthrus.tgs_exchange import make_tgs_req

REALM = "BENCH.TEST"
SERVICE = Principal.parse(f"HTTP/bench@{REALM}")
BIN = Path(sys.executable).parent


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORTHRUS_")}
    env.update(extra)
    return env


@dataclass
class Realm:
    directory: Path
    db_url: str
    keys: dict[Principal, Key]


def make_realm(directory: Path, db_url: str | None, measured: int) -> Realm:
    """``init`` with the CLI, then principals added in-process (as ``addprinc --randkey``)."""
    argv = [str(BIN / "orthrus-kdc"), "--dir", str(directory), "init", "--realm", REALM]
    if db_url:
        argv += ["--db-url", db_url]
    subprocess.run(argv, check=True, capture_output=True, env=clean_env())
    from kdc.config import load_settings
    from kdc.store import NewPrincipal, Store

    store = Store.open(load_settings(directory, clean_env()))
    keys: dict[Principal, Key] = {}
    for index in range(measured):
        principal = Principal.parse(f"user{index:05d}@{REALM}")
        store.add_principal(NewPrincipal(principal))
        entry = store.keytab_entries(principal)[0]
        keys[principal] = Key(entry.key, entry.kvno)
    store.add_principal(NewPrincipal(SERVICE))
    return Realm(directory, store.settings.database_url, keys)


@contextmanager
def serving(realm: Realm, workers: int) -> Iterator[str]:
    port = free_port()
    log = open(realm.directory / f"serve-{port}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            str(BIN / "orthrus-kdc"),
            "--dir",
            str(realm.directory),
            "serve",
            "--kerberos-port",
            "0",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--threads",
            "4",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=clean_env(),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the KDC exited: see {log.name}")
            try:
                if httpx.get(url + "/livez", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the KDC did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def as_body(principal: Principal, key: Key) -> bytes:
    return codec.encode(make_as_req(principal, time.time(), os.urandom, ASOptions(), key))


@dataclass
class Run:
    count: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000


def load(
    url: str,
    path: str,
    make_body: Callable[[int, int], bytes],
    clients: int,
    seconds: float,
    limit: int = 10**9,
) -> Run:
    """``clients`` threads POST ``make_body(client, i)`` for ``seconds`` (or ``limit`` in all)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop_at = time.monotonic() + seconds
    sent = iter(range(limit))
    lock = threading.Lock()

    def client(number: int) -> None:
        with httpx.Client(headers={"Content-Type": "application/json"}, timeout=30) as http:
            while time.monotonic() < stop_at:
                with lock:
                    index = next(sent, None)
                if index is None:
                    return
                body = make_body(number, index)
                started = time.perf_counter()
                reply = http.post(url + path, content=body)
                latencies[number].append(time.perf_counter() - started)
                if reply.status_code != 200:
                    errors[number] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    merged = [value for values in latencies for value in values]
    return Run(len(merged), sum(errors), elapsed, merged)


def throughput(realm: Realm, url: str, clients: int, seconds: float) -> tuple[Run, Run]:
    principals = list(realm.keys)

    def as_request(_client: int, index: int) -> bytes:
        principal = principals[index % len(principals)]
        return as_body(principal, realm.keys[principal])

    load(url, "/v1/as", as_request, clients, 1.0)  # warm up every worker's key cache
    as_run = load(url, "/v1/as", as_request, clients, seconds)

    tgts = []
    with httpx.Client(headers={"Content-Type": "application/json"}) as http:
        for number in range(clients):
            principal = principals[number]
            request = make_as_req(
                principal, time.time(), os.urandom, ASOptions(), realm.keys[principal]
            )
            reply = http.post(url + "/v1/as", content=codec.encode(request))
            reply.raise_for_status()
            tgts.append(
                read_as_rep(
                    codec.decode(reply.content, ASRep), request, realm.keys[principal], time.time()
                )
            )

    def tgs_request(client: int, _index: int) -> bytes:
        return codec.encode(make_tgs_req(tgts[client], SERVICE, time.time(), os.urandom).message)

    tgs_run = load(url, "/v1/tgs", tgs_request, clients, seconds)
    return as_run, tgs_run


def latency(realm: Realm, url: str, requests: int, seconds: float) -> Run:
    principals = list(realm.keys)

    def as_request(_client: int, index: int) -> bytes:
        principal = principals[(index * 7919) % len(principals)]
        return as_body(principal, realm.keys[principal])

    load(url, "/v1/as", as_request, 2, 2.0)  # warm up
    return load(url, "/v1/as", as_request, 1, seconds, limit=requests)


def pg_connect(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(
        url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True
    )


def add_filler(realm: Realm, total: int) -> float:
    """Bulk-insert principals (and one key each) up to ``total`` rows; seconds taken."""
    started = time.perf_counter()
    with pg_connect(realm.db_url) as conn:
        (existing,) = conn.execute("SELECT count(*) FROM principals").fetchone()  # type: ignore[misc]
        (placeholder,) = conn.execute("SELECT wrapped FROM keys LIMIT 1").fetchone()  # type: ignore[misc]
        missing = max(0, total - int(existing))
        first_id = 100_000_000
        stamp = "2026-01-01 00:00:00+00"
        batch = 100_000
        for start in range(0, missing, batch):
            stop = min(missing, start + batch)
            principals, keys = io.StringIO(), io.StringIO()
            for number in range(start, stop):
                principals.write(
                    f"{first_id + number}\tfiller{number:07d}@{REALM}\t1\tt\tt\t{stamp}\t{stamp}\n"
                )
                keys.write(f"{first_id + number}\t1\tA256GCM\t{placeholder}\t{stamp}\n")
            with conn.cursor() as cursor:
                with cursor.copy(
                    "COPY principals (id, name, kvno, requires_preauth, allow_tickets, "
                    "created_at, modified_at) FROM STDIN"
                ) as copy:
                    copy.write(principals.getvalue())
                with cursor.copy(
                    "COPY keys (principal_id, kvno, enctype, wrapped, created_at) FROM STDIN"
                ) as copy:
                    copy.write(keys.getvalue())
        conn.execute("ANALYZE principals")
        conn.execute("ANALYZE keys")
    return time.perf_counter() - started


@contextmanager
def pg_schema(url: str) -> Iterator[str]:
    """A schema of its own on the PostgreSQL server of ``url``, dropped on the way out: yields
    the URL whose connections use it (``search_path``)."""
    schema = f"orthrus_bench_{uuid.uuid4().hex[:8]}"
    with pg_connect(url) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with pg_connect(url) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def make_realms(base: Path, pg_url: str, measured: int) -> dict[str, Realm]:
    """The same realm twice under ``base``: on SQLite, and on PostgreSQL at ``pg_url``."""
    return {
        "SQLite": make_realm(base / "sqlite", None, measured),
        "PostgreSQL": make_realm(base / "pg", pg_url, measured),
    }


def compare(
    realms: dict[str, Realm], workers: int, clients: int, seconds: float
) -> dict[str, tuple[Run, Run]]:
    """Each realm served in turn by ``workers`` KDC workers: its (AS, TGS) runs."""
    runs = {}
    for name, realm in realms.items():
        with serving(realm, workers) as url:
            runs[name] = throughput(realm, url, clients, seconds)
    return runs


def row(label: str, run: Run) -> str:
    return (
        f"{label:34} {run.rate:>9.0f} {run.percentile(0.5):>8.2f} {run.percentile(0.99):>8.2f}"
        f" {run.count:>7} {run.errors:>6}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "ORTHRUS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement (max 60)")
    parser.add_argument("--measured", type=int, default=1000, help="real principals (10^3)")
    parser.add_argument("--large", type=int, default=1_000_000, help="principals (max 2*10^6)")
    parser.add_argument("--latency-requests", type=int, default=2000)
    args = parser.parse_args()
    seconds = min(max(args.seconds, 1.0), 60.0)
    large = min(args.large, 2_000_000)

    base = Path(tempfile.mkdtemp(prefix="orthrus-kdc-bench-"))
    print(
        f"# {args.workers} KDC workers x 4 threads per KDC, {args.clients} client threads, "
        f"{seconds:.0f} s per run, {os.cpu_count()} CPUs (clients and server share them)"
    )
    header = f"{'run':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'count':>7} {'errors':>6}"
    try:
        with pg_schema(args.pg_url) as pg_url:
            realms = make_realms(base, pg_url, args.measured)
            postgres = realms["PostgreSQL"]
            print(header)
            runs = compare(realms, args.workers, args.clients, seconds)
            for name, (as_run, tgs_run) in runs.items():
                print(row(f"AS  {name}", as_run))
                print(row(f"TGS {name}", tgs_run))

            print(f"# AS latency, one client, PostgreSQL, up to {args.latency_requests} requests")
            print(header)
            with serving(postgres, args.workers) as url:
                small = latency(postgres, url, args.latency_requests, seconds * 2)
                print(row(f"AS  {len(postgres.keys) + 3:>9,} principals", small))
                took = add_filler(postgres, large)
                print(f"# filler rows added by COPY in {took:.1f} s")
                big = latency(postgres, url, args.latency_requests, seconds * 2)
                print(row(f"AS  {large:>9,} principals", big))
            ratio = big.percentile(0.99) / small.percentile(0.99)
            verdict = "within" if ratio <= 1.5 else "OVER"
            print(f"# p99 ratio {large:,} / 10^3 principals: {ratio:.2f} ({verdict} 1.5x target)")
            p50 = statistics.median(big.latencies) / statistics.median(small.latencies)
            print(f"# p50 ratio: {p50:.2f}")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
