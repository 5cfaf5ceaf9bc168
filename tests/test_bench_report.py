"""``make bench`` goes on when one cell fails (issue 13 §4): the cell is recorded as
``{"error": reason}`` and every table shows it as "failed: reason", beside the cells that ran;
readiness is an HTTP answer, not an open port."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import failed, measured, wait_ready
from bench.report import render_page, render_table, targets
from bench.verify import render_ap, render_service

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "bench" / "results" / "kdc-20261127T103813Z.json"


def results_with_failures() -> dict[str, object]:
    """A recorded run in which the first TGS cell, one AP cell and service_demo failed."""
    results = json.loads(RUN.read_text())
    refused = ConnectionRefusedError(111, "Connection refused")
    for row in results["kdc"]:
        if (row["load"], row["clients"]) == ("tgs", 1):
            row["orthrus"] = row["mit"] = measured("tgs", _raise(refused), lambda e: e)
    results["ap"][1]["orthrus"] = failed(RuntimeError("a replayed AP-REQ was not refused"))
    results["service"] = failed(refused)
    results["targets"] = targets(results)
    return results


def _raise(exc: Exception):  # type: ignore[no-untyped-def]
    def measure() -> None:
        raise exc

    return measure


def test_a_failed_cell_is_shown_failed_and_the_others_still_are() -> None:
    results = results_with_failures()
    table = render_table(results)
    reason = "failed: ConnectionRefusedError: [Errno 111] Connection refused"
    assert f"| TGS | 1 | {reason} | {reason} | — | — | — | — | — | — |" in table
    assert "| TGS | 2 | 2,760 [2,736-3,107] |" in table  # the next cell ran and is shown
    assert f"[not measured] TGS requests/s ≥ 1.0x MIT: {reason}" in table
    ap = render_ap(results)
    assert "| 2 | failed: RuntimeError: a replayed AP-REQ was not refused |" in ap
    assert render_service(results) == f"\nservice_demo under gunicorn: {reason}"
    page = render_page(results, RUN)
    assert f"| TGS | 1 | {reason} |" in page and reason in page.split("| target |")[-1]


def test_readiness_waits_for_an_http_answer(tmp_path: Path) -> None:
    """A port that accepts connections but does not answer HTTP yet is not ready."""
    from bench.common import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        (tmp_path / "livez").write_text("ok")
        wait_ready(port, server, "/livez", timeout=30)
        with pytest.raises(RuntimeError, match="not ready after"):
            wait_ready(port, server, "/missing", timeout=0.3)
    finally:
        server.terminate()
        server.wait(timeout=10)
    with pytest.raises(RuntimeError, match="exited with status"):
        wait_ready(port, server, "/livez", timeout=5)


def test_a_failed_client_is_named_with_its_last_error() -> None:
    """A load generator's traceback: the line that names it and the exception, not the middle."""
    exc = RuntimeError(
        'client exited 1: Traceback (most recent call last):\n  File "bench/loadgen.py", '
        "line 249, in main\nConnectionRefusedError: [Errno 111] Connection refused\n"
    )
    assert failed(exc) == {
        "error": "RuntimeError: client exited 1: Traceback (most recent call last): … "
        "ConnectionRefusedError: [Errno 111] Connection refused"
    }


def _cell(rate: float) -> dict[str, object]:
    """A measured cell of one run at ``rate`` per second."""
    return {
        "ops_per_s": {"median": rate, "min": rate, "max": rate, "runs": [rate]},
        "p50_us": 200.0,
        "p99_us": 900.0,
        "errors": 0,
        "runs": [],
    }


def _with_rows(negotiate: dict[str, object], backends: dict[str, object]) -> dict[str, object]:
    results = json.loads(RUN.read_text())
    results["negotiate"], results["backends"] = negotiate, backends
    results["targets"] = targets(results)
    return results


def test_the_negotiate_and_backend_rows_are_printed_with_their_ratios_and_targets() -> None:
    backends = {
        "sqlite": {"as": _cell(1000), "tgs": _cell(800)},
        "postgresql": {"as": _cell(1200), "tgs": _cell(400)},
        "workers": 2,
        "clients": 4,
        "principals": 200,
    }
    results = _with_rows({"orthrus": _cell(4500), "mit": _cell(4000)}, backends)
    table = render_table(results)
    assert "| 4,500 [4,500-4,500] | 200 / 900 | 4,000 [4,000-4,000] | 200 / 900 | 1.12x |" in table
    assert "| AS pre-auth | 1,000 [1,000-1,000] | 1,200 [1,200-1,200] | 1.20x |" in table
    assert "| TGS | 800 [800-800] | 400 [400-400] | 0.50x |" in table
    assert "[met] Negotiate verifications/s ≥ 1.0x MIT gss_accept_sec_context: 1.12x" in table
    assert "[met] PostgreSQL-backed AS pre-auth ≥ 0.8x SQLite-backed: 1.20x" in table
    assert "[MISSED] PostgreSQL-backed TGS ≥ 0.8x SQLite-backed: 0.50x" in table
    page = render_page(results, RUN)
    assert "| TGS | 800 [800-800] | 400 [400-400] | 0.50x |" in page
    assert "| PostgreSQL-backed TGS ≥ 0.8x SQLite-backed | 4 | 0.50x | **MISSED** |" in page
    assert (
        "| Negotiate verifications/s ≥ 1.0x MIT gss_accept_sec_context | 1 | 1.12x | **met** |"
        in page
    )


def test_a_failed_negotiate_row_and_skipped_backends_say_why() -> None:
    error = RuntimeError("gssbench failed: no credentials")
    negotiate = measured("Negotiate", _raise(error), lambda e: e)
    skipped = {"skipped": "no PostgreSQL URL (set ORTHRUS_BENCH_PG_URL or ORTHRUS_TEST_PG_URL)"}
    results = _with_rows(negotiate, skipped)
    table = render_table(results)
    failure = "failed: RuntimeError: gssbench failed: no credentials"
    assert f"\nNegotiate in-process: {failure}" in table
    assert (
        f"[not measured] Negotiate verifications/s ≥ 1.0x MIT gss_accept_sec_context: {failure}"
        in table
    )
    assert f"Orthrus KDC on SQLite and on PostgreSQL: not run: {skipped['skipped']}" in table
    for what in ("AS pre-auth", "TGS"):
        assert (
            f"[not measured] PostgreSQL-backed {what} ≥ 0.8x SQLite-backed: not run: no PostgreSQL"
            in table
        )
    page = render_page(results, RUN)
    assert (
        f"| Negotiate verifications/s ≥ 1.0x MIT gss_accept_sec_context | 1 | {failure} "
        "| **not measured** |" in page
    )
    assert f"not run: {skipped['skipped']}" in page.split("| target |")[0]
    without_mit = _with_rows({"skipped": "MIT Kerberos not measured: --no-mit given"}, skipped)
    assert (
        "Negotiate in-process: not run: MIT Kerberos not measured: --no-mit given"
        in render_table(without_mit)
    )
