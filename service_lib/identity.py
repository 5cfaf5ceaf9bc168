"""Who a request comes from, once its ticket (RFC 4120 §3.2.3) or session token checked out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from orthrus.ap import VerifiedAPReq
from orthrus.keys import Key
from orthrus.messages import Ticket
from orthrus.principal import Principal

__all__ = ["AuthMethod", "Identity"]

AuthMethod = Literal["ticket", "session"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """An authenticated client.

    ``principal`` and ``groups`` (from the KDC-signed authorization data) say who it is, and
    ``auth_factors`` how it logged in besides its key (``("otp",)``: with a one-time code);
    ``authtime``, ``starttime`` and ``endtime`` are the ticket's times; ``auth_method`` says
    whether this request carried a ticket (an AP exchange) or a session token; ``ticket`` is
    that ticket as sent (a session carries it, :mod:`orthrus.session_token`). After an AP
    exchange ``session_key``, ``subkey`` and ``seq`` are the keys and initial sequence number
    for messages under the session (:mod:`orthrus.priv`); they are never shown by ``repr``.
    """

    principal: Principal
    groups: tuple[str, ...]
    service: Principal
    authtime: int
    starttime: int
    endtime: int
    auth_method: AuthMethod
    ticket_id: str
    ticket: Ticket | None = field(default=None, repr=False, compare=False)
    session_key: Key | None = field(default=None, repr=False, compare=False)
    subkey: Key | None = field(default=None, repr=False, compare=False)
    seq: int | None = field(default=None, repr=False)
    mutual_required: bool = False
    ap: VerifiedAPReq | None = field(default=None, repr=False, compare=False)
    #: The mutual-authentication reply, when it was made during the verification (a lab
    #: service recording messages traces it with the AP-REQ); sent as made.
    ap_rep: str | None = field(default=None, repr=False, compare=False)
    auth_factors: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The principal's text form (``alice@EXAMPLE.COM``), as in ``REMOTE_USER``."""
        return str(self.principal)

    def in_groups(self, groups: Iterable[str]) -> bool:
        """True if the client is in every one of ``groups``."""
        return set(groups) <= set(self.groups)

    def has_factors(self, factors: Iterable[str]) -> bool:
        """True if the client's login proved every one of ``factors`` (e.g. ``otp``)."""
        return set(factors) <= set(self.auth_factors)
