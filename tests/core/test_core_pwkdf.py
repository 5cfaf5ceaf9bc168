"""Password keys (orthrus/pwkdf.py): the salt bound to the principal, the client's policy."""

from __future__ import annotations

import pytest

from orthrus.errors import KDCError
from orthrus.principal import Principal
from orthrus.pwkdf import (
    SALT_BYTES,
    KDFParams,
    KDFPolicy,
    check_params,
    is_legacy_salt,
    salt_for,
)

RANDOM_PART = bytes(range(SALT_BYTES))


def test_salt_is_realm_and_name_then_the_kdc_part() -> None:
    alice = Principal.parse("alice/admin@EX.TEST")
    assert salt_for(alice, RANDOM_PART) == b"EX.TEST\0alice\0admin\0" + RANDOM_PART


def test_salts_of_different_principals_never_coincide() -> None:
    """RFC 3962's plain concatenation would give EX.TESTA + lice == EX.TEST + Alice."""
    names = ("Alice@EX.TEST", "lice@EX.TESTA", "alice/admin@EX.TEST", "alice@EX.TEST")
    salts = {salt_for(Principal.parse(n), RANDOM_PART) for n in names}
    assert len(salts) == len(names)


def test_default_policy_accepts_the_default_and_the_kdc_range() -> None:
    policy = KDFPolicy()
    check_params(KDFParams(RANDOM_PART), policy)
    check_params(KDFParams(RANDOM_PART, "argon2id", 8, 256 * 1024, 1), policy)


@pytest.mark.parametrize(
    ("costs", "words"),
    [
        ((2, 65536, 4), "iterations = 2, below this client's floor (min_iterations = 3)"),
        ((3, 65535, 4), "memory_kib = 65535, below this client's floor (min_memory_kib = 65536)"),
        ((9, 65536, 4), "iterations = 9, above this client's ceiling (max_iterations = 8)"),
        (
            (3, 262145, 4),
            "memory_kib = 262145, above this client's ceiling (max_memory_kib = 262144)",
        ),
        ((3, 65536, 9), "lanes = 9, above this client's ceiling (max_lanes = 8)"),
    ],
)
def test_costs_outside_the_policy_are_etype_nosupp(costs: tuple[int, int, int], words: str) -> None:
    params = KDFParams(RANDOM_PART, "argon2id", *costs)
    with pytest.raises(KDCError) as caught:
        check_params(params, KDFPolicy())
    assert caught.value.name == "KDC_ERR_ETYPE_NOSUPP"
    assert words in caught.value.message
    assert "KDC spoofing" in caught.value.message


def test_a_raised_floor_and_a_lowered_ceiling_hold() -> None:
    policy = KDFPolicy(min_iterations=4, min_memory_kib=128 * 1024, max_iterations=4)
    for costs in ((3, 128 * 1024, 1), (4, 64 * 1024, 1), (5, 128 * 1024, 1)):
        with pytest.raises(KDCError):
            check_params(KDFParams(RANDOM_PART, "argon2id", *costs), policy)
    check_params(KDFParams(RANDOM_PART, "argon2id", 4, 128 * 1024, 1), policy)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"min_iterations": 1}, "min_iterations = 1 would lower the floor"),
        ({"min_memory_kib": 1024}, "min_memory_kib = 1024 would lower the floor"),
        ({"max_iterations": 2}, "max_iterations = 2 must be between 3 and 16"),
        ({"max_memory_kib": 2 * 1024 * 1024}, "max_memory_kib = 2097152 must be between"),
        ({"max_lanes": 0}, "max_lanes = 0 must be between 1 and 16"),
    ],
)
def test_a_policy_that_lowers_the_floor_or_breaks_bounds_is_refused(
    fields: dict[str, int], words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        KDFPolicy(**fields)


def test_legacy_salts_are_the_old_length() -> None:
    assert is_legacy_salt(bytes(16))
    assert not is_legacy_salt(RANDOM_PART)
