"""Sessions after an AP exchange: a short-lived token so later requests skip the exchange.

A script gets the token in the ``Orthrus-Session`` response header and sends it back in an
``Orthrus-Session`` request header, with an ``Orthrus-Session-Proof`` made for that request
under a key from the ticket's session key (:mod:`orthrus.session_proof`): a captured token
is worth nothing without the key. A browser, which cannot hold a key, gets another token as
the cookie ``orthrus_session`` — only over HTTPS, only when the service enables browser
sessions (:class:`service_lib.TicketAuth`).

The token (:mod:`orthrus.session_token`) carries the ticket that opened the session. Each
use re-opens that ticket and re-checks the KDC's signature on its authorization data
(:meth:`Verifier.checked_ticket`, cached per ticket), and the identity — client, groups,
times — comes from there only; the session ends no later than the ticket. Checks, in order:
the token (``NOT_US``, ``BADKEYVER``, ``MODIFIED``, ``TKT_NYV``, ``TKT_EXPIRED``); its ticket
(RFC 4120 §3.2.3 steps 1-3, 5, 6); the session's end against the ticket's (``MODIFIED``); for
a script, the proof (``MODIFIED``, ``SKEW``, and last ``REPEAT``).
"""

from __future__ import annotations

from orthrus.session_proof import ProofRules, ProofTarget, check_session_proof
from orthrus.session_token import (
    SessionClaims,
    SessionKind,
    check_session_ticket,
    issue_session_token,
    verify_session_token,
)
from service_lib.identity import Identity
from service_lib.ticket_cache import CheckedTicket
from service_lib.verifier import Verifier

__all__ = ["SessionTokens"]


class SessionTokens:
    """Issues and checks the sessions of the principals a :class:`Verifier` serves.

    Uses the verifier's keytab, clock, allowed skew, ticket cache and replay cache (proofs
    are remembered there, beside authenticators); ``lifetime`` defaults to its settings'
    ``session_lifetime``.
    """

    def __init__(self, verifier: Verifier, lifetime: int | None = None) -> None:
        self._verifier = verifier
        self.lifetime = verifier.settings.session_lifetime if lifetime is None else lifetime

    def issue(self, identity: Identity, kind: SessionKind = "proof") -> tuple[str, int] | None:
        """A token for the ticket ``identity`` came with, sent as ``kind``, and its life in
        seconds; None without a ticket, if the ticket is about to expire, or if no key of
        the service is left."""
        now = int(self._verifier.clock())
        expires_at = min(now + self.lifetime, identity.endtime)
        key = self._verifier.keytab.snapshot().current_key(identity.service)
        if identity.ticket is None or expires_at <= now or key is None:
            return None
        claims = SessionClaims(
            server=identity.service,
            ticket=identity.ticket,
            kind=kind,
            issued_at=now,
            expires_at=expires_at,
        )
        return issue_session_token(claims, key), expires_at - now

    def verify(self, token: str, proof: str | None, method: str, target: str) -> Identity:
        """The identity of a script's session, sent with ``proof`` for this request (the
        ``method`` and ``target`` the AP authenticator would bind); ``APError`` if refused."""
        now = self._verifier.clock()
        claims, ticket = self._open(token, "proof", now)
        rules = ProofRules(
            self._verifier.replay_cache, claims.ticket.server, self._verifier.settings.max_skew
        )
        bound = ProofTarget(token, method, target)
        check_session_proof(proof, ticket.session_key, bound, now, rules)
        return _identity(claims, ticket)

    def verify_browser(self, token: str) -> Identity:
        """The identity of a browser's session cookie (the caller made sure it came over
        HTTPS to a service with browser sessions on); ``APError`` if refused."""
        claims, ticket = self._open(token, "browser", self._verifier.clock())
        return _identity(claims, ticket)

    def _open(
        self, token: str, kind: SessionKind, now: float
    ) -> tuple[SessionClaims, CheckedTicket]:
        verifier = self._verifier
        keys_for = verifier.keytab.snapshot().keys_for
        claims = verify_session_token(token, kind, keys_for, now, verifier.settings.max_skew)
        ticket = verifier.checked_ticket(claims.ticket, now)
        check_session_ticket(claims, ticket.part)
        return claims, ticket


def _identity(claims: SessionClaims, ticket: CheckedTicket) -> Identity:
    part = ticket.part
    return Identity(
        principal=part.client,
        groups=ticket.groups,
        auth_factors=ticket.factors,
        service=claims.ticket.server,
        authtime=part.authtime,
        starttime=part.starttime,
        endtime=part.endtime,
        auth_method="session",
        ticket_id=ticket.ticket_id,
        ticket=claims.ticket,
    )
