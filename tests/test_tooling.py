"""The tooling that keeps the project's claims true (issue 19): the lock check, the mutation
verdicts with a library's own check named, and the docs' sections written by the scripts
that measure their figures."""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def script(name: str) -> ModuleType:
    """A module of scripts/ (run as scripts there, so they import each other by bare name)."""
    if str(ROOT / "scripts") not in sys.path:
        sys.path.insert(0, str(ROOT / "scripts"))
    return importlib.import_module(name)


def test_a_section_is_replaced_between_its_markers_only(tmp_path: Path) -> None:
    replace_section = script("doc_sections").replace_section
    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- n:begin (note) -->\nold\nlines\n<!-- n:end -->\nrest\n")
    replace_section(page, "n", "new $1 \\1\n")
    assert page.read_text() == "intro\n<!-- n:begin (note) -->\nnew $1 \\1\n<!-- n:end -->\nrest\n"
    page.write_text("no markers\n")
    with pytest.raises(SystemExit, match="no single"):
        replace_section(page, "n", "x")


def test_every_mutation_applies_exactly_once_and_every_attack_test_has_one() -> None:
    mutations = script("attack_mutations")
    assert mutations.stale() == []
    attacks = (ROOT / "tests" / "test_attacks.py").read_text()
    tests = set(re.findall(r"^def (test_\w+)\(", attacks, re.M))
    assert tests - {m.test for m in mutations.MUTATIONS} == set()
    assert {m.test for m in mutations.MUTATIONS} - tests == set()


def test_a_survivor_is_covered_only_from_the_library_version_named() -> None:
    mutations = script("attack_mutations")
    plain = mutations.Mutation("test_x", "orthrus/codec.py", "a", "b")
    now = mutations.Mutation("test_x", "orthrus/codec.py", "a", "b", covered_by="msgspec 0.1")
    later = mutations.Mutation("test_x", "orthrus/codec.py", "a", "b", covered_by="msgspec 999")
    assert mutations.judge(plain, "SURVIVED") == ("SURVIVED", "")
    assert mutations.judge(now, "SURVIVED") == ("covered", "covered by msgspec 0.1")
    assert mutations.judge(later, "SURVIVED") == ("SURVIVED", "")
    verdict, note = mutations.judge(now, "killed")
    assert verdict == "killed" and "no longer covered by msgspec 0.1" in note
    assert mutations.judge(plain, "stale") == ("stale", "")


def test_every_covered_entry_names_an_installed_library_and_a_version() -> None:
    mutations = script("attack_mutations")
    covered = [m for m in mutations.MUTATIONS if m.covered_by]
    assert covered, "the UTF-8 entries are covered by msgspec 0.23.0"
    for mutation in covered:
        mutations.covered(mutation)  # raises for an unknown library or a bad version


def test_lockdiff_names_what_moved_and_what_pyproject_requires() -> None:
    lockdiff = script("lockdiff")
    want = {"msgspec": "0.22.0", "pip": "26.3", "orthrus": "0.1.0"}
    have = {"msgspec": "0.23.0", "uv": "0.13.9", "orthrus": "0.0.1"}
    assert lockdiff.moved(want, have) == [
        "msgspec: 0.22.0 -> 0.23.0",
        "pip: 26.3 -> -",
        "uv: - -> 0.13.9",
    ]
    assert lockdiff.unmet(lockdiff.installed()) == []
    missing = lockdiff.unmet({})
    assert any(line.startswith("msgspec>=") for line in missing)
    assert any(line.startswith("pytest>=") for line in missing), "the dev extra is checked"
    assert "msgspec" in lockdiff.locked() and "uv" in lockdiff.locked()


def test_fuzz_figures_come_from_the_run_files(tmp_path: Path) -> None:
    fuzz_report = script("fuzz_report")
    tally = {"inputs": 7, "server_errors": 0, "exceptions": 0, "statuses": {}, "errors": {}}
    (tmp_path / "st-kdc.out").write_text("Test cases:\n  12 generated, 12 passed\n")
    (tmp_path / "st-demo.out").write_text("Test cases:\n  30 generated, 29 passed, 1 failed\n")
    for name in ("http", "inproc"):
        report = {"KDC POST /v1/as": tally, "_exceptions_logged": {"count": 2}}
        (tmp_path / f"{name}.json").write_text(json.dumps(report))
    (tmp_path / "bitflips.json").write_text(json.dumps({"AS-REQ": [800, 0], "AP-REQ": [16, 1]}))
    (tmp_path / "hypothesis.out").write_text("bit flips ...\n40 passed in 9.1s\n")
    results = fuzz_report.record(tmp_path, seconds=120, examples=5)
    text = fuzz_report.render(results)
    assert "| schemathesis, 5 examples per operation | 12 (KDC) + 30 (service_demo) | 1 |" in text
    assert "| 7 per endpoint, 7 | 0 | 2 |" in text
    assert "40 tests; 816 flips, 1 accepted | — | 0 |" in text
    assert f"msgspec {results['versions']['msgspec']}" in text and "2 min" in text


def test_bench_figures_name_the_run_they_come_from() -> None:
    from bench.report import render_page

    results = ROOT / "bench" / "results"
    run = results / "kdc-20261127T103813Z.json"
    text = render_page(json.loads(run.read_text()), run)
    assert "2026-11-27 10:38 UTC" in text and "(`bench/results/kdc-20261127T103813Z.json`)" in text
    assert "| TGS | 1 | 1,800 [1,723-2,044] |" in text
    assert "| TGS requests/s ≥ 1.0x MIT | 1 | 0.50x with 1 client(s) | **MISSED** |" in text
    latest = results / "kdc-latest.json"
    text = render_page(json.loads(latest.read_text()), latest)
    assert re.search(r"\(`bench/results/kdc-\d{8}T\d{6}Z\.json`\)", text), "the run, not -latest"
