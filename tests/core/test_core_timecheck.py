"""Clock skew, ticket validity windows and the in-memory replay cache."""

from __future__ import annotations

import pytest
from core_realm import T0

from orthrus.errors import APError
from orthrus.replay import MemoryReplayCache
from orthrus.timecheck import DEFAULT_MAX_SKEW, check_skew, check_ticket_times, iso

SKEW = DEFAULT_MAX_SKEW


def test_default_skew_is_five_minutes() -> None:
    assert SKEW == 300


@pytest.mark.parametrize("offset", [0, 1, -1, 299.999, -299.999, 300, -300])
def test_skew_within_limit_is_accepted(offset: float) -> None:
    check_skew(T0 + offset, T0, SKEW, "KDC")


@pytest.mark.parametrize("offset", [301, -301, 300.001, -300.001, 86400, -86400])
def test_skew_beyond_limit_is_refused(offset: float) -> None:
    with pytest.raises(APError) as caught:
        check_skew(T0 + offset, T0, SKEW, "KDC")
    assert caught.value.name == "KRB_AP_ERR_SKEW"
    assert caught.value.code == 37


def test_skew_message_gives_both_clocks_and_the_difference() -> None:
    with pytest.raises(APError) as caught:
        check_skew(T0 + 301, T0, SKEW, "KDC")
    message = caught.value.message
    assert iso(T0 + 301) in message
    assert iso(T0) in message
    assert "301 s ahead of the KDC's" in message
    assert "300 s" in message
    assert caught.value.data == {
        "client_time": int(T0) + 301,
        "server_time": int(T0),
        "max_skew": 300,
    }
    with pytest.raises(APError, match="400 s behind the service's") as behind:
        check_skew(T0 - 400, T0, SKEW, "service")
    assert iso(T0 - 400) in behind.value.message


def test_skew_uses_the_limit_given() -> None:
    check_skew(T0 + 60, T0, 60, "KDC")
    with pytest.raises(APError):
        check_skew(T0 + 61, T0, 60, "KDC")


@pytest.mark.parametrize("client_time", [2**40 - 1, 2**40 + 12345.5, 253402300800])
def test_skew_message_for_absurd_clocks_does_not_crash(client_time: float) -> None:
    # A client clock thousands of years off is refused with a message, not a ValueError
    # from datetime (which would be a 500 at the KDC).
    with pytest.raises(APError) as caught:
        check_skew(client_time, T0, SKEW, "KDC")
    assert caught.value.name == "KRB_AP_ERR_SKEW"
    assert iso(T0) in caught.value.message


def test_iso() -> None:
    assert iso(T0) == "2025-06-15T15:06:40Z"
    assert iso(T0 + 0.9) == "2025-06-15T15:06:40Z"
    assert iso(0) == "1970-01-01T00:00:00Z"


START, END = int(T0), int(T0) + 3600


@pytest.mark.parametrize("now", [START - SKEW, START, END, END + SKEW])
def test_ticket_valid_inside_window_with_skew(now: float) -> None:
    check_ticket_times(START, END, now, SKEW)


@pytest.mark.parametrize("now", [START - SKEW - 1, START - SKEW - 0.001, START - 86400])
def test_ticket_not_yet_valid(now: float) -> None:
    with pytest.raises(APError) as caught:
        check_ticket_times(START, END, now, SKEW)
    assert caught.value.name == "KRB_AP_ERR_TKT_NYV"
    assert iso(START) in caught.value.message


@pytest.mark.parametrize("now", [END + SKEW + 1, END + SKEW + 0.001, END + 86400])
def test_ticket_expired(now: float) -> None:
    with pytest.raises(APError) as caught:
        check_ticket_times(START, END, now, SKEW)
    assert caught.value.name == "KRB_AP_ERR_TKT_EXPIRED"
    assert iso(END) in caught.value.message
    assert "orthrus kinit" in caught.value.message


# -- replay cache ----------------------------------------------------------------------------


def test_second_store_is_refused() -> None:
    cache = MemoryReplayCache()
    assert cache.check_and_store(b"a", T0 + 301, T0)
    assert not cache.check_and_store(b"a", T0 + 301, T0)
    assert not cache.check_and_store(b"a", T0 + 301, T0 + 300)
    assert not cache.check_and_store(b"a", T0 + 999, T0 + 301)  # still live at its expiry
    assert cache.check_and_store(b"b", T0 + 301, T0)
    assert len(cache) == 2


def test_expired_entry_is_accepted_again() -> None:
    cache = MemoryReplayCache()
    assert cache.check_and_store(b"a", T0 + 301, T0)
    assert cache.check_and_store(b"a", T0 + 700, T0 + 301.5)
    # ... and is then stored again with its new expiry.
    assert not cache.check_and_store(b"a", T0 + 700, T0 + 650)


def test_pruning_drops_only_expired_entries() -> None:
    cache = MemoryReplayCache(prune_every=4)
    for name in (b"1", b"2", b"3"):
        assert cache.check_and_store(name, T0 + 10, T0)
    assert len(cache) == 3
    # The fourth insert, made after the first three expired, prunes them.
    assert cache.check_and_store(b"4", T0 + 100, T0 + 50)
    assert len(cache) == 1
    assert not cache.check_and_store(b"4", T0 + 100, T0 + 60)
    for name in (b"5", b"6", b"7"):
        assert cache.check_and_store(name, T0 + 200, T0 + 60)
    assert len(cache) == 4  # pruned at the 8th insert, but none had expired
