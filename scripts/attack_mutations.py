#!/usr/bin/env python3
"""Check that each attack test of tests/test_attacks.py fails when its defence is removed.

For every entry of :data:`MUTATIONS` (an attack test and the source change that switches its
defence off) the tree is copied to a scratch directory, the change is made there, and the
test is run against the copy (``PYTHONPATH`` puts it first); the test must fail. The work
tree is never touched. Prints one line per mutation and exits non-zero if a test survived
its mutation or a mutation no longer applies (the source moved: update the entry).

    .venv/bin/python scripts/attack_mutations.py            # all
    .venv/bin/python scripts/attack_mutations.py replay     # those whose test matches
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORE = shutil.ignore_patterns(".venv", ".git", "var", "__pycache__", ".*_cache", "*.egg-info")


@dataclass(frozen=True)
class Mutation:
    """Replace ``old`` by ``new`` in ``path``: ``test`` must then fail."""

    test: str
    path: str
    old: str
    new: str


MUTATIONS: list[Mutation] = [
    Mutation(
        "test_invalid_utf8_in_a_string_is_generic_error_not_500",
        "orthrus/codec.py",
        "    except UnicodeDecodeError:",
        "    except ZeroDivisionError:",
    ),
    Mutation(
        "test_as_req_body_changed_in_transit_is_noticed_by_the_client",
        "orthrus/kdcrep.py",
        "if expect.checksum is not None and (",
        "if False and (",
    ),
    Mutation(
        "test_ticket_swapped_in_a_kdc_reply_is_noticed_by_the_client",
        "orthrus/kdcrep.py",
        "if expect.checksum is not None and (",
        "if False and (",
    ),
    Mutation(
        "test_slowloris_slow_headers_and_bodies_cannot_hold_the_kdc",
        "kdc/server.py",
        '"worker_class": "orthrus_io.deadlines.DeadlineThreadWorker",',
        '"worker_class": "gthread",',
    ),
]


def run(mutation: Mutation, python: str) -> tuple[str, str]:
    """(verdict, detail): ``killed`` when the test failed, as it must."""
    with tempfile.TemporaryDirectory(prefix="orthrus-mut-") as scratch:
        tree = Path(scratch) / "tree"
        shutil.copytree(ROOT, tree, ignore=IGNORE, symlinks=True)
        target = tree / mutation.path
        source = target.read_text()
        if source.count(mutation.old) != 1:
            return "stale", f"{mutation.path}: the text to change is not there exactly once"
        target.write_text(source.replace(mutation.old, mutation.new))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORTHRUS_")}
        env.update(PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
        for name in ("ORTHRUS_TEST_REDIS_URL", "ORTHRUS_TEST_PG_URL"):
            if name in os.environ:
                env[name] = os.environ[name]
        result = subprocess.run(
            [
                python,
                "-m",
                "pytest",
                "-q",
                "-x",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                f"tests/test_attacks.py::{mutation.test}",
            ],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        last = (result.stdout.strip().splitlines() or [""])[-1]
        if result.returncode == 1:
            return "killed", last
        return "SURVIVED" if result.returncode == 0 else "error", last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pattern", nargs="?", default="", help="only tests whose name has this")
    args = parser.parse_args()
    python = str(ROOT / ".venv" / "bin" / "python")
    if not Path(python).exists():
        python = sys.executable
    chosen = [m for m in MUTATIONS if args.pattern in m.test]
    bad = 0
    for mutation in chosen:
        verdict, detail = run(mutation, python)
        bad += verdict != "killed"
        print(f"{verdict:8} {mutation.test}  [{mutation.path}]  {detail}", flush=True)
    print(f"{len(chosen) - bad} of {len(chosen)} mutations killed by their test")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
