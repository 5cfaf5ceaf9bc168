#!/usr/bin/env python3
"""Compare the packages installed beside this interpreter with the locks.

The locks (``requirements/bootstrap.lock``, ``requirements/dev.lock``, written by ``make
lock`` with uv) pin every package with its hashes. ``make install`` installs them, then the
project without its dependencies, so nothing else would notice a lock that no longer
satisfies ``pyproject.toml`` (a range changed without ``make lock``) or a venv that drifted.

    .venv/bin/python scripts/lockdiff.py --check          # make install: exit 1 unless exact
    var/latest-venv/bin/python scripts/lockdiff.py        # make test-latest: what moved
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = (ROOT / "requirements" / "bootstrap.lock", ROOT / "requirements" / "dev.lock")
PROJECT = "orthrus"
#: ``name==version`` at the start of a line; the lines after it are its hashes and comments.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def locked() -> dict[str, str]:
    """Every package the locks pin, by normalized name (PEP 503)."""
    return {canonicalize_name(n): v for lock in LOCKS for n, v in PIN.findall(lock.read_text())}


def installed() -> dict[str, str]:
    """Every distribution this interpreter sees, by normalized name."""
    return {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}


def moved(want: dict[str, str], have: dict[str, str]) -> list[str]:
    """One line per package whose version differs (``-`` for absent), the project left out."""
    names = sorted((want.keys() | have.keys()) - {PROJECT})
    pairs = ((n, want.get(n, "-"), have.get(n, "-")) for n in names)
    return [f"{n}: {a} -> {b}" for n, a, b in pairs if a != b]


def unmet(have: dict[str, str]) -> list[str]:
    """The project's requirements, its dev extra included, that the installed versions miss."""
    out = []
    for text in metadata.requires(PROJECT) or []:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": "dev"}):
            continue
        version = have.get(canonicalize_name(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            out.append(f"{req} (installed: {version or 'none'})")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 unless exactly the locks")
    args = parser.parse_args()
    have = installed()
    diff, missing = moved(locked(), have), unmet(have)
    for line in diff:
        print(f"  {line}")
    for line in missing:
        print(f"  pyproject.toml requires {line}: run `make lock`")
    if not diff:
        print(f"lockdiff: {sys.prefix} holds exactly the versions of the locks")
    return 1 if args.check and (diff or missing) else 0


if __name__ == "__main__":
    sys.exit(main())
