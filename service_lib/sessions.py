"""Sessions after an AP exchange: a short-lived token so later requests skip the exchange.

A browser gets it as the cookie ``orthrus_session`` (HttpOnly, SameSite=Strict, Secure over
HTTPS); a script gets it in the ``Orthrus-Session`` response header and sends it back in an
``Orthrus-Session`` request header. The token is :mod:`orthrus.session_token`'s JWS (RFC 7515,
HS256) under a key derived from the service's long-term key, so every worker can check it;
it names the ticket's client and groups and expires no later than the ticket. It is a
bearer token: unlike an AP-REQ it is not bound to one request nor refused when replayed, so
keep its life short and serve it over HTTPS only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from orthrus.session_token import (
    SessionClaims,
    issue_session_token,
    verify_session_token,
)
from service_lib.identity import Identity
from service_lib.keytab_source import KeytabSource

__all__ = ["SessionTokens"]

Clock = Callable[[], float]


class SessionTokens:
    """Issues and checks session tokens for the principals of a keytab."""

    def __init__(
        self,
        keytab: KeytabSource,
        lifetime: int = 3600,
        max_skew: int = 300,
        clock: Clock = time.time,
    ) -> None:
        self._keytab = keytab
        self.lifetime = lifetime
        self._max_skew = max_skew
        self._clock = clock

    def issue(self, identity: Identity) -> tuple[str, int] | None:
        """A token for ``identity`` and its life in seconds; None if the ticket is about to
        expire (or no key of the service is left)."""
        now = int(self._clock())
        expires_at = min(now + self.lifetime, identity.endtime)
        key = self._keytab.snapshot().current_key(identity.service)
        if expires_at <= now or key is None:
            return None
        claims = SessionClaims(
            client=identity.principal,
            server=identity.service,
            groups=identity.groups,
            ticket=identity.ticket_id,
            authtime=identity.authtime,
            starttime=identity.starttime,
            endtime=identity.endtime,
            issued_at=now,
            expires_at=expires_at,
        )
        return issue_session_token(claims, key), expires_at - now

    def verify(self, token: str) -> Identity:
        """The identity a token speaks for; ``APError`` if it is forged, expired or stale."""
        snapshot = self._keytab.snapshot()
        claims = verify_session_token(token, snapshot.keys_for, self._clock(), self._max_skew)
        return Identity(
            principal=claims.client,
            groups=claims.groups,
            service=claims.server,
            authtime=claims.authtime,
            starttime=claims.starttime,
            endtime=claims.endtime,
            auth_method="session",
            ticket_id=claims.ticket,
        )
