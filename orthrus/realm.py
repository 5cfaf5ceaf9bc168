"""What the exchanges need to know about a realm and its principals (RFC 4120 §3.1.3).

The KDC's store builds :class:`PrincipalEntry` values; the pure exchange functions read them
through a :class:`PrincipalLookup` passed in, so they never touch a database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from orthrus.authz import AuthzSigner
from orthrus.errors import APError
from orthrus.keys import Entropy, Key
from orthrus.principal import Principal
from orthrus.pwkdf import KDFParams
from orthrus.replay import ReplayCache
from orthrus.timecheck import DEFAULT_MAX_SKEW

__all__ = [
    "KDCContext",
    "PreauthGuard",
    "PrincipalEntry",
    "PrincipalLookup",
    "RealmPolicy",
    "select_key",
]


@dataclass(frozen=True, slots=True)
class RealmPolicy:
    """Realm-wide limits: ticket lifetime (10 h), renewable life (7 d), clock skew (300 s)."""

    realm: str
    max_life: int = 10 * 3600
    max_renewable_life: int = 7 * 86400
    max_skew: int = DEFAULT_MAX_SKEW


@dataclass(frozen=True, slots=True)
class PrincipalEntry:
    """A principal as the exchanges see it: keys by kvno, KDF parameters, flags, limits."""

    principal: Principal
    keys: Mapping[int, Key] = field(repr=False)
    kvno: int
    kdf: KDFParams | None = None
    requires_preauth: bool = True
    allow_tickets: bool = True
    max_life: int | None = None
    max_renewable_life: int | None = None
    groups: tuple[str, ...] = ()

    @property
    def current_key(self) -> Key:
        return self.keys[self.kvno]


PrincipalLookup = Callable[[Principal], PrincipalEntry | None]


class PreauthGuard(Protocol):
    """Counts pre-authentication attempts to lock a principal out after too many failures.

    ``admit`` reserves one attempt before the password is checked, atomically, so that with
    a limit of N at most N guesses are ever checked in a window, however many arrive at once.
    """

    def admit(self, principal: Principal, now: float) -> bool:
        """Reserve an attempt; False if the principal is locked out."""
        ...

    def failed(self, principal: Principal, now: float) -> None:
        """The reserved attempt was a wrong password or key."""
        ...

    def succeeded(self, principal: Principal) -> None:
        """The reserved attempt proved the key: failures are forgotten."""
        ...


@dataclass(frozen=True, slots=True)
class KDCContext:
    """Everything the AS and TGS exchanges take besides the request and the time."""

    policy: RealmPolicy
    lookup: PrincipalLookup
    replay_cache: ReplayCache
    entropy: Entropy
    signer: AuthzSigner | None = None
    guard: PreauthGuard | None = None


def select_key(keys: Mapping[int, Key], kvno: int, owner: Principal) -> Key:
    """The key of version ``kvno``; ``KRB_AP_ERR_BADKEYVER`` names both versions if absent."""
    key = keys.get(kvno)
    if key is None:
        have = ", ".join(str(v) for v in sorted(keys)) or "none"
        raise APError(
            "KRB_AP_ERR_BADKEYVER",
            f"the ticket is encrypted with kvno {kvno} of {owner} but only kvno {have} is "
            "available; refresh the keytab (orthrus-kdc ktadd) or get a new ticket",
            {"ticket_kvno": kvno, "available_kvnos": sorted(keys)},
        )
    return key
