"""One lab realm for the lab tests, started with the real ``orthrus-lab up`` and shared.

Exercises are played through the client library in-process (as ``orthrus`` does, without a
second's start-up per command) against the lab's real KDC and services; a few steps go
through the real command lines, as the docs show them. Each exercise is graded only on the
evidence since it started (``since``), so the tests share the realm without sharing credit.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lab_support import Student, orthrus_lab

from labs.lab import Lab
from labs.state import LabPaths


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A lab realm, up on free ports, for the whole session."""
    root = tmp_path_factory.mktemp("lab") / "lab"
    result = orthrus_lab("up", "--dir", str(root), "--port-base", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    yield Lab.open(LabPaths.of(root))
    orthrus_lab("down", "--dir", str(root))


@pytest.fixture
def alice(lab: Lab) -> Student:
    return Student(lab, "alice")


@pytest.fixture
def bob(lab: Lab) -> Student:
    return Student(lab, "bob")
