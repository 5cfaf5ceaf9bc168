"""`make demo` tells the whole story, exits 0 and leaves no process behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import clean_env

ROOT = Path(__file__).resolve().parents[2]


def test_demo_shows_every_step_and_stops_everything(tmp_path: Path) -> None:
    # The demo's scratch directory (and so every process it starts) is under tmp_path: the
    # check for leftovers below sees this demo's processes, not another run's.
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        capture_output=True,
        text=True,
        env=clean_env(COLUMNS="200", TMPDIR=str(tmp_path)),
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    for expected in (
        '"principal":"alice@EXAMPLE.TEST","groups":["admins"]',  # alice and what the service saw
        "KDC_ERR_POLICY",  # bob refused the admin page
        'WWW-Authenticate: Ticket realm="EXAMPLE.TEST"',  # no ticket: the challenge
        "HTTP 401 KRB_AP_ERR_REPEAT",  # the replay
        "HTTP 401 KRB_AP_ERR_MODIFIED",  # the tampered ticket
        "the service proved its identity",  # mutual authentication
        "KRB_AP_ERR_MUT_FAIL",  # the impostor
        "Default principal: alice@EXAMPLE.TEST",  # klist
        "every process stopped",
    ):
        assert expected in out, expected
    leftover = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "orthrus-demo-")], capture_output=True, text=True
    )
    assert leftover.stdout.strip() == ""
