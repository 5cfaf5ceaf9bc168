"""The short fuzz of ``make test`` (``scripts/fuzz.sh`` is the long one).

- the mutational fuzzer (``scripts/fuzz_http.py``) through the KDC's and service_demo's WSGI
  apps in-process: a few thousand inputs per endpoint, no 5xx, no uncaught exception;
- schemathesis against a real ``orthrus-kdc serve`` from its OpenAPI description
  (``GET /openapi.json``): no generated request gets a 5xx.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from support import BIN, Realm

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import fuzz_http  # noqa: E402


def test_short_mutational_fuzz_gets_no_5xx_and_no_exception(tmp_path: Path) -> None:
    counter = fuzz_http.ExceptionCounter()
    targets = fuzz_http.inproc_targets(tmp_path, counter)
    tallies = fuzz_http.run(targets, count=1000, deadline=float("inf"), seed=8)
    print({name: (t.inputs, t.server_errors, t.exceptions) for name, t in tallies.items()})
    assert all(t.inputs == 1000 for t in tallies.values())
    assert [
        (n, t.server_errors, t.exceptions)
        for n, t in tallies.items()
        if t.server_errors or t.exceptions
    ] == []
    assert counter.count == 0
    # The seeds are valid, so mutated inputs also reach the checks past decoding.
    deep = {"KDC_ERR_PREAUTH_FAILED", "KRB_AP_ERR_MODIFIED"}
    for name, tally in tallies.items():
        if name != "demo POST /notes (body)":  # the body is checked after the ticket
            assert deep & set(tally.errors), (name, tally.errors)


def test_openapi_descriptions_are_served_and_schemathesis_finds_no_5xx(
    realm: Realm, kdc_url: str
) -> None:
    document = httpx.get(f"{kdc_url}/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert {"/v1/as", "/v1/tgs", "/v1/kpasswd"} <= set(document["paths"])
    result = subprocess.run(
        [
            str(BIN / "st"),
            "run",
            f"{kdc_url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "15",
            "--seed",
            "8",
            "--request-timeout",
            "20",
            # Its body is one sealed KRB-PRIV message (application/orthrus-priv), which
            # schemathesis cannot make; its bad input is test_admin_bad_input_* (test_attacks).
            "--exclude-path",
            "/v1/admin/{operation}",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:]
