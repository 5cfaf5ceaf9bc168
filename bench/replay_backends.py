"""Service verifications per second with each replay cache: in-process, SQLite, Redis.

    .venv/bin/python bench/replay_backends.py [--redis-url URL] [--count N] [--threads T]

A realm is minted in memory with the protocol core (a krbtgt, a user, ``HTTP/bench``, the
KDC's signing key), and one service ticket is issued. For each cache, ``count`` fresh
AP-REQ tokens (new authenticators of that ticket, bound to ``GET /bench``) are made
beforehand; then ``service_lib.Verifier.verify`` is timed over them, on 1 and on ``threads``
threads. The ticket is opened and its KDC signature checked once (the verifier caches it), so
what differs between the lines is the authenticator check and the replay cache's
set-if-absent: a dict under a lock, one SQLite ``INSERT .. ON CONFLICT`` (WAL), or one Redis
``SET NX PX`` round trip over 127.0.0.1.

Bounded: ``count`` tokens per line (default 5000), Redis keys under a prefix of its own,
deleted at the end. Without Redis reachable, the Redis line is skipped and says why.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from orthrus.ap import AuthenticatorFields, make_ap_req
from orthrus.as_exchange import ASOptions, handle_as_req, make_as_req, read_as_rep
from orthrus.authz import AuthzSigner
from orthrus.credentials import Credential
from orthrus.httpauth import encode_ap_req, http_binding
from orthrus.keys import Key
from orthrus.keytab import Keytab, KeytabEntry
from orthrus.principal import Principal, krbtgt
from orthrus.realm import KDCContext, PrincipalEntry, RealmPolicy
from orthrus.replay import MemoryReplayCache, ReplayCache
from orthrus.tgs_exchange import handle_tgs_req, make_tgs_req, read_tgs_rep
from service_lib import KeytabSource, Verifier, VerifierSettings

REALM = "BENCH.TEST"
SERVICE = Principal.parse(f"HTTP/bench@{REALM}")


def mint() -> tuple[Credential, Keytab]:
    """A service ticket for alice and the service's keytab, from an in-memory KDC."""
    signer = AuthzSigner(Ed25519PrivateKey.generate(), "kdc-bench", REALM)
    keys = {
        krbtgt(REALM): Key.generate(os.urandom, 1),
        Principal.parse(f"alice@{REALM}"): Key.generate(os.urandom, 1),
        SERVICE: Key.generate(os.urandom, 1),
    }
    entries = {p: PrincipalEntry(p, {1: k}, 1, requires_preauth=False) for p, k in keys.items()}
    ctx = KDCContext(RealmPolicy(REALM), entries.get, MemoryReplayCache(), os.urandom, signer)
    now = time.time()
    alice = Principal.parse(f"alice@{REALM}")
    req = make_as_req(alice, now, os.urandom, ASOptions())
    tgt = read_as_rep(handle_as_req(req, ctx, now), req, keys[alice], now)
    tgs = make_tgs_req(tgt, SERVICE, now, os.urandom)
    ticket = read_tgs_rep(handle_tgs_req(tgs.message, ctx, now), tgs, now)
    keytab = Keytab(
        entries=[KeytabEntry(SERVICE, 1, keys[SERVICE].material)], kdc_jwks=signer.jwks()
    )
    return ticket, keytab


def tokens(ticket: Credential, count: int) -> list[str]:
    fields = AuthenticatorFields(checksum=http_binding("GET", "/bench"))
    return [
        encode_ap_req(make_ap_req(ticket, time.time(), os.urandom, fields)[0]) for _ in range(count)
    ]


def measure(verifier: Verifier, batch: list[str], threads: int) -> tuple[float, float, float]:
    """(verifications/s, p50 ms, p99 ms) over ``batch``, each token verified once."""
    latencies: list[float] = []

    def one(token: str) -> None:
        started = time.perf_counter()
        verifier.verify(token, "GET", "/bench")
        latencies.append(time.perf_counter() - started)

    verifier.verify(batch[0], "GET", "/bench")  # opens and caches the ticket
    rest = batch[1:]
    started = time.perf_counter()
    if threads == 1:
        for token in rest:
            one(token)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, rest))
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return len(rest) / elapsed, statistics.median(latencies) * 1000, p99 * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("ORTHRUS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    parser.add_argument("--count", type=int, default=5000, help="tokens per line (bounded)")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    count = max(100, min(args.count, 200_000))

    ticket, keytab = mint()
    source = KeytabSource.from_keytab(keytab)
    settings = VerifierSettings(max_skew=300)
    prefix = f"orthrus-bench-{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="orthrus-bench-"))

    caches: list[tuple[str, Callable[[], ReplayCache]]] = [
        ("in-process (dict)", MemoryReplayCache),
    ]
    from orthrus_io.replay import SQLiteReplayCache

    caches.append(
        ("SQLite file (WAL)", lambda: SQLiteReplayCache(workdir / f"{uuid.uuid4().hex}.rc"))
    )
    redis_client = None
    try:
        from orthrus_io.redis_replay import RedisReplayCache, connect_redis

        redis_client = connect_redis(args.redis_url)
        client = redis_client
        caches.append(("Redis (SET NX PX)", lambda: RedisReplayCache(client, prefix)))
    except Exception as exc:  # report and go on with the others
        print(f"# Redis line skipped: {exc}")

    print(
        f"# {count} verifications per line; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    print(f"{'replay cache':24} {'threads':>7} {'verif/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    results: dict[tuple[str, int], float] = {}
    try:
        for name, make in caches:
            for threads in sorted({1, args.threads}):
                verifier = Verifier(source, make(), settings)
                rate, p50, p99 = measure(verifier, tokens(ticket, count), threads)
                results[(name, threads)] = rate
                print(f"{name:24} {threads:>7} {rate:>10.0f} {p50:>8.3f} {p99:>8.3f}")
    finally:
        if redis_client is not None:
            keys = list(redis_client.scan_iter(match=f"{prefix}*", count=1000))
            for start in range(0, len(keys), 1000):
                redis_client.delete(*keys[start : start + 1000])
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()
    memory = results.get(("in-process (dict)", 1))
    redis_rate = results.get(("Redis (SET NX PX)", 1))
    if memory and redis_rate:
        print(f"# Redis / in-process, 1 thread: {redis_rate / memory:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
