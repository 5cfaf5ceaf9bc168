"""Running one measured load: N client processes against a KDC, its CPU from /proc.

A run starts the clients, waits until each has prepared its requests (Orthrus clients say
so on standard output; MIT's C client prepares nothing), reads the KDC's CPU time, lets
them go, waits for them (each bounded by its count and its time limit, and here by a
timeout), and reads the KDC's CPU time again. The CPU the rest of the machine used in the
window is recorded too, so a run disturbed by something else is visible.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from bench.common import cpu_seconds, log, start, stop, system_busy
from bench.mit import parse_line


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_clients(
    argvs: Sequence[Sequence[str]],
    kdc_pid: int | None,
    secs: float,
    synced: bool,
    env: dict[str, str] | None = None,
    result_line: int = 0,
) -> dict[str, Any]:
    """One run; returns ops/s (summed), latencies (client 0's), KDC CPU per op, and more.

    ``synced``: Orthrus load generators (ready line, then go on stdin, then a JSON line);
    otherwise MIT's ``krb5bench`` (``mode=... ops=...`` lines; ``result_line`` picks one).
    """
    procs = [
        start(
            argv,
            env=env,
            stdin=subprocess.PIPE if synced else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
    ]
    try:
        if synced:
            for proc in procs:
                assert proc.stdout is not None
                line = proc.stdout.readline()
                if not line.startswith("{"):
                    err = proc.stderr.read() if proc.stderr else ""
                    raise RuntimeError(f"load generator failed to start: {err.strip()[-800:]}")
        cpu0 = cpu_seconds(kdc_pid) if kdc_pid else 0.0
        busy0, total0 = system_busy()
        children0 = _children_cpu()
        own0 = time.process_time()
        wall0 = time.monotonic()
        if synced:
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
        outs = [proc.communicate(timeout=secs + 120) for proc in procs]
        wall = time.monotonic() - wall0
        cpu1 = cpu_seconds(kdc_pid) if kdc_pid else 0.0
        busy1, total1 = system_busy()
        reaped_cpu = _children_cpu() - children0
        own = time.process_time() - own0
    finally:
        for proc in procs:
            stop(proc, grace=2)
    results = []
    for (out, err), proc in zip(outs, procs, strict=True):
        if proc.returncode != 0:
            raise RuntimeError(f"client exited {proc.returncode}: {err.strip()[-800:]}")
        if synced:
            results.append(json.loads(out.strip().splitlines()[-1]))
        else:
            lines = [parse_line(x) for x in out.splitlines() if x.startswith("mode=")]
            r = lines[result_line]
            results.append(
                {
                    "ops": int(r["ops"]),
                    "ops_per_s": float(r["ops_per_s"]),
                    "p50_us": float(r["p50_us"]),
                    "p99_us": float(r["p99_us"]),
                    "errors": int(r["errors"]),
                    "first_error": err.strip()[:200],
                }
            )
    # Orthrus clients report the CPU of their timed window (their preparation is not load);
    # MIT's C clients prepare nothing, so all they used counts.
    clients_cpu = sum(r["cpu_s"] for r in results) if synced else reaped_cpu
    ops = sum(r["ops"] for r in results)
    errors = sum(r["errors"] for r in results)
    if errors:
        log(f"  {errors} errors; first: {next(r['first_error'] for r in results if r['errors'])}")
    kdc_cpu = cpu1 - cpu0
    ticks = os.sysconf("SC_CLK_TCK")
    busy = (busy1 - busy0) / ticks
    other = max(0.0, busy - kdc_cpu - clients_cpu - own)
    ncpu = os.cpu_count() or 1
    return {
        "ops": ops,
        "errors": errors,
        "ops_per_s": round(sum(r["ops_per_s"] for r in results), 1),
        "p50_us": round(results[0]["p50_us"], 1),
        "p99_us": round(results[0]["p99_us"], 1),
        "kdc_cpu_us_per_op": round(kdc_cpu / ops * 1e6, 1) if kdc_pid and ops else None,
        "kdc_cpu_s": round(kdc_cpu, 3),
        "clients_cpu_s": round(clients_cpu, 3),
        "other_cpu_pct": round(100 * other / (wall * ncpu), 1),
        "wall_s": round(wall, 3),
        "total_cpu_pct": round(100 * (busy1 - busy0) / max(1, total1 - total0), 1),
        "clients": results,
    }
