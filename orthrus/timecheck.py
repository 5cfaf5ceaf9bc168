"""Clock skew and ticket validity checks (RFC 4120 §1.6, §3.2.3).

Times are passed in by the caller (``now`` in seconds since the epoch, a float); nothing
here reads a clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

from orthrus.errors import APError

__all__ = ["DEFAULT_MAX_SKEW", "check_skew", "check_ticket_times", "iso"]

DEFAULT_MAX_SKEW = 300


def iso(timestamp: float) -> str:
    """ISO-8601 UTC, to the second (``2026-11-27T08:23:49Z``).

    A time past year 9999 (a peer's clock may say anything up to 2**40) is written as
    seconds since the epoch rather than raising from :mod:`datetime`.
    """
    try:
        return datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):
        return f"{int(timestamp)} s after the epoch"


def check_skew(client_time: float, now: float, max_skew: int, where: str) -> None:
    """Refuse with ``KRB_AP_ERR_SKEW`` a client time more than ``max_skew`` s from ``now``.

    The message gives both clocks and the difference, so the user can fix the right one.
    """
    difference = client_time - now
    if abs(difference) > max_skew:
        direction = "ahead of" if difference > 0 else "behind"
        raise APError(
            "KRB_AP_ERR_SKEW",
            f"your clock ({iso(client_time)}) is {abs(difference):.0f} s {direction} the "
            f"{where}'s ({iso(now)}); the limit is {max_skew} s: synchronise your clock (NTP)",
            {"client_time": int(client_time), "server_time": int(now), "max_skew": max_skew},
        )


def check_ticket_times(starttime: int, endtime: int, now: float, max_skew: int) -> None:
    """``KRB_AP_ERR_TKT_NYV`` before start, ``KRB_AP_ERR_TKT_EXPIRED`` after end (± skew)."""
    if starttime - max_skew > now:
        raise APError(
            "KRB_AP_ERR_TKT_NYV",
            f"the ticket is not valid until {iso(starttime)}; wait, or check your clock",
        )
    if now > endtime + max_skew:
        raise APError(
            "KRB_AP_ERR_TKT_EXPIRED",
            f"the ticket expired at {iso(endtime)}; run 'orthrus kinit' to get a new one",
        )
