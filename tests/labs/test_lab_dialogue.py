"""The Dialogue track's switches (docs/labs/dialogue.md) on the lab's legacy service: each
attack refused with the defence on, accepted with it off, and the switch in the trace.
Run in file order on one lab (make test's ``--dist loadscope`` keeps a file on one worker):
the last test grades exercise 20 on what the others did."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from lab_support import Student, check, lab_cli, last, missing

from labs import attacks
from labs.lab import Lab

pytestmark = pytest.mark.timeout(120)

LEGACY = "HTTP/legacy"
#: When this file's tests started: exercise 20 is graded on what they did since.
STARTED = time.time()


@contextmanager
def switched_off(lab: Lab, switch: str) -> Iterator[None]:
    """Legacy with ``switch`` off (restarted), then on again whatever happens."""
    assert lab_cli(lab, "switch", "legacy", switch, "off").exit_code == 0
    try:
        yield
    finally:
        assert lab_cli(lab, "switch", "legacy", switch, "on").exit_code == 0


def captured(lab: Lab, alice: Student) -> int:
    """The id of a fresh AP exchange of alice's with legacy, accepted, in the trace."""
    alice.kinit()
    assert alice.fetch("legacy", service=LEGACY).status_code == 200
    return last(lab, component="legacy", ok=True).id


def test_exercise_20_is_not_done_before_its_steps(lab: Lab) -> None:
    assert len(missing(check(lab, 20, time.time()))) == 6


@pytest.mark.parametrize(
    ("switch", "authenticator"), [("authenticator", "own-key"), ("session-key", "clear")]
)
def test_a_captured_ticket_with_a_forged_authenticator(
    lab: Lab, alice: Student, switch: str, authenticator: str
) -> None:
    before, _ = attacks.reuse_ticket(lab, captured(lab, alice), authenticator)
    assert (before.status, before.error) == (401, "KRB_AP_ERR_MODIFIED")
    with switched_off(lab, switch):
        after, _ = attacks.reuse_ticket(lab, captured(lab, alice), authenticator)
        assert after.status == 200 and "alice@" in after.body
        shown = last(lab, component="legacy", ok=True)
        assert shown.labels[switch.replace("-", "_")] == "off"


def test_an_authenticator_out_of_the_skew(lab: Lab, alice: Student) -> None:
    """Made for an hour from now (as one captured an hour ago is an hour old): SKEW, unless
    its time is not checked. The ticket for legacy is already in alice's cache."""
    captured(lab, alice)
    early = alice.fetch("legacy", service=LEGACY, offset=3600)
    assert early.status_code == 401 and early.json()["error"]["name"] == "KRB_AP_ERR_SKEW"
    with switched_off(lab, "timestamp"):
        assert alice.fetch("legacy", service=LEGACY, offset=3600).status_code == 200
        assert last(lab, component="legacy", ok=True).labels["timestamp"] == "off"


def test_notes_has_no_dialogue_switches(lab: Lab) -> None:
    refused = lab_cli(lab, "switch", "notes", "authenticator", "off")
    assert refused.exit_code != 0 and "notes has the switches" in refused.output


def test_exercise_20_is_graded_from_legacys_trace(lab: Lab) -> None:
    """After the tests above (file order): every step of exercise 20 has its evidence."""
    assert missing(check(lab, 20, STARTED)) == []
    assert check(lab, 20, STARTED).passed
