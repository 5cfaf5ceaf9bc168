#!/usr/bin/env python3
"""The figures of ``make fuzz`` (scripts/fuzz.sh): a results file, and docs/security.md's
section written from it.

    python scripts/fuzz_report.py record WORKDIR --seconds N --examples N   # end of fuzz.sh
    python scripts/fuzz_report.py render                                    # the page again

``record`` reads what the run left in its scratch directory — schemathesis's output per
server (``st-kdc.out``, ``st-demo.out``), the fuzzer's tallies (``http.json``,
``inproc.json``), the bit flips (``bitflips.json``) and the hypothesis run
(``hypothesis.out``) — and writes ``scripts/results/fuzz-latest.json`` with the date, the
machine and the versions; both commands then write the section between ``<!--
fuzz:begin -->`` and ``<!-- fuzz:end -->`` of docs/security.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from doc_sections import replace_section

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "scripts" / "results" / "fuzz-latest.json"
PAGE = ROOT / "docs" / "security.md"
KEY_LIBRARIES = (
    "msgspec",
    "flask",
    "werkzeug",
    "httptools",
    "gunicorn",
    "schemathesis",
    "hypothesis",
)


def _schemathesis(output: str) -> dict[str, int | None]:
    """Test cases generated and failed, from the summary schemathesis prints."""
    generated = re.search(r"^\s*(\d+) generated", output, re.MULTILINE)
    failed = re.search(r"(\d+) failed", output)
    return {
        "cases": int(generated[1]) if generated else None,
        "failed": int(failed[1]) if failed else 0,
    }


def _fuzzer(path: Path) -> dict[str, Any]:
    """Inputs per endpoint, 5xx answers and uncaught exceptions, from fuzz_http.py --json."""
    tallies = json.loads(path.read_text())
    logged = tallies.pop("_exceptions_logged", {}).get("count", 0)
    return {
        "inputs": {name: t["inputs"] for name, t in tallies.items()},
        "server_errors": sum(t["server_errors"] for t in tallies.values()),
        "exceptions": logged + sum(t["exceptions"] for t in tallies.values()),
    }


def record(work: Path, seconds: float, examples: int) -> dict[str, Any]:
    """The results of the run whose files are in ``work``."""
    flips = json.loads((work / "bitflips.json").read_text()).values()
    hypothesis = (work / "hypothesis.out").read_text()
    passed, failed = re.search(r"(\d+) passed", hypothesis), re.search(r"(\d+) failed", hypothesis)
    return {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "machine": {"arch": platform.machine(), "cpus": os.cpu_count()},
        "python": platform.python_version(),
        "versions": {name: metadata.version(name) for name in KEY_LIBRARIES},
        "minutes": round(seconds / 60),
        "schemathesis": {
            "examples": examples,
            "KDC": _schemathesis((work / "st-kdc.out").read_text()),
            "service_demo": _schemathesis((work / "st-demo.out").read_text()),
        },
        "http": _fuzzer(work / "http.json"),
        "inproc": _fuzzer(work / "inproc.json"),
        "hypothesis": {
            "tests": int(passed[1]) if passed else 0,
            "failed": int(failed[1]) if failed else 0,
            "flips": sum(n for n, _ in flips),
            "accepted": sum(a for _, a in flips),
        },
    }


def _inputs(step: dict[str, Any]) -> str:
    counts = step["inputs"].values()
    low, high = min(counts), max(counts)
    each = f"{high:,}" if low == high else f"{low:,}-{high:,}"
    return f"{each} per endpoint, {sum(counts):,}"


def render(results: dict[str, Any]) -> str:
    """The section: when, where, with what, and the table of the four steps."""
    machine, st, versions = results["machine"], results["schemathesis"], results["versions"]
    libraries = ", ".join(f"{n} {v}" for n, v in versions.items())
    with_what = f"Python {results['python']}, {libraries or 'library versions not recorded'}"
    endpoints = ", ".join(f"`{name}`" for name in results["inproc"]["inputs"])
    cases = " + ".join(f"{st[s]['cases']:,} ({s})" for s in ("KDC", "service_demo"))
    st_failed = st["KDC"]["failed"] + st["service_demo"]["failed"]
    hyp = results["hypothesis"]
    lines = [
        f"Last run of `make fuzz` ({results['date']}, {machine['arch']}, {machine['cpus']} "
        f"cores, {with_what}; {results['minutes']} min):",
        "",
        "| step | inputs | 5xx | uncaught exceptions |",
        "|---|---|---|---|",
        f"| schemathesis, {st['examples']} examples per operation | {cases} | {st_failed} | — |",
        *(
            f"| mutational fuzzer {how} | {_inputs(results[key])} "
            f"| {results[key]['server_errors']} | {results[key]['exceptions']} |"
            for key, how in (
                ("http", "over HTTP to the KDC and service_demo servers"),
                ("inproc", f"in-process: {endpoints}"),
            )
        ),
        f"| hypothesis (long profile) and bit flips | {hyp['tests']} tests; "
        f"{hyp['flips']:,} flips, {hyp['accepted']} accepted | — | {hyp['failed']} |",
    ]
    if results.get("note"):
        lines += ["", results["note"]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="results from a run's scratch directory")
    rec.add_argument("work", type=Path)
    rec.add_argument("--seconds", type=float, required=True)
    rec.add_argument("--examples", type=int, required=True)
    sub.add_parser("render", help="docs/security.md's section from the results file")
    args = parser.parse_args()
    if args.command == "record":
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(record(args.work, args.seconds, args.examples), indent=1))
    replace_section(PAGE, "fuzz", render(json.loads(RESULTS.read_text())))
    print(f"fuzz figures: {RESULTS.relative_to(ROOT)} -> {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
