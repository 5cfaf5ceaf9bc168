"""Which server should carry the KDC's HTTP API? Each candidate serves the same realm, with
the same exchange runner, and Orthrus's load generator (bench/loadgen.py) sends TGS and
pre-authenticated AS requests with 1 and 2 clients; the candidates' runs alternate (after
one unmeasured warm-up run of each), and the table gives requests/s and the server's CPU
per request (bench/runner.py), median [min-max], into ``bench/results/servers-*.json``.
docs/architecture.md has the figures.

- ``gunicorn``: ``orthrus-kdc serve`` as shipped (gthread, 2 workers x 4 threads).
- ``uvicorn``: bench/asgi_candidate.py under uvicorn on uvloop with httptools (llhttp),
  2 worker processes.
- ``granian``: the same ASGI app under granian (Rust, hyper), asyncio on uvloop, 2 workers,
  with the settings that bound the time and size of a request's head
  (:data:`HARDENING`, checked by bench/server_limits.py).
- ``own``: bench/own_candidate.py, a sketch of an asyncio server of our own on uvloop with
  httptools, 2 worker processes.

uvicorn, uvloop, httptools, a2wsgi and granian are installed into ``--packages`` (a scratch
directory, with the project's own ``uv``) when missing: they are not dependencies of Orthrus.

    .venv/bin/python -m bench.server_candidates --reps 3 --secs 4
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
    "uvloop==0.23.0",
    "httptools==0.9.0",
    "a2wsgi==1.10.10",
    "granian==2.8.9",
)


#: Each ASGI candidate's public settings for what gunicorn's ``KDCWorker`` gives the KDC: a
#: deadline on a request's head and a bound on its size (``seconds``: ``request_timeout``).
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
    with its :data:`HARDENING` settings for ``seconds``; or, for ``own``,
    bench/own_candidate.py (2 workers, the realm's ``request_timeout``)."""
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
    if candidate == "own":  # its deadline and bounds are its own (bench/own_candidate.py)
        argv = [sys.executable, "-m", "bench.own_candidate", *where[:6]]
    else:
        interface = ("--interface", "asgi") if server == "granian" else ()
        options = (*interface, *HARDENING[candidate](seconds), "bench.asgi_candidate:make_app")
        argv = [sys.executable, "-m", server, "--factory", *where, *quiet, *options]
    with open(workdir / f"{candidate}.log", "wb") as out:
        proc = start(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_ready(port, proc, "/livez")
    return proc, port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--secs", type=float, default=4.0)
    parser.add_argument("--packages", type=Path, default=Path("/tmp/orthrus-server-candidates"))
    args = parser.parse_args()
    install_candidates(args.packages)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="orthrus-servers-") as tmp, stopping_all():
        realm = OrthrusRealm(Path(tmp))
        realm.setup()
        realm.start_kdc(2, 4)
        assert realm.kdc is not None
        servers = {"gunicorn": (realm.kdc, realm.port)}
        for server in ("uvicorn", "granian", "own"):
            servers[server] = start_asgi(server, realm, args.packages, Path(tmp))
        for mode in ("tgs", "as_preauth"):
            for clients in (1, 2):
                runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
                for rep in range(args.reps + 1):  # the first: warm-up
                    for name, (proc, port) in servers.items():
                        realm.port = port
                        argv = [orthrus_argv(realm, mode, 30_000, args.secs)] * clients
                        r = run_clients(argv, proc.pid, args.secs, synced=True)
                        if rep:
                            runs[name].append(r)
                        log(
                            f"{mode} x{clients} {name}: {r['ops_per_s']:.0f}/s "
                            f"server {r['kdc_cpu_us_per_op']} us/op other {r['other_cpu_pct']}%"
                        )
                for name in servers:
                    results[f"{mode} x{clients} {name}"] = summarize_runs(runs[name])
        for server in ("uvicorn", "granian", "own"):
            stop(servers[server][0])
        realm.stop_kdc()
    results["machine"] = machine()
    print(json.dumps(results, indent=1))
    print(f"results: {write_results('servers', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
