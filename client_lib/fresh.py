"""Credentials kept fresh for long-running programs, as MIT users get from ``k5start``.

The ticket-granting ticket is renewed (RFC 4120 §3.3.1) before it ends while its renewable
life allows, else acquired anew from the keytab (AS exchange, §3.1); each refresh is logged
(logger ``client_lib.fresh``, never a key). :class:`FreshSchedule` decides when and how, from
the TGT and the time it is given; :meth:`Client.keep_fresh <client_lib.Client.keep_fresh>`
and :meth:`AsyncClient.keep_fresh <client_lib.AsyncClient.keep_fresh>` wait with what they
are given (an event, a sleep function), so that tests drive time themselves.
"""

from __future__ import annotations

import logging
from typing import Protocol

from client_lib.ccache import CredentialCache
from client_lib.options import FreshOptions
from orthrus.credentials import Credential
from orthrus.errors import ConfigError, OrthrusError
from orthrus.principal import Principal, krbtgt
from orthrus.timecheck import iso

__all__ = ["FreshSchedule", "Stop", "cached_tgt"]

logger = logging.getLogger("client_lib.fresh")


class Stop(Protocol):
    """What :meth:`Client.keep_fresh <client_lib.Client.keep_fresh>` waits on between
    refreshes; a :class:`threading.Event` is one."""

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds; True to stop, False to go on."""
        ...


def cached_tgt(ccache: CredentialCache, principal: Principal) -> Credential | None:
    """``principal``'s TGT in ``ccache``; None if there is none (or no cache, or a damaged
    one, or another principal's: a refresh replaces it)."""
    try:
        if ccache.principal() != principal:
            return None
        return ccache.find(krbtgt(principal.realm))
    except ConfigError:
        return None


class FreshSchedule:
    """One keep-fresh loop's state: the TGT it keeps, when to refresh it, and how."""

    def __init__(self, principal: Principal, options: FreshOptions, tgt: Credential | None):
        self.principal = principal
        self.options = options
        self.tgt = tgt
        self.renewing = False
        self._succeeded = False
        self._retry_at: float | None = None

    def _margin(self, tgt: Credential) -> float:
        return (tgt.endtime - tgt.starttime) * self.options.refresh_left

    def delay(self, now: float) -> float:
        """Seconds to wait before the next refresh (0: now)."""
        if self._retry_at is not None:
            return max(0.0, self._retry_at - now)
        if self.tgt is None or not self.tgt.is_valid(now):
            return 0.0
        return max(0.0, self.tgt.endtime - self._margin(self.tgt) - now)

    def plan(self, now: float) -> bool:
        """Whether the next refresh renews (True) or logs in from the keytab (False), and
        remember it: renew while the TGT is valid, renewable, and its renewable life
        outlasts the refresh margin (a renewal ending sooner would be due at once); never
        right after a failed attempt, which may have been the renewal's."""
        tgt = self.tgt
        self.renewing = (
            self._retry_at is None
            and tgt is not None
            and tgt.is_valid(now)
            and "renewable" in tgt.flags
            and tgt.renew_till is not None
            and tgt.renew_till - now > self._margin(tgt)
        )
        return self.renewing

    def succeeded(self, tgt: Credential, now: float) -> None:
        """Keep the new TGT and log the refresh."""
        self.tgt, self._retry_at, self._succeeded = tgt, None, True
        how = "renewed" if self.renewing else "acquired from the keytab"
        logger.info(
            "TGT for %s %s, valid until %s; next refresh at %s",
            self.principal,
            how,
            iso(tgt.endtime),
            iso(now + self.delay(now)),
        )

    def failed(self, error: OrthrusError, now: float) -> None:
        """Log a failed refresh and try again after ``retry_after``; a failure of the first
        refresh is raised instead (a wrong keytab or KDC URL: better said at once)."""
        if not self._succeeded:
            raise error
        self._retry_at = now + self.options.retry_after
        valid = self.tgt is not None and self.tgt.is_valid(now)
        ends = f"ends at {iso(self.tgt.endtime)}" if self.tgt and valid else "has expired"
        logger.warning(
            "could not refresh the TGT for %s (%s); next attempt at %s (the TGT %s)",
            self.principal,
            error,
            iso(self._retry_at),
            ends,
        )
