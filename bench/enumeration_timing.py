"""``make bench-enumeration``: can the AS's timing tell which names exist?

With ``hide_unknown_principals = true`` a KDC answers a known user, an unknown name and a
random-key service alike (kdc/enumeration.py); this measures whether it also takes the same
time. A throwaway realm (bench/orthrus_realm.py: alice, bob, ``HTTP/bench.test``) is served
by a real ``orthrus-kdc serve`` (one worker, one thread) on a free port of 127.0.0.1, and one
keep-alive connection sends ``--requests`` AS requests for each series, interleaved (every
round sends one request of each series, in a shuffled order), after a warm-up:

- as client: alice (a user), carol (no such name: same length as alice) and the service
  ``HTTP/bench.test``, each without pre-authentication (``KDC_ERR_PREAUTH_REQUIRED``) and
  with an encrypted timestamp under a wrong key (``KDC_ERR_PREAUTH_FAILED``; the lockout
  counts every attempt, its window of 1 s never fills);
- as server: alice asking for ``krbtgt`` or for ``HTTP/elsewhere.test`` (no such service),
  without pre-authentication.

It prints each series' median and, for each pair of series that must look alike, the
two-sample Kolmogorov-Smirnov statistic D and its p-value (``scipy.stats.ks_2samp``): a
p-value under 0.01 means the two samples can be told apart. It reports, it does not
assert: exit status 0 whatever the figures. ``--in-process`` times the KDC's AS handler
itself (``time.perf_counter_ns`` around the call, no HTTP), to find where time differs.
Results go to ``bench/results/enumeration-timing-*.json``.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec
from scipy.stats import ks_2samp

from bench.common import HOST, log, machine, stopping_all, write_results
from bench.orthrus_realm import REALM, SERVICE, OrthrusRealm
from orthrus import codec
from orthrus.as_exchange import ASOptions, make_as_req
from orthrus.errors import KDCError
from orthrus.keys import Key
from orthrus.principal import Principal
from orthrus.pwkdf import KDFParams, string_to_key

KNOWN = f"alice@{REALM}"
UNKNOWN = f"carol@{REALM}"
#: A name nobody has, another for each request (as many probes of an enumeration are).
FRESH = "n{i:04d}@" + REALM
UNKNOWN_SERVICE = f"HTTP/other.test@{REALM}"  # as long as the service's name
#: ``kdc.toml`` for the run: names hidden; lockout counting every attempt, never locking.
SETTINGS = {"hide_unknown_principals": "true", "lockout_attempts": "1000", "lockout_window": "1"}


@dataclass(frozen=True)
class Series:
    """One kind of request: ``client`` (``{i}``: the request's number) asks for ``server``,
    with a wrong key or none; ``cold``: right after a commit to the database, which empties
    the KDC's lookup cache (kdc/lookups.py), so every name is read from the database again."""

    label: str
    client: str
    server: str | None
    wrong_key: bool
    expect: str
    cold: bool = False


SERIES = [
    Series("user", KNOWN, None, False, "KDC_ERR_PREAUTH_REQUIRED"),
    Series("unknown", UNKNOWN, None, False, "KDC_ERR_PREAUTH_REQUIRED"),
    Series("service", SERVICE, None, False, "KDC_ERR_PREAUTH_REQUIRED"),
    Series("user, wrong key", KNOWN, None, True, "KDC_ERR_PREAUTH_FAILED"),
    Series("unknown, wrong key", UNKNOWN, None, True, "KDC_ERR_PREAUTH_FAILED"),
    Series("service, wrong key", SERVICE, None, True, "KDC_ERR_PREAUTH_FAILED"),
    Series("server: service", KNOWN, SERVICE, False, "KDC_ERR_PREAUTH_REQUIRED"),
    Series("server: unknown", KNOWN, UNKNOWN_SERVICE, False, "KDC_ERR_PREAUTH_REQUIRED"),
    Series("user, after a commit", KNOWN, None, False, "KDC_ERR_PREAUTH_REQUIRED", cold=True),
    Series("new name, after a commit", FRESH, None, False, "KDC_ERR_PREAUTH_REQUIRED", cold=True),
]
#: The pairs that must be indistinguishable.
PAIRS = [
    ("user", "unknown"),
    ("user", "service"),
    ("unknown", "service"),
    ("user, wrong key", "unknown, wrong key"),
    ("user, wrong key", "service, wrong key"),
    ("unknown, wrong key", "service, wrong key"),
    ("server: service", "server: unknown"),
    ("user, after a commit", "new name, after a commit"),
]

#: Sends one AS-REQ body; returns (nanoseconds taken, the error's name or "OK").
Send = Callable[[bytes], tuple[int, str]]


@dataclass(frozen=True)
class Run:
    """What every measurement takes: rounds, the wrong keys, a commit to the database and
    the numbers of the new names (never the same twice in a run)."""

    rounds: int
    keys: dict[str, Key]
    commit: Callable[[], None]
    numbers: Iterator[int]


def configure(realm: OrthrusRealm) -> None:
    path = realm.kdc_dir / "kdc.toml"
    lines = path.read_text().splitlines()
    for index, line in enumerate(lines):
        name = line.split(" = ", 1)[0]
        if name in SETTINGS:
            lines[index] = f"{name} = {SETTINGS[name]}"
    path.write_text("\n".join(lines) + "\n")


def as_req_body(series: Series, keys: dict[str, Key], number: int) -> bytes:
    options = ASOptions(server=Principal.parse(series.server) if series.server else None)
    key = keys[series.client] if series.wrong_key else None
    client = Principal.parse(series.client.format(i=number))
    return codec.encode(make_as_req(client, time.time(), os.urandom, options, key))


def http_sender(port: int) -> Send:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    headers = {"Content-Type": "application/json"}

    def send(body: bytes) -> tuple[int, str]:
        started = time.perf_counter_ns()
        conn.request("POST", "/v1/as", body, headers)
        answer = conn.getresponse().read()
        elapsed = time.perf_counter_ns() - started
        error = json.loads(answer).get("error")
        return elapsed, error["name"] if error else "OK"

    return send


def in_process_sender(realm: OrthrusRealm) -> Send:
    """The AS handler, with the context ``orthrus-kdc serve`` gives it, called directly."""
    from kdc.backends import make_backends
    from kdc.config import load_settings
    from kdc.enumeration import as_handler
    from kdc.store import Store
    from orthrus.messages import ASReq
    from orthrus.realm import KDCContext

    settings = load_settings(realm.kdc_dir, env={})
    store, backends = Store.open(settings), make_backends(settings)
    signer = store.signer()
    handle = as_handler(settings, signer)
    ctx = KDCContext(
        settings.policy, store.lookup, backends.replay_cache, os.urandom, signer, backends.guard
    )

    # The core takes the time as an argument: 10 ms more per request keeps the lockout's
    # counts (1000 a second at most, SETTINGS) under its limit however fast the calls come.
    clock = itertools.count(time.time(), 0.01)

    def send(body: bytes) -> tuple[int, str]:
        req, now = codec.decode(body, ASReq), next(clock)
        started = time.perf_counter_ns()
        try:
            handle(req, ctx, now)
        except KDCError as exc:
            return time.perf_counter_ns() - started, exc.name
        return time.perf_counter_ns() - started, "OK"

    return send


def wrong_keys(port: int) -> dict[str, Key]:
    """For each client, a key made from its own KDF parameters (as a guesser would make
    one from the KDC_ERR_PREAUTH_REQUIRED data), but not its key."""
    keys: dict[str, Key] = {}
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    for name in (KNOWN, UNKNOWN, SERVICE):
        req = make_as_req(Principal.parse(name), time.time(), os.urandom, ASOptions())
        conn.request("POST", "/v1/as", codec.encode(req), {"Content-Type": "application/json"})
        error = json.loads(conn.getresponse().read())["error"]
        assert error["name"] == "KDC_ERR_PREAUTH_REQUIRED", error
        params = msgspec.convert(error["data"]["kdf"], KDFParams)
        keys[name] = string_to_key("not-the-password", params, error["data"]["kvno"])
    conn.close()
    return keys


def measure(send: Send, run: Run, cold: bool, seed: int) -> dict[str, list[int]]:
    """``run.rounds`` interleaved requests of every series (``cold`` ones or the others);
    nanoseconds per request."""
    rng = random.Random(seed)
    order = [s for s in SERIES if s.cold == cold]
    times: dict[str, list[int]] = {s.label: [] for s in order}
    for _ in range(run.rounds):
        rng.shuffle(order)
        for series in order:
            body = as_req_body(series, run.keys, next(run.numbers))
            if cold:
                run.commit()
            elapsed, name = send(body)
            if name != series.expect:
                raise RuntimeError(f"{series.label}: expected {series.expect}, got {name}")
            times[series.label].append(elapsed)
    return times


def report(times: dict[str, list[int]], where: str) -> dict[str, Any]:
    medians = {label: statistics.median(values) / 1000 for label, values in times.items()}
    print(f"\n{where}: median µs over {len(next(iter(times.values())))} requests each")
    for label, median in medians.items():
        print(f"  {label:22} {median:9.1f}")
    print(f"  {'pair':46} {'KS D':>6} {'p':>8}  (p < 0.01: distinguishable)")
    pairs = []
    for first, second in PAIRS:
        result = ks_2samp(times[first], times[second])
        statistic, pvalue = float(result.statistic), float(result.pvalue)
        pairs.append({"pair": [first, second], "ks_d": statistic, "p": pvalue})
        verdict = "DIFFERENT" if pvalue < 0.01 else "alike"
        print(f"  {first + ' / ' + second:46} {statistic:6.3f} {pvalue:8.3g}  {verdict}")
    return {"medians_us": medians, "pairs": pairs}


def committer(realm: OrthrusRealm) -> Callable[[], None]:
    """A commit to the realm's database that changes nothing anyone sees: bob's ``modprinc``
    with no change (only its modification time)."""
    from kdc.config import load_settings
    from kdc.store import PrincipalChanges, Store

    store = Store.open(load_settings(realm.kdc_dir, env={}))
    bob = Principal.parse(f"bob@{REALM}")
    return lambda: store.modify(bob, PrincipalChanges())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per series (2000)")
    parser.add_argument("--warmup", type=int, default=200, help="rounds not counted (200)")
    parser.add_argument("--in-process", action="store_true", help="also time the handler alone")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine(), "requests": args.requests, "runs": {}}
    results["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="orthrus-enum-") as tmp, stopping_all():
        realm = OrthrusRealm(Path(tmp))
        log("setting up a realm (orthrus-kdc init, addprinc)...")
        realm.setup()
        configure(realm)
        realm.start_kdc(workers=1, threads=1)
        keys, commit = wrong_keys(realm.port), committer(realm)
        senders = {"HTTP, orthrus-kdc serve": http_sender(realm.port)}
        if args.in_process:
            senders["in-process, AS handler"] = in_process_sender(realm)
        numbers = itertools.count()
        warmup = Run(args.warmup, keys, commit, numbers)
        run = Run(args.requests, keys, commit, numbers)
        for where, sender in senders.items():
            log(f"{where}: {args.warmup} warm-up rounds, then {args.requests}, then cold...")
            measure(sender, warmup, False, args.seed)
            times = measure(sender, run, False, args.seed + 1)
            times |= measure(sender, run, True, args.seed + 2)
            results["runs"][where] = report(times, where)
        realm.stop_kdc()
    path = write_results("enumeration-timing", results)
    print(f"\n{results['date']}, {results['machine']['cpu_model']} x{results['machine']['cpus']}")
    print(f"results: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
