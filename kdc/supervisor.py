"""The ``serve`` process: forks the KDC's worker processes, respawns one that exits, and
stops them all on SIGTERM or SIGINT.

- **Respawn.** A worker that exits while the server runs is replaced. One that lived less
  than :data:`HEALTHY_LIFE` seconds — it crashed at start, say the database is unreachable
  or a file unreadable — is replaced after a back-off that doubles from
  :data:`FIRST_BACKOFF` up to :data:`MAX_BACKOFF` seconds, so that it cannot fork-storm;
  the server keeps trying (the cause may pass) and logs each exit with its delay. A worker
  that lived longer is replaced at once, and resets its slot's back-off.
- **Stop.** The first SIGTERM or SIGINT sends SIGTERM to every worker: each stops taking
  connections, finishes the requests it has (each within ``request_timeout``) and exits.
  A worker still there ``grace`` seconds later is killed. A second signal kills them all at
  once. The process then exits 0. The workers ignore SIGINT: a terminal's Ctrl-C reaches
  the whole process group, and only this process decides.
- ``on_exit(pid)`` is called for each worker that exited (Prometheus's multiprocess files),
  ``on_stop()`` on the first signal (the listening sockets closed: new clients are refused,
  not queued for workers that no longer accept).

Signals are taken with ``sigtimedwait`` (blocked, then waited for): nothing runs in a signal
handler, and a signal between two checks is not lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FIRST_BACKOFF", "HEALTHY_LIFE", "MAX_BACKOFF", "Supervisor"]

log = logging.getLogger("orthrus.kdc")

#: A worker that lived at least this long (seconds) was healthy: it is replaced at once.
HEALTHY_LIFE = 5.0
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
_SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}


@dataclass(slots=True)
class _Slot:
    pid: int = 0
    started: float = 0.0
    failures: int = 0
    #: When to fork again (``time.monotonic()``); 0: running, or now.
    respawn_at: float = 0.0


class Supervisor:
    """Runs ``count`` workers, each ``work()`` in a forked process (``work`` never returns:
    it ends with ``os._exit``)."""

    def __init__(
        self,
        count: int,
        work: Callable[[], None],
        on_exit: Callable[[int], None],
        on_stop: Callable[[], None],
        grace: float,
    ) -> None:
        self._slots = [_Slot() for _ in range(count)]
        self._work = work
        self._on_exit = on_exit
        self._on_stop = on_stop
        self._grace = grace
        self._stop_by = 0.0  # when stopping: the time by which workers are killed

    def run(self) -> None:
        """Serve until stopped."""
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        for slot in self._slots:
            self._spawn(slot)
        while True:
            received = signal.sigtimedwait(_SIGNALS, self._wait())
            if received is not None and received.si_signo != signal.SIGCHLD:
                self._signalled(signal.Signals(received.si_signo))
            self._reap()
            running = [slot for slot in self._slots if slot.pid]
            if self._stop_by:
                if not running:
                    log.info("all workers stopped")
                    return
                if time.monotonic() >= self._stop_by:
                    log.error("workers still running after %.0f s: killed", self._grace)
                    self._kill(running, signal.SIGKILL)
                    self._stop_by = time.monotonic() + 1.0  # until they are reaped
                continue
            now = time.monotonic()
            for slot in self._slots:
                if not slot.pid and slot.respawn_at <= now:
                    self._spawn(slot)

    def _wait(self) -> float:
        """How long to wait for a signal: until the next respawn or kill, at most 1 s."""
        if self._stop_by:
            due = self._stop_by
        else:
            due = min((s.respawn_at for s in self._slots if not s.pid), default=float("inf"))
        return min(1.0, max(0.0, due - time.monotonic()))

    def _signalled(self, signo: signal.Signals) -> None:
        running = [slot for slot in self._slots if slot.pid]
        if self._stop_by:
            log.info("%s again: stopping at once", signo.name)
            self._kill(running, signal.SIGKILL)
            return
        log.info("%s: stopping (requests in flight are finished)", signo.name)
        self._stop_by = time.monotonic() + self._grace
        self._kill(running, signal.SIGTERM)
        self._on_stop()

    @staticmethod
    def _kill(slots: list[_Slot], signo: signal.Signals) -> None:
        for slot in slots:
            with contextlib.suppress(ProcessLookupError):
                os.kill(slot.pid, signo)

    def _spawn(self, slot: _Slot) -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
            try:
                self._work()
            finally:
                os._exit(1)  # work() returned or raised: it ends with os._exit
        slot.pid, slot.started, slot.respawn_at = pid, time.monotonic(), 0.0
        log.info("worker %d started", pid)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._on_exit(pid)
            slot = next((s for s in self._slots if s.pid == pid), None)
            if slot is None:
                continue
            slot.pid = 0
            how = _how(status)
            if self._stop_by:
                log.info("worker %d %s", pid, how)
                continue
            lived = time.monotonic() - slot.started
            slot.failures = slot.failures + 1 if lived < HEALTHY_LIFE else 0
            delay = (
                min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (slot.failures - 1)) if slot.failures else 0
            )
            slot.respawn_at = time.monotonic() + delay
            log.error("worker %d %s after %.1f s; a new one in %.1f s", pid, how, lived, delay)


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
