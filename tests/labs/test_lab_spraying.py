"""Exercise 15, password spraying and user enumeration, played on a lab of its own (its KDC
switches lockout, hidden names and the rate limit, which the shared lab's other exercises
must not feel): ``check 15`` misses each step until it is done, and counts neither a
guessing run nor a spray of fewer than three names as a spray."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from lab_support import check, events, lab_cli, missing, orthrus_lab

from labs.lab import Lab
from labs.state import LabPaths

pytestmark = pytest.mark.timeout(300)

STEPS = [
    "list names: the KDC tells a name it does not have from one it has",
    "spray one password at many names: one failure each, nobody locked out, one in",
    "guess many passwords against one user: locked out",
    "turn lockout off: the guesses go on unrefused",
    "hide unknown names: a name nobody has answers as a real one",
    "turn the rate limit on: the spray is cut off (HTTP 429)",
]
GUESSES = ("123456", "password", "qwerty", "abc123", "monkey", "letmein")


@pytest.fixture(scope="module")
def spray_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("spray") / "lab"
    result = orthrus_lab("up", "--dir", str(root), "--port-base", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    yield Lab.open(LabPaths.of(root))
    orthrus_lab("down", "--dir", str(root))


def run(lab: Lab, *args: str) -> list[dict[str, Any]]:
    result = lab_cli(lab, *args, "--json")
    assert result.exit_code == 0, result.output
    answer: list[dict[str, Any]] = json.loads(result.stdout)
    return answer


def outcomes(attempts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(a["name"].split("@")[0], a["outcome"]) for a in attempts]


def switch(lab: Lab, name: str, state: str) -> None:
    result = lab_cli(lab, "switch", "kdc", name, state)
    assert result.exit_code == 0, result.output


def test_exercise_15_password_spraying(spray_lab: Lab) -> None:
    lab, since = spray_lab, time.time()
    assert missing(check(lab, 15, since)) == STEPS

    found = run(lab, "enumerate", "alice", "admin")
    assert outcomes(found) == [("alice", "exists"), ("admin", "unknown")]
    assert missing(check(lab, 15, since)) == STEPS[1:]

    guessed = run(lab, "spray", "bob", *(f"--password={p}" for p in GUESSES))
    assert outcomes(guessed) == [("bob", "wrong password")] * 5 + [("bob", "locked out")]
    assert missing(check(lab, 15, since)) == [STEPS[1], *STEPS[3:]]  # guessing is no spray

    two = run(lab, "spray", "-p", "password1", "alice", "erin")
    assert outcomes(two) == [("alice", "wrong password"), ("erin", "logged in")]
    assert STEPS[1] in missing(check(lab, 15, since))  # two names are not a spray
    sprayed = run(lab, "spray", "-p", "password1", "alice", "dave", "erin")
    assert outcomes(sprayed)[-1] == ("erin", "logged in")
    assert missing(check(lab, 15, since)) == STEPS[3:]

    switch(lab, "lockout", "off")
    unlocked = run(lab, "spray", "dave", *(f"--password={p}" for p in GUESSES))
    assert outcomes(unlocked) == [("dave", "wrong password")] * 6
    switch(lab, "lockout", "on")
    assert missing(check(lab, 15, since)) == STEPS[4:]

    switch(lab, "hide-unknown", "on")
    hidden = run(lab, "enumerate", "admin", "alice")
    assert outcomes(hidden) == [("admin", "exists"), ("alice", "exists")]
    decoy = run(lab, "spray", "-p", "password1", "admin")
    assert outcomes(decoy) == [("admin", "wrong password")]  # a decoy fails like a user
    switch(lab, "hide-unknown", "off")
    assert missing(check(lab, 15, since)) == STEPS[5:]

    switch(lab, "rate-limit", "on")
    limited = run(lab, "spray", "-p", "password1")
    assert outcomes(limited)[-1][1] == "rate limited"
    switch(lab, "rate-limit", "off")
    assert check(lab, 15, since).passed

    # Every KDC line says which defences were on; a refusal of the rate limit is a line too.
    refused = [e for e in events(lab, since) if e.extra.get("status") == 429]
    assert refused and refused[0].labels["rate_limit"] == "10/hour"
    assert refused[0].labels["rate_limit_exempt"] == ""
    assert {e.labels.get("lockout") for e in events(lab, since) if e.component == "kdc"} == {
        "5 failures in 600 s",
        "off",
    }


def test_kdc_switches_are_checked_by_component(spray_lab: Lab) -> None:
    wrong = lab_cli(spray_lab, "switch", "kdc", "replay-cache", "off")
    assert wrong.exit_code == 2 and "kdc has the switches lockout" in wrong.output
    wrong = lab_cli(spray_lab, "switch", "notes", "lockout", "off")
    assert wrong.exit_code == 2 and "notes has the switches replay-cache, authz" in wrong.output
    status = json.loads(lab_cli(spray_lab, "status", "--json").stdout)
    assert status["kdc_switches"] == {
        "lockout": "on",
        "hide-unknown": "off",
        "rate-limit": "off",
        "tgt-signature": "on",
    }
