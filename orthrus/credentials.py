"""A ticket with what the client knows about it: the entry of a credential cache."""

from __future__ import annotations

import msgspec

from orthrus.keys import Key
from orthrus.messages import EncryptionKey, Ticket, TicketFlag, Time
from orthrus.principal import Principal

__all__ = ["Credential"]


class Credential(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A ticket, its session key and the times and flags the KDC reported (RFC 4120 §3.1.5)."""

    client: Principal
    server: Principal
    key: EncryptionKey
    ticket: Ticket
    flags: list[TicketFlag]
    authtime: Time
    starttime: Time
    endtime: Time
    renew_till: Time | None = None

    @property
    def session_key(self) -> Key:
        return self.key.to_key()

    def is_valid(self, now: float) -> bool:
        """Usable now: started and not yet expired."""
        return self.starttime <= now + 1 and now < self.endtime
