"""kill -9 in the middle of a stream of addprinc/cpw loses nothing acknowledged and leaves no
half-written principal (20 cycles here; scripts/durability.py --cycles 100 for the long run)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_durability():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("durability", ROOT / "scripts" / "durability.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_twenty_kill_nine_cycles_lose_nothing(tmp_path: Path) -> None:
    durability = load_durability()
    checked = durability.run_cycles(20, tmp_path / "kdc", seed=20)
    assert checked >= 20  # the writer got well into its stream each time


def test_verify_catches_a_lost_acknowledgement(tmp_path: Path) -> None:
    """The checker itself fails when an acknowledged principal is missing."""
    durability = load_durability()
    durability.run_cycles(1, tmp_path / "kdc", seed=1)
    try:
        durability.verify(tmp_path / "kdc", {f"ghost@{durability.REALM}": 1}, set())
    except AssertionError as exc:
        assert "was lost" in str(exc)
    else:
        raise AssertionError("a missing acknowledged principal went unnoticed")
