"""Durability under kill -9: a stream of addprinc/cpw is killed at random moments; after
each kill, everything that was acknowledged must be there and usable, and no principal may
be half-written (a row without its current key, a key that does not unwrap).

    .venv/bin/python scripts/durability.py --cycles 100 [--dir DIR]

The writer is a separate process using the same store code as ``orthrus-kdc addprinc`` and
``cpw``; it prints ``ACK name kvno`` only after the transaction committed. Each writer is
forked from one process that imported the store once (a cycle costs a fork, not a Python
start and its imports). tests/ops runs 20 cycles of this inside ``make test``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REALM = "DURABLE.TEST"


def password(name: str, kvno: int) -> str:
    return f"pw-{name}-{kvno}-durable"


def writer(directory: Path) -> None:
    """Add principals and change their keys forever, acknowledging each commit. One change
    in three sets a password (an Argon2id derivation, ~0.2 s of CPU), the others a random
    key: the same transactions, and more of them for a kill to land in."""
    from kdc.config import load_settings
    from kdc.store import NewPrincipal, Store
    from orthrus.principal import Principal

    print(f"PID {os.getpid()}", flush=True)
    store = Store.open(load_settings(directory))
    rng = random.Random(os.getpid())
    known: list[Principal] = []
    while True:
        if not known or rng.random() < 0.6:
            principal = Principal((f"u{os.getpid()}x{len(known)}",), REALM)
            kvno = 1
            chosen = password(str(principal), kvno) if rng.random() < 1 / 3 else None
            store.add_principal(NewPrincipal(principal, chosen, groups=("g",)))
            known.append(principal)
        else:
            principal = rng.choice(known)
            kvno = store.lookup(principal).kvno + 1  # type: ignore[union-attr]
            chosen = password(str(principal), kvno) if rng.random() < 1 / 3 else None
            store.change_key(principal, chosen)
        print(f"ACK {principal} {kvno}", flush=True)


def zygote(directory: Path) -> None:
    """For each line read, fork a :func:`writer` (it shares this stdout) and say ``DONE``
    once it is dead; the store's modules are imported here, before any fork."""
    import kdc.store  # noqa: F401 - once, for every writer

    for _ in sys.stdin:
        pid = os.fork()
        if pid == 0:
            try:
                writer(directory)
            finally:
                os._exit(1)
        os.waitpid(pid, 0)
        print("DONE", flush=True)


def verify(directory: Path, acked: dict[str, int], fresh: set[str]) -> None:
    """Every acknowledged change present; every principal whole (its current key unwraps
    under the master key); the ``fresh`` ones (this cycle's) whose newest key is a password's
    also log in with that password."""
    from kdc.config import load_settings
    from kdc.store import Store
    from orthrus.principal import Principal
    from orthrus.pwkdf import string_to_key

    store = Store.open(load_settings(directory))
    for name in store.list_names():
        entry = store.lookup(Principal.parse(name))
        assert entry is not None and entry.kvno in entry.keys, f"{name} is half-written"
    for name, kvno in acked.items():
        entry = store.lookup(Principal.parse(name))
        assert entry is not None, f"acknowledged {name} was lost"
        assert entry.kvno >= kvno, f"acknowledged kvno {kvno} of {name} was lost"
        if name in fresh and entry.kvno == kvno and entry.kdf is not None:
            key = string_to_key(password(name, kvno), entry.principal, entry.kdf, kvno)
            assert key == entry.current_key, f"the key of {name} kvno {kvno} is not its password's"


def _collect(stream: IO[str], lines: list[str], started: threading.Event) -> None:
    """One writer's lines, up to the zygote's ``DONE``; ``started`` once it acknowledged one."""
    for line in stream:
        if line == "DONE\n":
            return
        lines.append(line)
        if line.startswith("ACK"):
            started.set()


def run_cycles(cycles: int, directory: Path, seed: int = 1) -> int:
    """Run ``cycles`` kill -9 cycles; return the number of acknowledged changes checked."""
    rng = random.Random(seed)
    if not (directory / "kdc.toml").exists():
        subprocess.run(
            [sys.executable, "-m", "kdc.cli", "--dir", str(directory), "init", "--realm", REALM],
            check=True, capture_output=True, cwd=ROOT,
        )  # fmt: skip
        config = directory / "kdc.toml"
        config.write_text(
            config.read_text().replace("password_history = 3", "password_history = 0")
        )
    acked: dict[str, int] = {}
    with subprocess.Popen(
        [sys.executable, __file__, "zygote", str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    ) as forker:
        assert forker.stdin is not None and forker.stdout is not None
        for _ in range(cycles):
            lines: list[str] = []
            started = threading.Event()
            reader = threading.Thread(target=_collect, args=(forker.stdout, lines, started))
            reader.start()
            forker.stdin.write("fork\n")
            forker.stdin.flush()
            # Once the writer has started writing, kill it somewhere in the stream.
            assert started.wait(120), f"the writer acknowledged nothing: {lines}"
            time.sleep(rng.uniform(0.0, 0.25))
            os.kill(int(lines[0].split()[1]), signal.SIGKILL)
            reader.join()
            fresh: set[str] = set()
            for line in lines:
                parts = line.split()
                if len(parts) == 3 and parts[0] == "ACK":
                    acked[parts[1]] = max(acked.get(parts[1], 0), int(parts[2]))
                    fresh.add(parts[1])
            verify(directory, acked, fresh)
        forker.stdin.close()
    return len(acked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "zygote"])
    parser.add_argument("directory", nargs="?", type=Path)
    parser.add_argument("--cycles", type=int, default=100)
    args = parser.parse_args()
    if args.mode == "zygote":
        zygote(args.directory)
        return
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.directory or Path(scratch) / "kdc"
        started = time.monotonic()
        checked = run_cycles(args.cycles, directory)
        print(
            f"{args.cycles} kill -9 cycles, {checked} acknowledged principals checked, "
            f"nothing lost, nothing half-written ({time.monotonic() - started:.1f} s)"
        )


if __name__ == "__main__":
    main()
