"""What a caller asks of a login and of a keep-fresh loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from orthrus.errors import ConfigError

__all__ = ["FreshOptions", "LoginOptions"]


@dataclass(frozen=True, slots=True)
class LoginOptions:
    """Lifetime and renewable life asked for, in seconds (None: the realm's maximum).

    ``otp_code`` is asked for the one-time code (RFC 6238 TOTP, or a recovery code) when
    the KDC says the principal needs one (``orthrus kinit`` prompts for it); None: such a
    login fails with what to do.
    """

    lifetime: int | None = None
    renewable_life: int | None = 7 * 86400
    otp_code: Callable[[], str] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class FreshOptions:
    """When and how :meth:`~client_lib.Client.keep_fresh` refreshes the TGT.

    ``login``: what each login from the keytab asks for (lifetime, renewable life);
    ``refresh_left``: refresh when this fraction of the ticket's lifetime is left;
    ``retry_after``: seconds between attempts after a refresh failed.
    """

    login: LoginOptions = field(default_factory=LoginOptions)
    refresh_left: float = 0.25
    retry_after: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.refresh_left < 1:
            raise ConfigError(f"refresh_left must be between 0 and 1, not {self.refresh_left}")
        if self.retry_after <= 0:
            raise ConfigError(f"retry_after must be positive, not {self.retry_after}")
