"""Tickets already opened and checked, so each ticket's signature is verified once.

Decrypting a ticket and verifying the KDC's signature on its authorization data (RFC 4120
§3.2.3, §5.2.6) are the costly steps of an AP-REQ; a client sends the same ticket with every
request until it expires. Entries are keyed by a hash of the exact ticket as sent (server,
kvno, ciphertext), expire when the ticket does, are bounded in number (least recently used
goes first) and are all dropped when the keytab is reloaded. The authenticator is still
checked on every request: only the ticket's own checks are skipped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from orthrus.keys import Key
from orthrus.messages import EncTicketPart, Ticket
from orthrus_io.expiring_cache import ExpiringCache

__all__ = ["CheckedTicket", "TicketCache", "ticket_cache_key"]


def ticket_cache_key(ticket: Ticket) -> bytes:
    """The cache key of a ticket as sent: SHA-256 of server, kvno and ciphertext."""
    return hashlib.sha256(
        b"%s|%d|%s" % (str(ticket.server).encode(), ticket.kvno, ticket.enc_part.encode())
    ).digest()


@dataclass(frozen=True, slots=True)
class CheckedTicket:
    """An opened ticket whose authorization data checked out, with its groups (and its
    :func:`orthrus.session_token.ticket_id`, so that it is hashed once too, and its session
    key as a :class:`Key`, which derives each per-usage key once)."""

    part: EncTicketPart = field(repr=False)
    groups: tuple[str, ...]
    expires_at: float
    ticket_id: str
    session_key: Key = field(repr=False, compare=False)
    #: The login factors the KDC signed besides the key (``auth_factors``: ``otp``).
    factors: tuple[str, ...] = ()


class TicketCache(ExpiringCache[CheckedTicket]):
    """A bounded LRU map from :func:`ticket_cache_key` to :class:`CheckedTicket`."""
