"""A ticket with what the client knows about it: the entry of a credential cache."""

from __future__ import annotations

import msgspec

from orthrus.keys import Key
from orthrus.messages import EncryptionKey, Ticket, TicketFlag, Time
from orthrus.principal import Principal

__all__ = ["Credential"]


class Credential(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A ticket, its session key and the times and flags the KDC reported (RFC 4120 §3.1.5).

    ``ticket`` is an Orthrus JSON ticket, or the DER octets of an RFC 4120 §5.3 Ticket from
    a Kerberos-wire KDC (``krb5://``), kept as the KDC sent them.
    """

    client: Principal
    server: Principal
    key: EncryptionKey
    ticket: Ticket | bytes
    flags: list[TicketFlag]
    authtime: Time
    starttime: Time
    endtime: Time
    renew_till: Time | None = None

    @property
    def session_key(self) -> Key:
        return self.key.to_key()

    @property
    def kvno(self) -> int | None:
        """The key version number of the server key the ticket is sealed under (None: a DER
        ticket that does not say)."""
        if isinstance(self.ticket, Ticket):
            return self.ticket.kvno
        from orthrus.der import decode_ticket  # the DER codec loads only for DER tickets

        return decode_ticket(self.ticket).enc_part.kvno

    @property
    def is_kerberos(self) -> bool:
        """Whether the ticket is a DER one (from a ``krb5://`` KDC)."""
        return isinstance(self.ticket, bytes)

    def is_valid(self, now: float) -> bool:
        """Usable now: started and not yet expired."""
        return self.starttime <= now + 1 and now < self.endtime
