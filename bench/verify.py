"""AP verification, in-process and behind HTTP (issue 4): ``python -m bench.verify``.

1. In-process verifications per second: a :class:`service_lib.Verifier` over the service's
   keytab with the in-process replay cache (``MemoryReplayCache``), each call a fresh AP-REQ
   (new authenticator, bound to ``GET /whoami``) for one ticket from the KDC — beside MIT's
   ``krb5_rd_req`` with its default replay cache (``dfl`` file) and a FILE keytab, measured on
   the same machine in the same run with the anchors' C client. 1 and 2 processes.
2. ``Authorization: Negotiate`` in-process (issue 15 §5): :meth:`Verifier.verify_negotiate`
   over the MIT keytab of the service, on SPNEGO tokens made by MIT's
   ``gss_init_sec_context`` (mutual authentication, a fresh authenticator each), beside MIT's
   ``gss_accept_sec_context`` with its replay cache on the very same tokens
   (``bench/mit/gssbench.c``). One process each.
3. ``service_demo`` under gunicorn (2 sync workers, SQLite replay cache shared by them):
   ``GET /whoami`` with a fresh ticket per request against the same view unprotected
   (``GET /open/whoami``, see :mod:`bench.service_app`), 2 client processes.

A replayed AP-REQ is refused by both (checked and reported). Every loop is bounded by a
count and a time limit; results go to ``bench/results/verify-*.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import mit as mitmod
from bench.common import (
    HOST,
    free_port,
    log,
    machine,
    measured,
    start,
    stop,
    stopping_all,
    summarize_rates,
    summarize_runs,
    wait_ready,
    write_results,
)
from bench.orthrus_realm import SERVICE, OrthrusRealm
from bench.runner import run_clients
from orthrus.errors import ProtocolError

PATH = "/whoami"


T = TypeVar("T")


def time_verifications(
    verify: Callable[[T], object], tokens: list[T], secs: float, refusal: type[ProtocolError]
) -> dict[str, Any]:
    """Verify ``tokens`` in turn for at most ``secs`` seconds, then the first one again (a
    replay, which the replay cache must refuse); the figures of the run."""
    clock = time.perf_counter
    lat = []
    errors = 0
    first_error = ""
    t0 = clock()
    deadline = t0 + secs
    for token in tokens:
        s = clock()
        try:
            verify(token)
        except refusal as exc:
            errors += 1
            first_error = first_error or exc.name
        e = clock()
        lat.append(e - s)
        if e >= deadline:
            break
    elapsed = clock() - t0
    try:
        verify(tokens[0])
        replay = "ACCEPTED"
    except refusal as exc:
        replay = exc.name
    lat.sort()
    n = len(lat)
    return {
        "ops": n,
        "secs": elapsed,
        "ops_per_s": n / elapsed,
        "p50_us": lat[n // 2] * 1e6,
        "p99_us": lat[min(n - 1, int(n * 0.99))] * 1e6,
        "errors": errors,
        "first_error": first_error,
        "replay_of_first": replay,
    }


def _worker(args: argparse.Namespace) -> None:
    """One verifying process: prepare tokens, wait for go, verify them, print JSON."""
    from bench.loadgen import _service_ticket
    from orthrus.ap import AuthenticatorFields, make_ap_req
    from orthrus.errors import APError
    from orthrus.httpauth import encode_ap_req, http_binding
    from orthrus.replay import MemoryReplayCache
    from service_lib.keytab_source import KeytabSource
    from service_lib.verifier import Verifier

    args.service = SERVICE
    cred = _service_ticket(args)
    fields = AuthenticatorFields(checksum=http_binding("GET", PATH))
    tokens = [
        encode_ap_req(make_ap_req(cred, time.time(), os.urandom, fields)[0])
        for _ in range(args.count)
    ]
    verifier = Verifier(KeytabSource(Path(args.realm_dir) / "service.keytab"), MemoryReplayCache())
    print(json.dumps({"ready": True}), flush=True)
    if not sys.stdin.readline():
        return
    cpu0 = time.process_time()
    figures = time_verifications(
        lambda token: verifier.verify(token, "GET", PATH), tokens, args.secs, APError
    )
    print(json.dumps(figures | {"cpu_s": time.process_time() - cpu0}), flush=True)


def _negotiate_worker(args: argparse.Namespace) -> None:
    """Verify the SPNEGO tokens of ``args.tokens`` (hex lines, from MIT's
    ``gss_init_sec_context``) with ``Verifier.verify_negotiate`` over the MIT keytab
    ``args.keytab``, the in-process replay cache on; print the figures as JSON."""
    from orthrus.replay import MemoryReplayCache
    from service_lib import KeytabSource, Verifier, VerifierSettings

    tokens = [bytes.fromhex(line) for line in Path(args.tokens).read_text().split()]
    settings = VerifierSettings(principals=[mitmod.SERVICE])
    verifier = Verifier(KeytabSource(Path(args.keytab)), MemoryReplayCache(), settings)
    figures = time_verifications(verifier.verify_negotiate, tokens, args.secs, ProtocolError)
    print(json.dumps(figures), flush=True)


def negotiate_cell(
    args: argparse.Namespace, mrealm: mitmod.MITRealm, directory: Path
) -> dict[str, Any]:
    """``--reps`` runs: MIT's gssbench makes the tokens and times its acceptor on them, then
    Orthrus verifies the same tokens (each with its own replay cache)."""
    tokens = directory / "spnego-tokens.txt"
    count = int(args.secs * 20_000)
    timeout = 120 + 4 * args.secs
    oruns, mruns = [], []
    for rep in range(args.reps):
        done = subprocess.run(
            mrealm.gss_accept_argv(count, args.secs, tokens),
            env=mrealm.gss_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"gssbench failed: {done.stderr.strip()[-300:]}")
        line = mitmod.parse_line(done.stdout.strip().splitlines()[-1])
        if line["replay"] != "refused":
            raise RuntimeError("MIT's acceptor took a replayed token")
        mit = {k: float(line[k]) for k in ("ops", "secs", "ops_per_s", "p50_us", "p99_us")}
        mruns.append(mit | {"errors": int(line["errors"])})
        worker = [
            sys.executable, "-m", "bench.verify", "--negotiate-worker", "--tokens", str(tokens),
            "--keytab", mrealm.keytab("host"), "--secs", str(args.secs),
        ]  # fmt: skip
        done = subprocess.run(worker, capture_output=True, text=True, timeout=timeout, check=True)
        orthrus = json.loads(done.stdout.strip().splitlines()[-1])
        if orthrus["replay_of_first"] != "KRB_AP_ERR_REPEAT":
            raise RuntimeError(f"a replayed token was not refused: {orthrus['replay_of_first']}")
        oruns.append(orthrus)
        log(
            f"  Negotiate run {rep + 1}: Orthrus {orthrus['ops_per_s']:7.0f}/s "
            f"(errors {orthrus['errors']} {orthrus['first_error']}), "
            f"MIT gss_accept_sec_context {mit['ops_per_s']:7.0f}/s"
        )
    return {"orthrus": summarize_rates(oruns), "mit": summarize_rates(mruns)}


def _worker_argv(realm: OrthrusRealm, count: int, secs: float) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.verify",
        "--worker",
        "--realm-dir",
        str(realm.dir),
        "--kdc-port",
        str(realm.port),
        "--count",
        str(count),
        "--secs",
        str(secs),
    ]


def ap_cell(
    args: argparse.Namespace, orealm: OrthrusRealm, mrealm: mitmod.MITRealm | None, nprocs: int
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """One cell: a warm-up, then ``--reps`` runs of MIT's and Orthrus's verifiers alternately."""
    count = int(args.secs * 40_000)  # more than 40k/s per process is not expected
    mit_count = 60_000  # as the anchors: krb5bench keeps every AP-REQ in memory
    oargv = [_worker_argv(orealm, count, args.secs)] * nprocs
    run_clients(oargv, None, args.secs, synced=True)  # warm-up
    oruns, mruns = [], []
    for rep in range(args.reps):
        if mrealm:
            margv = [mrealm.client_argv("ap", mit_count, args.secs)] * nprocs
            r = run_clients(margv, None, args.secs, synced=False, env=mrealm.env, result_line=1)
            mruns.append(r)
            log(f"  MIT rd_req run {rep + 1}: {r['ops_per_s']:9.0f}/s")
        r = run_clients(oargv, None, args.secs, synced=True)
        oruns.append(r)
        replay = r["clients"][0]["replay_of_first"]
        log(f"  Orthrus    run {rep + 1}: {r['ops_per_s']:9.0f}/s  (replay -> {replay})")
        if replay != "KRB_AP_ERR_REPEAT":
            raise RuntimeError(f"a replayed AP-REQ was not refused: {replay}")
    return summarize_runs(oruns), summarize_runs(mruns) if mruns else None


def measure_ap(
    args: argparse.Namespace, orealm: OrthrusRealm, mrealm: mitmod.MITRealm | None
) -> list[dict[str, Any]]:
    """In-process AP verification with a replay cache, Orthrus beside MIT's krb5_rd_req; a
    cell that fails is recorded as ``{"error": ...}`` and the rest run."""
    rows = []
    label = "AP verify in-process, replay cache"
    for nprocs in (1, 2):
        what = f"{label}, {nprocs} process(es)"
        log(what)
        orthrus, mit = measured(
            what,
            functools.partial(ap_cell, args, orealm, mrealm, nprocs),
            lambda error: (error, error if mrealm else None),
        )
        rows.append(
            {"load": "ap", "label": label, "clients": nprocs, "orthrus": orthrus, "mit": mit}
        )
    return rows


def measure_service(
    args: argparse.Namespace, orealm: OrthrusRealm, directory: Path
) -> dict[str, Any]:
    """service_demo: a protected endpoint against the same view unprotected."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "bench.service_app",
        "--keytab",
        str(orealm.keytab("service")),
        "--accept-any-keytab-principal",  # the keytab holds the one benchmarked service
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(args.service_workers),
        "--db",
        str(directory / "notes.sqlite"),
    ]
    logfile = open(directory / "service.log", "ab")  # noqa: SIM115
    proc = start(argv, stdout=logfile, stderr=subprocess.STDOUT)
    logfile.close()
    out: dict[str, Any] = {"workers": args.service_workers, "clients": args.service_clients}
    try:
        wait_ready(port, proc, "/readyz")  # keytab, replay cache and notes database answer
        count = int(args.secs * 6000)
        for name, extra in (("protected", []), ("unprotected", ["--open"])):
            path = PATH if name == "protected" else "/open" + PATH
            loadgen = [
                sys.executable,
                "-m",
                "bench.loadgen",
                "http_get",
                "--port",
                str(port),
                "--kdc-port",
                str(orealm.port),
                "--realm-dir",
                str(orealm.dir),
                "--service",
                SERVICE,
                "--path",
                path,
                "--count",
                str(count),
                "--secs",
                str(args.secs),
                *extra,
            ]
            argvs = [loadgen] * args.service_clients
            run_clients(argvs, proc.pid, args.secs, synced=True)  # warm-up
            runs = []
            for rep in range(args.reps):
                r = run_clients(argvs, proc.pid, args.secs, synced=True)
                runs.append(r)
                log(
                    f"  service_demo {name:11s} run {rep + 1}: {r['ops_per_s']:7.0f}/s"
                    f"  errors {r['errors']}"
                )
            out[name] = summarize_runs(runs)
    finally:
        stop(proc)
    p = out["protected"]["ops_per_s"]["median"]
    u = out["unprotected"]["ops_per_s"]["median"]
    out["ratio"] = round(p / u, 3) if u else None
    return out


def render(results: dict[str, Any]) -> str:
    return render_ap(results) + render_negotiate(results) + render_service(results)


def render_negotiate(results: dict[str, Any]) -> str:
    row = results.get("negotiate")
    if not row:
        return ""
    if "error" in row:
        return f"\nNegotiate in-process: failed: {row['error']}"
    if "skipped" in row:
        return f"\nNegotiate in-process: not run: {row['skipped']}"
    o, m = row["orthrus"], row["mit"]
    ratio = o["ops_per_s"]["median"] / m["ops_per_s"]["median"]
    lines = [
        "",
        "Negotiate (SPNEGO, RFC 4559) in-process with a replay cache: the same tokens, made by "
        "MIT's gss_init_sec_context",
        "",
        "| Orthrus verify_negotiate/s median [min-max] | p50/p99 µs | MIT gss_accept_sec_context/s "
        "median [min-max] | p50/p99 µs | Orthrus/MIT |",
        "|---|---|---|---|---|",
    ]
    cells = [
        f"{c['ops_per_s']['median']:,.0f} [{c['ops_per_s']['min']:,.0f}-"
        f"{c['ops_per_s']['max']:,.0f}] | {c['p50_us']:.0f} / {c['p99_us']:.0f}"
        for c in (o, m)
    ]
    lines.append(f"| {cells[0]} | {cells[1]} | {ratio:.2f}x |")
    lines.append("\ntarget: Orthrus >= 1.0x MIT gss_accept_sec_context")
    return "\n".join(lines)


def render_ap(results: dict[str, Any]) -> str:
    lines = ["", "In-process AP verification with a replay cache (fresh AP-REQ per call)", ""]
    lines.append(
        "| procs | Orthrus verify/s median [min-max] | p50/p99 µs | MIT krb5_rd_req/s "
        "median [min-max] | p50/p99 µs | Orthrus/MIT |"
    )
    lines.append("|---|---|---|---|---|---|")
    for row in results["ap"]:
        if failure := next((s for s in (row["orthrus"], row["mit"]) if s and "error" in s), None):
            lines.append(f"| {row['clients']} | failed: {failure['error']} | — | — | — | — |")
            continue
        o, m = row["orthrus"], row["mit"]
        ratio = f"{o['ops_per_s']['median'] / m['ops_per_s']['median']:.2f}x" if m else "—"
        mtxt = (
            f"{m['ops_per_s']['median']:,.0f} [{m['ops_per_s']['min']:,.0f}-"
            f"{m['ops_per_s']['max']:,.0f}] | {m['p50_us']:.0f} / {m['p99_us']:.0f}"
            if m
            else "not run | —"
        )
        lines.append(
            f"| {row['clients']} | {o['ops_per_s']['median']:,.0f} [{o['ops_per_s']['min']:,.0f}-"
            f"{o['ops_per_s']['max']:,.0f}] | {o['p50_us']:.0f} / {o['p99_us']:.0f} | {mtxt} "
            f"| {ratio} |"
        )
    lines.append("\ntarget: Orthrus >= 2x MIT krb5_rd_req with its replay cache")
    return "\n".join(lines)


def render_service(results: dict[str, Any]) -> str:
    svc = results.get("service")
    if not svc:
        return ""
    if "error" in svc:
        return f"\nservice_demo under gunicorn: failed: {svc['error']}"
    lines = [
        "",
        f"service_demo under gunicorn ({svc['workers']} sync workers, SQLite replay "
        f"cache shared by them), {svc['clients']} client processes",
        "",
        "| endpoint | req/s median [min-max] | p50/p99 µs | server CPU/request |",
        "|---|---|---|---|",
    ]
    for name in ("protected", "unprotected"):
        s = svc[name]
        what = "/whoami, a fresh AP-REQ each" if name == "protected" else "/open/whoami"
        lines.append(
            f"| GET {what} | {s['ops_per_s']['median']:,.0f} [{s['ops_per_s']['min']:,.0f}-"
            f"{s['ops_per_s']['max']:,.0f}] | {s['p50_us']:.0f} / {s['p99_us']:.0f} "
            f"| {s['kdc_cpu_us_per_op']['median']:.0f} µs |"
        )
    lines.append(f"\nprotected/unprotected: {svc['ratio']:.2f}x (target >= 0.8x)")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--negotiate-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tokens", help=argparse.SUPPRESS)
    parser.add_argument("--keytab", help=argparse.SUPPRESS)
    parser.add_argument("--realm-dir", help=argparse.SUPPRESS)
    parser.add_argument("--kdc-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--realm", default="BENCH.TEST", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=int(os.environ.get("BENCH_REPS", 3)))
    parser.add_argument("--secs", type=float, default=float(os.environ.get("BENCH_SECS", 4)))
    parser.add_argument("--service-workers", type=int, default=2)
    parser.add_argument("--service-clients", type=int, default=2)
    parser.add_argument("--no-mit", action="store_true")
    parser.add_argument("--no-service", action="store_true")
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return 0
    if args.negotiate_worker:
        _negotiate_worker(args)
        return 0
    os.chdir(Path(__file__).resolve().parent.parent)
    results: dict[str, Any] = {"machine": machine(), "reps": args.reps, "secs_per_run": args.secs}
    reason = "--no-mit given" if args.no_mit else mitmod.ensure_installed()
    results["mit_missing_reason"] = reason
    if reason:
        log(f"MIT Kerberos will not run: {reason}")
    with tempfile.TemporaryDirectory(prefix="orthrus-verify-") as tmp, stopping_all():
        directory = Path(tmp)
        orealm = OrthrusRealm(directory)
        orealm.setup()
        mrealm = None
        if not reason:
            mrealm = mitmod.MITRealm(directory)
            mrealm.setup()
            mrealm.start_kdc(1)
        orealm.start_kdc(1, 4)
        try:
            results["ap"] = measure_ap(args, orealm, mrealm)
            if mrealm:
                log("Negotiate in-process, replay cache, 1 process")
                results["negotiate"] = measured(
                    "Negotiate",
                    lambda: negotiate_cell(args, mrealm, directory),
                    lambda error: error,
                )
                mrealm.stop_kdc()
            if not args.no_service:
                results["service"] = measured(
                    "service_demo",
                    lambda: measure_service(args, orealm, directory),
                    lambda error: error,
                )
        finally:
            orealm.stop_kdc()
            if mrealm:
                mrealm.stop_kdc()
    path = write_results("verify", results)
    print(render(results))
    if reason:
        print(f"\nMIT Kerberos not measured: {reason}")
    print(f"\nresults: {path.relative_to(Path.cwd())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
