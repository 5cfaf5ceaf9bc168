"""Which server should carry the KDC's HTTP API? Each server serves the same realm, with
the same exchange runner, and Orthrus's load generator (bench/loadgen.py) sends TGS and
pre-authenticated AS requests with 1 and 2 clients; the servers' runs alternate (after one
unmeasured warm-up run of each), and the table gives requests/s and the server's CPU per
request (bench/runner.py), median [min-max], into ``bench/results/servers-*.json``.
docs/architecture.md has the figures.

- ``own``: ``orthrus-kdc serve`` as shipped, the KDC's own server on uvloop with httptools
  (kdc.server), 2 workers x 4 threads.
- ``baseline``, with ``--baseline DIR``: the ``orthrus-kdc serve`` of another checkout's
  venv (``DIR/.venv``) on the same realm, say main's before a change to the server (it was
  gunicorn's gthread worker until 2026-12-06).
- ``uvicorn``: bench/asgi_candidate.py under uvicorn on uvloop with httptools (llhttp),
  2 worker processes.
- ``granian``: the same ASGI app under granian (Rust, hyper), asyncio on uvloop, 2 workers,
  with the settings that bound the time and size of a request's head
  (:data:`HARDENING`, checked by bench/server_limits.py).

uvicorn, a2wsgi and granian are installed into ``--packages`` (a scratch directory, with the
project's own ``uv``) when missing: they are not dependencies of Orthrus.

    .venv/bin/python -m bench.server_candidates --reps 3 --secs 4
    .venv/bin/python -m bench.server_candidates --candidates "" --baseline ../main
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    HOST,
    VENV_BIN,
    children_cpu,
    free_port,
    log,
    machine,
    start,
    stop,
    stopping_all,
    summarize_runs,
    wait_ready,
    write_results,
)
from bench.orthrus_realm import OrthrusRealm
from bench.run import orthrus_argv
from bench.runner import run_clients

ROOT = Path(__file__).resolve().parent.parent
CANDIDATE_PACKAGES = (
    "uvicorn==0.55.0",
    "a2wsgi==1.10.10",
    "granian==2.8.9",
)


#: Each ASGI candidate's public settings for what the KDC's server must give: a deadline on
#: a request's head and a bound on its size (``seconds``: ``request_timeout``).
#: uvicorn has no setting for either with httptools (bench/server_limits.py shows it): its
#: keep-alive timeout is armed only after a response, never while a head arrives.
HARDENING: dict[str, Callable[[int], tuple[str, ...]]] = {
    "uvicorn": lambda seconds: ("--http", "httptools", "--timeout-keep-alive", str(seconds)),
    "uvicorn-h11": lambda seconds: (
        "--http",
        "h11",
        "--timeout-keep-alive",
        str(seconds),
        "--h11-max-incomplete-event-size",
        "16384",
    ),
    "granian": lambda seconds: (
        "--http1-header-read-timeout",
        str(seconds * 1000),
        "--http1-buffer-size",
        "8192",  # the least granian takes; hyper answers 431 to a longer head
    ),
}


def install_candidates(target: Path) -> None:
    if (target / "uvicorn").is_dir() and (target / "granian").is_dir():
        return
    argv = [str(VENV_BIN / "uv"), "pip", "install", "--quiet", "--python", sys.executable]
    subprocess.run([*argv, "--target", str(target), *CANDIDATE_PACKAGES], check=True)
    for shadowing in (*target.glob("click*"), *target.glob("h11*")):  # the project's own win
        subprocess.run(["rm", "-rf", str(shadowing)], check=True)


def start_asgi(
    candidate: str, realm: OrthrusRealm, packages: Path, workdir: Path, seconds: int = 30
) -> tuple[Any, int]:
    """bench/asgi_candidate.py under ``candidate`` (a key of :data:`HARDENING`), 2 workers,
    with its :data:`HARDENING` settings for ``seconds``."""
    server = candidate.split("-")[0]
    port = free_port()
    metrics = workdir / f"{candidate}-metrics"
    metrics.mkdir()
    env = dict(
        realm.env,
        KDC_DIR=str(realm.kdc_dir),
        KDC_WORKERS="2",  # the TGS replay cache in the SQLite file the workers share
        PROMETHEUS_MULTIPROC_DIR=str(metrics),  # as orthrus-kdc serve: samples in files
        PYTHONPATH=f"{ROOT}:{packages}",
    )
    where = ("--host", HOST, "--port", str(port), "--workers", "2", "--loop", "uvloop")
    quiet = ("--no-access-log", "--log-level", "warning")
    interface = ("--interface", "asgi") if server == "granian" else ()
    options = (*interface, *HARDENING[candidate](seconds), "bench.asgi_candidate:make_app")
    argv = [sys.executable, "-m", server, "--factory", *where, *quiet, *options]
    with open(workdir / f"{candidate}.log", "wb") as out:
        proc = start(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_ready(port, proc, "/livez")
    return proc, port


def _split(before: dict[int, float], after: dict[int, float]) -> list[float]:
    """Each worker's share of the CPU its server used between ``before`` and ``after``
    (how evenly the kernel's accept spread the clients), smallest first."""
    used = sorted(after[pid] - before[pid] for pid in before if pid in after)
    total = sum(used)
    return [round(u / total, 3) for u in used] if total else []


def start_baseline(checkout: Path, realm: OrthrusRealm, workdir: Path) -> tuple[Any, int]:
    """``checkout``'s own ``orthrus-kdc serve`` (its ``.venv``) on ``realm``, 2 workers x 4
    threads, HTTP only."""
    port = free_port()
    argv = [str(checkout / ".venv" / "bin" / "orthrus-kdc"), "--dir", str(realm.kdc_dir)]
    argv += ["serve", "--kerberos-port", "0", "--host", HOST, "--port", str(port)]
    argv += ["--workers", "2", "--threads", "4"]
    with open(workdir / "baseline.log", "wb") as out:
        proc = start(argv, env=realm.env, stdout=out, stderr=subprocess.STDOUT)
    wait_ready(port, proc, "/livez")
    return proc, port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--secs", type=float, default=4.0)
    parser.add_argument("--packages", type=Path, default=Path("/tmp/orthrus-server-candidates"))
    parser.add_argument(
        "--candidates", default="uvicorn,granian", help="ASGI candidates, comma-separated"
    )
    parser.add_argument("--baseline", type=Path, help="another checkout to measure beside")
    args = parser.parse_args()
    candidates = [name for name in args.candidates.split(",") if name]
    if candidates:
        install_candidates(args.packages)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="orthrus-servers-") as tmp, stopping_all():
        realm = OrthrusRealm(Path(tmp))
        realm.setup()
        realm.start_kdc(2, 4)
        assert realm.kdc is not None
        servers = {"own": (realm.kdc, realm.port)}
        if args.baseline:
            servers["baseline"] = start_baseline(args.baseline, realm, Path(tmp))
        for server in candidates:
            servers[server] = start_asgi(server, realm, args.packages, Path(tmp))
        for mode in ("tgs", "as_preauth"):
            for clients in (1, 2):
                runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
                splits: list[list[float]] = []
                for rep in range(args.reps + 1):  # the first: warm-up
                    for name, (proc, port) in servers.items():
                        realm.port = port
                        argv = [orthrus_argv(realm, mode, 30_000, args.secs)] * clients
                        before = children_cpu(proc.pid)
                        r = run_clients(argv, proc.pid, args.secs, synced=True)
                        if rep:
                            runs[name].append(r)
                            if name == "own":
                                splits.append(_split(before, children_cpu(proc.pid)))
                        log(
                            f"{mode} x{clients} {name}: {r['ops_per_s']:.0f}/s "
                            f"server {r['kdc_cpu_us_per_op']} us/op other {r['other_cpu_pct']}%"
                        )
                for name in servers:
                    results[f"{mode} x{clients} {name}"] = summarize_runs(runs[name])
                results[f"{mode} x{clients} own: CPU share of each worker"] = splits
        for name, (proc, _) in servers.items():
            if name != "own":
                stop(proc)
        realm.stop_kdc()
    results["machine"] = machine()
    print(json.dumps(results, indent=1))
    print(f"results: {write_results('servers', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
