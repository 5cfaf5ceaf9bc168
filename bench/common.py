"""What every part of the benchmark shares: processes started and stopped by pid, CPU time
from /proc, free ports on 127.0.0.1, summaries (median, min, max) and the results folder.

Every process the benchmark starts is recorded here and stopped by its pid (SIGTERM, then
SIGKILL after a grace period); nothing is ever stopped by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
VENV_BIN = Path(sys.executable).parent
TICK = os.sysconf("SC_CLK_TCK")

_started: list[subprocess.Popen[Any]] = []


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_ready(
    port: int, proc: subprocess.Popen[Any], path: str = "/livez", timeout: float = 30.0
) -> None:
    """Wait until ``GET path`` on 127.0.0.1:``port`` answers 200: the server has loaded its
    application and answers requests, which a bare TCP connect does not show (gunicorn
    binds before its workers are up, a socket may be half-open). Raises if ``proc`` exits or
    the time runs out."""
    deadline = time.monotonic() + timeout
    url = f"http://{HOST}:{port}{path}"
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2.0) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (OSError, urllib.error.URLError) as exc:
            last = type(exc).__name__
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready after {timeout:g} s ({last})")


def failed(exc: BaseException) -> dict[str, str]:
    """A cell that could not be measured, as the results record it: ``{"error": reason}``."""
    # A client's traceback: its first line says who failed, its last one what went wrong.
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    reason = " … ".join(dict.fromkeys([lines[0], lines[-1]])) if lines else "no message"
    return {"error": f"{type(exc).__name__}: {reason}"[:300]}


def measured(
    what: str, measure: Callable[[], Any], on_error: Callable[[dict[str, str]], Any]
) -> Any:
    """``measure()``, or, if it raises, ``on_error(failed(exc))`` after logging the reason: one
    cell that fails is shown as failed in the table and the run goes on."""
    try:
        return measure()
    except Exception as exc:  # any failure of one cell is reported, not fatal
        log(f"{what}: FAILED: {failed(exc)['error']}")
        return on_error(failed(exc))


def ran(cell: dict[str, Any] | None) -> dict[str, Any] | None:
    """``cell`` if it holds figures; None if it was not run or failed (see :func:`failed`)."""
    return None if not cell or "error" in cell else cell


def start(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """Start a process and remember its pid, so that :func:`stop_all` can stop it."""
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    proc = subprocess.Popen(list(argv), **kwargs)
    _started.append(proc)
    return proc


def stop(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM the process by its pid, SIGKILL it after ``grace`` seconds."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    if proc in _started:
        _started.remove(proc)


def stop_all() -> None:
    for proc in reversed(list(_started)):
        stop(proc)


@contextlib.contextmanager
def stopping_all() -> Iterator[None]:
    """Stop every process started here on the way out, even on an error or Ctrl-C."""
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        yield
    finally:
        stop_all()
        signal.signal(signal.SIGTERM, previous)


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, utime+stime in ticks) of a pid, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12])


def cpu_seconds(pid: int) -> float:
    """utime+stime of ``pid`` and its direct children (KDC or krb5kdc workers), as the
    anchor harness measures it."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat(int(entry))
        if stat is not None and (int(entry) == pid or stat[0] == pid):
            total += stat[1]
    return total / TICK


def children_cpu(pid: int) -> dict[int, float]:
    """utime+stime, in seconds, of each direct child of ``pid`` (a KDC's workers)."""
    found = {}
    for entry in os.listdir("/proc"):
        stat = _stat(int(entry)) if entry.isdigit() else None
        if stat is not None and stat[0] == pid:
            found[int(entry)] = stat[1] / TICK
    return found


def system_busy() -> tuple[float, float]:
    """(busy, total) jiffies of every CPU since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def summarize(values: Sequence[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": list(values),
    }


def summarize_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One table cell from its runs: medians (with min and max) of rate, latency and CPU."""
    cpu = [r["kdc_cpu_us_per_op"] for r in runs if r.get("kdc_cpu_us_per_op") is not None]
    return {
        "ops_per_s": summarize([r["ops_per_s"] for r in runs]),
        "p50_us": summarize([r["p50_us"] for r in runs])["median"],
        "p99_us": summarize([r["p99_us"] for r in runs])["median"],
        # None when no server runs (in-process AP rows); for service_demo, its CPU per request.
        "kdc_cpu_us_per_op": summarize(cpu) if cpu else None,
        "errors": sum(r["errors"] for r in runs),
        "other_cpu_pct": summarize([r["other_cpu_pct"] for r in runs]),
        "runs": runs,
    }


def summarize_rates(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One cell from runs without a server's CPU time (in-process loops, the back-end rows):
    medians (with min and max) of the rate, median latencies, errors in all."""
    return {
        "ops_per_s": summarize([r["ops_per_s"] for r in runs]),
        "p50_us": summarize([r["p50_us"] for r in runs])["median"],
        "p99_us": summarize([r["p99_us"] for r in runs])["median"],
        "errors": sum(r["errors"] for r in runs),
        "runs": runs,
    }


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def write_results(name: str, data: dict[str, Any]) -> Path:
    """``bench/results/NAME-<UTC time>.json`` and ``NAME-latest.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(text)
    (RESULTS / f"{name}-latest.json").write_text(text)
    return path


#: The libraries whose versions the figures name: those on the measured paths.
KEY_LIBRARIES = (
    "cryptography",
    "msgspec",
    "pyjwt",
    "flask",
    "uvloop",
    "httptools",
    "gunicorn",  # service_demo's server
    "sqlalchemy",
    "pybase64",
)


def versions() -> dict[str, str]:
    """The versions of :data:`KEY_LIBRARIES` installed (all of them: requirements/dev.lock)."""
    return {name: metadata.version(name) for name in KEY_LIBRARIES}


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "arch": platform.machine(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": sys.version.split()[0],
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
    }
