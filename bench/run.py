"""``make bench``: Orthrus and MIT Kerberos side by side, same machine, same run.

For each load — AS with pre-authentication (keys from a keytab), TGS, in-process AP
verification with a replay cache — with 1 and 2 client processes, MIT's run and Orthrus's
alternate, ``--reps`` times each (after one unmeasured warm-up run of each), and one table
gives requests per second (median [min-max]), p50/p99 latency, the KDC's CPU time per
request (utime+stime of the KDC and its workers from /proc, as the anchors measure it) and
the ratio Orthrus/MIT. Results go to ``bench/results/kdc-*.json``, and the tables into
docs/performance.md's figures section (bench/report.py) when every load ran.

With MIT, the Negotiate row (``Verifier.verify_negotiate`` beside ``gss_accept_sec_context``,
bench/verify.py); with a PostgreSQL URL, AS and TGS against a SQLite-backed and a
PostgreSQL-backed Orthrus KDC (bench/kdc_backends.py). Either, when it cannot run, says why.

Every load is bounded by a request count and a time limit; only 127.0.0.1 is used; every
process started is stopped by its pid. Without MIT Kerberos (not installed and not root),
Orthrus runs alone and the table says why.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import kdc_backends
from bench import mit as mitmod
from bench import verify as verifymod
from bench.common import (
    log,
    machine,
    measured,
    stopping_all,
    summarize_rates,
    summarize_runs,
    versions,
    write_results,
)
from bench.orthrus_realm import SERVICE, OrthrusRealm
from bench.report import PAGE, render_table, targets, write_page
from bench.runner import run_clients

#: (key, label, Orthrus load-generator mode, MIT krb5bench load)
KDC_LOADS = [
    ("as_preauth", "AS pre-auth, keys from keytab", "as_preauth", "as_preauth"),
    ("as_preauth2", "AS pre-auth, 2 round trips as MIT", "as_preauth2", "as_preauth"),
    ("tgs", "TGS", "tgs", "tgs"),
]
#: (key, label, krb5bench load): MIT's own C client drives both KDCs over UDP, the same
#: client on the same wire (issue 14 §8); the Orthrus side is its Kerberos listener.
UDP_LOADS = [
    ("as_preauth_udp", "AS pre-auth over UDP, MIT's krb5bench to both", "as_preauth"),
    ("tgs_udp", "TGS over UDP, MIT's krb5bench to both", "tgs"),
]
#: Requests each Orthrus client prepares: a bound on the run besides its time limit.
PREPARE = {"as_preauth": 30_000, "as_preauth2": 15_000, "tgs": 30_000}
#: The SQLite/PostgreSQL row (issue 13 §3): client threads, and principals in each realm.
BACKEND_CLIENTS = 4
BACKEND_PRINCIPALS = 200


def orthrus_argv(realm: OrthrusRealm, mode: str, count: int, secs: float) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.loadgen",
        mode,
        "--port",
        str(realm.port),
        "--realm-dir",
        str(realm.dir),
        "--service",
        SERVICE,
        "--count",
        str(count),
        "--secs",
        str(secs),
    ]


def kdc_cell(
    args: argparse.Namespace,
    what: str,
    argvs: tuple[list[list[str]], list[list[str]]],
    pids: tuple[int | None, int | None],
    mrealm: mitmod.MITRealm | None,
    orthrus_env: dict[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """One cell: a warm-up, then ``--reps`` runs of MIT's clients and Orthrus's alternately.

    ``orthrus_env``: the Orthrus side is driven by ``krb5bench`` too, with this environment
    (its ``krb5.conf`` names the Orthrus KDC's Kerberos port); else by Orthrus's own clients.
    """
    (oargv, margv), (opid, mpid) = argvs, pids
    synced = orthrus_env is None
    log(f"{what}: warm-up")
    run_clients(oargv, opid, args.secs, synced=synced, env=orthrus_env)
    if mrealm:
        run_clients(margv, mpid, args.secs, synced=False, env=mrealm.env)
    oruns, mruns = [], []
    for rep in range(args.reps):
        if mrealm:
            r = run_clients(margv, mpid, args.secs, synced=False, env=mrealm.env)
            mruns.append(r)
            log(
                f"  MIT     run {rep + 1}: {r['ops_per_s']:8.0f}/s"
                f"  kdc {r['kdc_cpu_us_per_op']} us/op  other {r['other_cpu_pct']}%"
            )
        r = run_clients(oargv, opid, args.secs, synced=synced, env=orthrus_env)
        oruns.append(r)
        log(
            f"  Orthrus run {rep + 1}: {r['ops_per_s']:8.0f}/s"
            f"  kdc {r['kdc_cpu_us_per_op']} us/op  other {r['other_cpu_pct']}%"
        )
    return summarize_runs(oruns), summarize_runs(mruns) if mruns else None


def measure_kdc(
    args: argparse.Namespace, orealm: OrthrusRealm, mrealm: mitmod.MITRealm | None
) -> list[dict[str, Any]]:
    """Every KDC load; a cell that fails is recorded as ``{"error": ...}`` and the rest run."""
    rows = []
    opid = orealm.kdc.pid if orealm.kdc else None
    pids = (opid, mrealm.kdc.pid if mrealm and mrealm.kdc else None)
    for key, label, mode, mit_load in KDC_LOADS:
        if args.only and key not in args.only:
            continue
        for nclients in (1, 2):
            count = min(PREPARE[mode], int(args.max_rate * args.secs))
            oargv = [orthrus_argv(orealm, mode, count, args.secs)] * nclients
            margv = (
                [mrealm.client_argv(mit_load, 10_000_000, args.secs)] * nclients if mrealm else []
            )
            what = f"{label}, {nclients} client(s)"
            orthrus, mit = measured(
                what,
                functools.partial(kdc_cell, args, what, (oargv, margv), pids, mrealm),
                lambda error: (error, error if mrealm else None),
            )
            rows.append(
                {"load": key, "label": label, "clients": nclients, "orthrus": orthrus, "mit": mit}
            )
    rows += measure_udp(args, orealm, mrealm, pids)
    return rows


def measure_udp(
    args: argparse.Namespace,
    orealm: OrthrusRealm,
    mrealm: mitmod.MITRealm | None,
    pids: tuple[int | None, int | None],
) -> list[dict[str, Any]]:
    """The rows where MIT's ``krb5bench`` drives both KDCs over UDP (needs MIT's client)."""
    rows = []
    for key, label, load in UDP_LOADS:
        if args.only and key not in args.only:
            continue
        for nclients in (1, 2):
            what = f"{label}, {nclients} client(s)"
            if mrealm is None:
                skipped = {"error": "MIT's krb5bench is not built (MIT Kerberos not installed)"}
                rows.append(
                    {
                        "load": key,
                        "label": label,
                        "clients": nclients,
                        "orthrus": skipped,
                        "mit": None,
                    }
                )
                continue
            env = mitmod.client_env(orealm.dir, orealm.kerberos_port)
            count = 10_000_000
            oargv = [
                mitmod.krb5bench_argv(
                    mrealm.bin, load, orealm.mit_keytab, SERVICE, count, args.secs
                )
            ] * nclients
            margv = [mrealm.client_argv(load, count, args.secs)] * nclients
            cell = functools.partial(kdc_cell, args, what, (oargv, margv), pids, mrealm, env)
            orthrus, mit = measured(what, cell, lambda error: (error, error))
            rows.append(
                {"load": key, "label": label, "clients": nclients, "orthrus": orthrus, "mit": mit}
            )
    return rows


def measure_negotiate(
    args: argparse.Namespace,
    mrealm: mitmod.MITRealm | None,
    mit_reason: str | None,
    directory: Path,
) -> dict[str, Any]:
    """The Negotiate row (issue 15 §5), while the MIT realm's KDC is up (its tokens come from
    MIT's ``gss_init_sec_context``): failed with the reason if it fails, skipped without MIT."""
    if mrealm is None:
        return {"skipped": f"MIT Kerberos not measured: {mit_reason}"}
    log("Negotiate in-process, replay cache, 1 process")
    return measured(
        "Negotiate",
        lambda: verifymod.negotiate_cell(args, mrealm, directory),
        lambda error: error,
    )


def measure_backends(args: argparse.Namespace) -> dict[str, Any]:
    """AS pre-auth and TGS over HTTP against a SQLite-backed and a PostgreSQL-backed Orthrus
    KDC (``bench/kdc_backends.py``), ``--reps`` runs of each in turn; skipped, with the reason,
    without a PostgreSQL URL (``ORTHRUS_BENCH_PG_URL``, else ``ORTHRUS_TEST_PG_URL``)."""
    url = os.environ.get("ORTHRUS_BENCH_PG_URL") or os.environ.get("ORTHRUS_TEST_PG_URL")
    if not url:
        return {"skipped": "no PostgreSQL URL (set ORTHRUS_BENCH_PG_URL or ORTHRUS_TEST_PG_URL)"}
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="orthrus-backends-") as tmp,
        kdc_backends.pg_schema(url) as pg_url,
    ):
        realms = kdc_backends.make_realms(Path(tmp), pg_url, BACKEND_PRINCIPALS)
        for rep in range(args.reps):
            order = realms if rep % 2 == 0 else dict(reversed(realms.items()))  # neither first
            compared = kdc_backends.compare(order, args.workers, BACKEND_CLIENTS, args.secs)
            for name, pair in compared.items():
                for load, run in zip(("as", "tgs"), pair, strict=True):
                    figures = {
                        "ops_per_s": run.rate,
                        "p50_us": run.percentile(0.5) * 1000,
                        "p99_us": run.percentile(0.99) * 1000,
                        "errors": run.errors,
                    }
                    runs.setdefault(name.lower(), {}).setdefault(load, []).append(figures)
                log(f"  {name} run {rep + 1}: AS {pair[0].rate:.0f}/s, TGS {pair[1].rate:.0f}/s")
    cells = {
        name: {load: summarize_rates(values) for load, values in loads.items()}
        for name, loads in runs.items()
    }
    return cells | {
        "workers": args.workers,
        "clients": BACKEND_CLIENTS,
        "principals": BACKEND_PRINCIPALS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=int(os.environ.get("BENCH_REPS", 3)))
    parser.add_argument("--secs", type=float, default=float(os.environ.get("BENCH_SECS", 4)))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 2)))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", 4)))
    parser.add_argument(
        "--max-rate",
        type=float,
        default=7500.0,
        help="requests/s per client to prepare for (a count bound)",
    )
    parser.add_argument(
        "--only",
        nargs="*",
        help="loads to run (as_preauth, as_preauth2, tgs, as_preauth_udp, tgs_udp, ap, negotiate, "
        "backends, service)",
    )
    parser.add_argument("--no-mit", action="store_true", help="run Orthrus alone")
    parser.add_argument("--service-workers", type=int, default=2)
    parser.add_argument("--service-clients", type=int, default=2)
    args = parser.parse_args()
    if args.reps < 1:
        parser.error("--reps must be at least 1")

    os.chdir(Path(__file__).resolve().parent.parent)
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "versions": versions(),
        "reps": args.reps,
        "secs_per_run": args.secs,
        "orthrus_kdc": {"workers": args.workers, "threads": args.threads},
    }
    mit_reason = "--no-mit given" if args.no_mit else mitmod.ensure_installed()
    results["mit_version"] = None if mit_reason else mitmod.version()
    results["mit_missing_reason"] = mit_reason
    if mit_reason:
        log(f"MIT Kerberos will not run: {mit_reason}")
    with tempfile.TemporaryDirectory(prefix="orthrus-bench-") as tmp, stopping_all():
        directory = Path(tmp)
        orealm = OrthrusRealm(directory)
        log("setting up the Orthrus realm...")
        orealm.setup()
        mrealm = None
        if not mit_reason:
            log("setting up the MIT realm...")
            mrealm = mitmod.MITRealm(directory)
            mrealm.setup()
            mrealm.start_kdc(1)
        orealm.start_kdc(args.workers, args.threads)
        try:
            results["kdc"] = measure_kdc(args, orealm, mrealm)
            if not args.only or "ap" in args.only:
                results["ap"] = verifymod.measure_ap(args, orealm, mrealm)
            if not args.only or "negotiate" in args.only:
                results["negotiate"] = measure_negotiate(args, mrealm, mit_reason, directory)
            if mrealm:
                mrealm.stop_kdc()
            if not args.only or "backends" in args.only:
                log("AS and TGS, SQLite-backed and PostgreSQL-backed KDC")
                results["backends"] = measured(
                    "SQLite/PostgreSQL", lambda: measure_backends(args), lambda error: error
                )
            if not args.only or "service" in args.only:
                results["service"] = measured(
                    "service_demo",
                    lambda: verifymod.measure_service(args, orealm, directory),
                    lambda error: error,
                )
        finally:
            orealm.stop_kdc()
            if mrealm:
                mrealm.stop_kdc()
    results["targets"] = targets(results)
    path = write_results("kdc", results)
    print(render_table(results))
    print(f"\nresults: {path.relative_to(Path.cwd())}")
    if not args.only:  # the page shows whole runs only
        write_page(results, path)
        print(f"figures written to {PAGE.relative_to(Path.cwd())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
