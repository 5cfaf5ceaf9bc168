"""Where a worker spends its time under load: ``python -m bench.profile [LOAD]``.

LOAD is ``tgs`` or ``as_preauth`` (a KDC worker), or ``service`` / ``service_open``
(``service_demo``'s ``GET /whoami`` with a fresh AP-REQ each, or ``GET /open/whoami``, as
:mod:`bench.verify` measures them). Sets up a throwaway realm, serves it (or the service)
with one worker (``orthrus-kdc serve --workers 1``, or gunicorn's for ``service_demo``),
drives it with one load generator, and samples the worker with
py-spy (in the dev extra) for the run. Prints
the functions with the most time (inclusive and self) and writes the collapsed stacks to
``bench/results/profile-LOAD.txt`` (feed them to a flame-graph tool).
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    HOST,
    RESULTS,
    VENV_BIN,
    free_port,
    log,
    start,
    stop,
    stopping_all,
    wait_ready,
)
from bench.orthrus_realm import SERVICE, OrthrusRealm
from bench.run import orthrus_argv
from bench.verify import PATH

#: Loads served by service_demo (bench.service_app) rather than by the KDC.
SERVICE_LOADS = {"service": PATH, "service_open": "/open" + PATH}


def _serve_service(
    realm: OrthrusRealm, load: str, count: int, secs: float
) -> tuple[int, list[str]]:
    """Start service_demo with one worker; its master's pid and the load generator's argv."""
    port = free_port()
    directory = realm.dir.parent
    argv = [
        sys.executable, "-m", "bench.service_app", "--keytab", str(realm.keytab("service")),
        "--accept-any-keytab-principal", "--host", HOST, "--port", str(port), "--workers", "1",
        "--db", str(directory / "notes.sqlite"),
    ]  # fmt: skip
    logfile = open(directory / "service.log", "ab")  # noqa: SIM115 - closed with the process
    proc = start(argv, stdout=logfile, stderr=subprocess.STDOUT)
    wait_ready(port, proc, "/readyz")
    path = SERVICE_LOADS[load]
    loadgen = [
        sys.executable, "-m", "bench.loadgen", "http_get", "--port", str(port),
        "--kdc-port", str(realm.port), "--realm-dir", str(realm.dir), "--service", SERVICE,
        "--path", path, "--count", str(count), "--secs", str(secs),
        *(["--open"] if load == "service_open" else []),
    ]  # fmt: skip
    return proc.pid, loadgen


def _worker_pid(master: int) -> int:
    for _ in range(100):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == master:
                            return int(entry)
                except OSError:
                    continue
        time.sleep(0.1)
    raise RuntimeError("no KDC worker")


def summarize(collapsed: Path, top: int) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    out = [f"{total} samples", "", "inclusive:"]
    out += [f"  {100 * c / total:5.1f}%  {f}" for f, c in inclusive.most_common(top)]
    out += ["", "self:"]
    out += [f"  {100 * c / total:5.1f}%  {f}" for f, c in own.most_common(top)]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("load", nargs="?", default="tgs")
    parser.add_argument("--secs", type=float, default=8.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("py-spy is not installed: run make install (it is in the dev extra)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"profile-{args.load}.txt"
    with tempfile.TemporaryDirectory(prefix="orthrus-profile-") as tmp, stopping_all():
        realm = OrthrusRealm(Path(tmp))
        realm.setup()
        realm.start_kdc(1, args.threads)
        if args.load in SERVICE_LOADS:
            master, argv = _serve_service(realm, args.load, 30_000, args.secs)
            worker = _worker_pid(master)
        else:
            worker = _worker_pid(realm.kdc.pid)  # type: ignore[union-attr]
            argv = orthrus_argv(realm, args.load, 60_000, args.secs)
        client = start(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert client.stdin is not None and client.stdout is not None
        client.stdout.readline()
        raw = Path(tmp) / "raw.txt"
        spy_proc = start(
            [
                spy,
                "record",
                "--pid",
                str(worker),
                "--rate",
                str(args.rate),
                "--format",
                "raw",
                "--duration",
                str(int(args.secs)),
                "--output",
                str(raw),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        client.stdin.write("go\n")
        client.stdin.flush()
        result = client.stdout.readline()
        spy_proc.wait(timeout=args.secs + 30)
        stop(client)
        realm.stop_kdc()
        log(result.strip())
        shutil.copy(raw, out)
    print(summarize(out, args.top))
    print(f"\ncollapsed stacks: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
