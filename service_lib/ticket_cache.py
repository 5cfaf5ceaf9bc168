"""Tickets already opened and checked, so each ticket's signature is verified once.

Decrypting a ticket and verifying the KDC's signature on its authorization data (RFC 4120
§3.2.3, §5.2.6) are the costly steps of an AP-REQ; a client sends the same ticket with every
request until it expires. Entries are keyed by a hash of the exact ticket as sent (server,
kvno, ciphertext; for ``Negotiate`` its DER octets, so that a hit does not decode it),
expire when the ticket does, are bounded in number (least recently used goes first) and
are all dropped when the keytab is reloaded. The authenticator is still checked on every
request: only the ticket's own checks are skipped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from orthrus.enctypes import KeyBlock
from orthrus.keys import Key
from orthrus.messages import EncTicketPart, Ticket
from orthrus.principal import Principal
from orthrus_io.expiring_cache import ExpiringCache

__all__ = [
    "CheckedKerberosTicket",
    "CheckedTicket",
    "KerberosTicketCache",
    "TicketCache",
    "kerberos_ticket_cache_key",
    "ticket_cache_key",
]


def ticket_cache_key(ticket: Ticket) -> bytes:
    """The cache key of a ticket as sent: SHA-256 of server, kvno and ciphertext."""
    return hashlib.sha256(
        b"%s|%d|%s" % (str(ticket.server).encode(), ticket.kvno, ticket.enc_part.encode())
    ).digest()


def kerberos_ticket_cache_key(ticket: bytes) -> bytes:
    """The cache key of a DER Ticket as sent (``Negotiate``), from the octets of its whole
    element (RFC 4120 §5.3: server, enctype, kvno and ciphertext): their SHA-256."""
    return hashlib.sha256(ticket).digest()


#: The session key as each wire has it: a :class:`Key` (JOSE), a :class:`KeyBlock` (RFC 3961).
K = TypeVar("K", Key, KeyBlock)


@dataclass(frozen=True, slots=True)
class CheckedTicket(Generic[K]):
    """An opened ticket whose authorization data checked out, with its groups and the
    service that asked for it in the client's name, if one did (and its
    :func:`orthrus.session_token.ticket_id`, so that it is hashed once too, and its session
    key, which derives each per-usage key once)."""

    part: EncTicketPart = field(repr=False)
    groups: tuple[str, ...]
    expires_at: float
    ticket_id: str
    session_key: K = field(repr=False, compare=False)
    #: The login factors the KDC signed besides the key (``auth_factors``: ``otp``).
    factors: tuple[str, ...] = ()
    delegated_by: Principal | None = None


class TicketCache(ExpiringCache[CheckedTicket[Key]]):
    """A bounded LRU map from :func:`ticket_cache_key` to :class:`CheckedTicket`."""


@dataclass(frozen=True, slots=True)
class CheckedKerberosTicket:
    """A ``Negotiate`` ticket opened and checked, with the server it names (read from its
    clear part when it was opened: the cache key covers those octets, so a hit need not
    decode the ticket again)."""

    server: Principal
    checked: CheckedTicket[KeyBlock]

    @property
    def expires_at(self) -> float:
        """When the entry lapses: the ticket's end plus the allowed skew."""
        return self.checked.expires_at


class KerberosTicketCache(ExpiringCache[CheckedKerberosTicket]):
    """The same for ``Negotiate``'s DER tickets, by :func:`kerberos_ticket_cache_key`."""
