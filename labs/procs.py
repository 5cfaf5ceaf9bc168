"""The processes a lab starts: each in its own session, with a pid file, stopped as a group.

A pid file (``lab/run/NAME.pid``) is JSON: the pid, the port, the command and the process's
start time as the kernel counts it (``/proc/PID/stat`` field 22), so that a pid reused by an
unrelated process after a crash is never taken for ours, and never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from labs.state import LabPaths
from orthrus.errors import ConfigError

__all__ = [
    "ProcInfo",
    "choose_port",
    "port_free",
    "read_proc",
    "running",
    "start_process",
    "stop_process",
    "stop_processes",
    "wait_ready",
]


@dataclass(frozen=True, slots=True)
class ProcInfo:
    """A process the lab started."""

    name: str
    pid: int
    port: int
    started: str
    command: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    if len(fields) < 20 or fields[0] == "Z":  # a zombie has exited
        return None
    return fields[19]


def read_proc(paths: LabPaths, name: str) -> ProcInfo | None:
    """The pid file of ``name``, or None if there is none (or it is unreadable)."""
    try:
        data = json.loads(paths.pidfile(name).read_text())
        return ProcInfo(
            name, int(data["pid"]), int(data["port"]), str(data["started"]), data["command"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running(info: ProcInfo) -> bool:
    """The process of ``info`` still runs (same pid *and* same start time)."""
    _reap(info.pid)
    return _start_time(info.pid) == info.started


def _reap(pid: int) -> None:
    # A process this very interpreter started (tests run `up` in-process) stays a zombie
    # until waited for; anything else is not our child, which is fine.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def port_free(port: int) -> bool:
    """Whether ``port`` of 127.0.0.1 is free for TCP and for UDP (a KDC's Kerberos port
    takes both, RFC 4120 §7.2.1-2)."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def choose_port(wanted: int, taken: set[int], say: Callable[[str], None]) -> int:
    """``wanted`` if free (0: any free port), else the next free one, reported with ``say``."""
    if wanted == 0:
        while True:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
            if port not in taken:
                return port
    port = wanted
    while port in taken or not port_free(port):
        port += 1
        if port > 65535:
            raise ConfigError(f"no free port on 127.0.0.1 from {wanted} up")
    if port != wanted:
        say(f"port {wanted} is in use; using {port} instead")
    return port


def start_process(
    paths: LabPaths, name: str, command: Sequence[str], port: int, env: Mapping[str, str]
) -> tuple[ProcInfo, subprocess.Popen[bytes]]:
    """Start ``command`` in a new session (its own process group), output to its log file."""
    paths.logs.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths.run.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(paths.log(name), "ab") as log:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=paths.root,
            start_new_session=True,
        )
    started = _start_time(process.pid) or ""
    info = ProcInfo(name, process.pid, port, started, list(command))
    paths.pidfile(name).write_text(
        json.dumps({"pid": info.pid, "port": port, "started": started, "command": info.command})
        + "\n"
    )
    return info, process


def wait_ready(
    info: ProcInfo,
    process: subprocess.Popen[bytes] | None,
    log: Path,
    timeout: float = 30.0,
    url: str | None = None,
    verify: ssl.SSLContext | bool = True,
) -> None:
    """Wait until ``GET /livez`` answers 200; a process that exits shows its log's tail.

    ``url`` (default ``info.url``) and ``verify`` are for a process that serves HTTPS.
    """
    base = url or info.url
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ConfigError(
                f"{info.name} exited at start (status {process.returncode}):\n"
                f"{_tail(log)}\nsee {log}"
            )
        try:
            if httpx.get(f"{base}/livez", timeout=1.0, verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise ConfigError(f"{info.name} did not answer on {base} within {timeout:.0f} s; see {log}")


def _tail(log: Path, lines: int = 8) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in text[-lines:])


def stop_process(paths: LabPaths, name: str, timeout: float = 10.0) -> str | None:
    """Stop ``name`` (SIGTERM to its group, SIGKILL if it lingers) and remove its pid file.

    Returns what happened, for the user: None if there was no pid file at all.
    """
    return stop_processes(paths, [name], timeout)[0]


def stop_processes(
    paths: LabPaths, names: Sequence[str], timeout: float = 10.0
) -> list[str | None]:
    """Stop several processes at once (each one's group gets SIGTERM, then waits together)."""
    notes: list[str | None] = []
    alive: list[ProcInfo] = []
    for name in names:
        info = read_proc(paths, name)
        pidfile = paths.pidfile(name)
        if info is None:
            notes.append(f"{name}: removed an unreadable pid file" if pidfile.exists() else None)
            pidfile.unlink(missing_ok=True)
        elif not running(info):
            pidfile.unlink(missing_ok=True)
            notes.append(f"{name}: removed a stale pid file (process {info.pid} was already gone)")
        else:
            _signal_group(info.pid, signal.SIGTERM)
            alive.append(info)
            notes.append(f"{name}: stopped (pid {info.pid})")
    deadline = time.monotonic() + timeout
    while any(running(i) for i in alive) and time.monotonic() < deadline:
        time.sleep(0.05)
    for info in alive:
        if running(info):
            _signal_group(info.pid, signal.SIGKILL)
            while running(info) and time.monotonic() < deadline + 5:
                time.sleep(0.05)
        paths.pidfile(info.name).unlink(missing_ok=True)
    return notes


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # started with start_new_session: its group id is its pid
    except ProcessLookupError:
        pass
    except PermissionError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def python_command(module: str, *args: str) -> list[str]:
    """``python -m module args`` with this interpreter (the venv's)."""
    return [sys.executable, "-m", module, *args]
