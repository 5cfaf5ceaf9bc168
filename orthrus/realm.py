"""What the exchanges need to know about a realm and its principals (RFC 4120 §3.1.3).

The KDC's store builds :class:`PrincipalEntry` values; the pure exchange functions read them
through a :class:`PrincipalLookup` passed in, so they never touch a database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from orthrus.crossrealm import CrossRealmPolicy
from orthrus.errors import APError, KDCError
from orthrus.keys import Entropy, Key
from orthrus.principal import Principal
from orthrus.pwkdf import KDFParams
from orthrus.replay import ReplayCache
from orthrus.timecheck import DEFAULT_MAX_SKEW

if TYPE_CHECKING:  # only named in annotations; JWT and the RFC enctypes load when used
    from orthrus.authz import AuthzSigner
    from orthrus.enctypes import KeyBlock
    from orthrus.messages import EncTicketPart
    from orthrus.otp import OTPEnrollment, RecoveryCodes

__all__ = [
    "KDCContext",
    "KerberosKey",
    "OpenedTGT",
    "OpenedTGTs",
    "PreauthGuard",
    "PrincipalEntry",
    "PrincipalLookup",
    "RealmPolicy",
    "select_key",
    "ticket_server",
]


@dataclass(frozen=True, slots=True)
class RealmPolicy:
    """Realm-wide limits: ticket lifetime (10 h), renewable life (7 d), clock skew (300 s);
    and whether to hide which names exist (``hide_unknown_principals``, kdc.enumeration)."""

    realm: str
    max_life: int = 10 * 3600
    max_renewable_life: int = 7 * 86400
    max_skew: int = DEFAULT_MAX_SKEW
    hide_unknown_principals: bool = False


@dataclass(frozen=True, slots=True)
class KerberosKey:
    """One RFC 3961 key of a principal (RFC 4120 §5.2.9, MIT's ``krb5_key_data``).

    ``salt`` and ``iterations`` are set for a key made from a password (RFC 3962 §4,
    RFC 8009 §4: PBKDF2 with the salt ``REALMname`` and this iteration count, which a
    client learns from PA-ETYPE-INFO2's ``s2kparams``); None for a random key.
    """

    kvno: int
    key: KeyBlock = field(repr=False)
    salt: bytes | None = None
    iterations: int | None = None

    @property
    def enctype(self) -> int:
        return self.key.enctype


@dataclass(frozen=True, slots=True)
class PrincipalEntry:
    """A principal as the exchanges see it: keys by kvno, KDF parameters, flags, limits.

    ``kdf`` is set when the key comes from a password; such a principal is a ticket's server
    only if an administrator set ``allow_svr`` (see :func:`ticket_server`).
    """

    principal: Principal
    keys: Mapping[int, Key] = field(repr=False)
    kvno: int
    kdf: KDFParams | None = None
    requires_preauth: bool = True
    allow_tickets: bool = True
    allow_svr: bool = False
    max_life: int | None = None
    max_renewable_life: int | None = None
    groups: tuple[str, ...] = ()
    #: Delegation (RFC 4120 §2.6, MS-SFU §3.2.5.2): whether this principal's tickets may be
    #: forwardable (MIT's ``allow_forwardable``), whether its service tickets say a client
    #: may forward a TGT to it (``ok_as_delegate``), and the services it may ask tickets
    #: for in a client's name (``delegate_to``, constrained delegation).
    allow_forwardable: bool = True
    ok_as_delegate: bool = False
    delegate_to: frozenset[Principal] = frozenset()
    #: The keys Kerberos clients use (RFC 3962/8009), every kvno, strongest enctype first.
    kerberos_keys: tuple[KerberosKey, ...] = field(default=(), repr=False)
    #: A login needs a one-time code too (RFC 6238, :mod:`orthrus.otp`): ``modprinc
    #: --require-otp``; ``otp`` is the enrolled secret (None: not enrolled yet).
    requires_otp: bool = False
    otp: OTPEnrollment | None = field(default=None, repr=False)

    @property
    def current_key(self) -> Key:
        return self.keys[self.kvno]

    def kerberos_key(self, enctype: int, kvno: int | None = None) -> KerberosKey | None:
        """The key of ``enctype`` at ``kvno`` (default: the current one), if there is one."""
        wanted = self.kvno if kvno is None else kvno
        return next(
            (k for k in self.kerberos_keys if k.enctype == enctype and k.kvno == wanted), None
        )


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
    #: Whether the TGS checks the KDC's signature on a TGT's authorization data; False only
    #: in a lab realm, to show a golden ticket succeed (kdc.toml ``lab_unsigned_tgts``).
    verify_tgt_authz: bool = True
    #: TGTs already opened and checked, kept by the KDC's edge (None: none kept).
    opened_tgts: OpenedTGTs | None = None
    #: The hashed OTP recovery codes (:mod:`orthrus.otp`); None: none can be used.
    recovery_codes: RecoveryCodes | None = None
    #: What this realm believes of cross-realm TGTs' clients (capaths, foreign groups).
    cross_realm: CrossRealmPolicy = field(default_factory=CrossRealmPolicy)


@dataclass(frozen=True, slots=True)
class OpenedTGT:
    """A TGT that opened under the krbtgt key and whose KDC signature checked out, with its
    session key as the wire's key object (which derives each usage's keys once): its own
    checks are not made again while it lasts (``expires_at``: its end plus the skew)."""

    part: EncTicketPart = field(repr=False)
    session_key: Key | KeyBlock = field(repr=False)
    expires_at: float
    #: The login factors the TGS took from its KDC-signed data (``auth_factors``), read once.
    factors: tuple[str, ...] = ()


class OpenedTGTs(Protocol):
    """Where the KDC keeps :class:`OpenedTGT` values, keyed by a hash of the exact TGT as
    sent (``orthrus_io.expiring_cache.ExpiringCache``)."""

    def get(self, key: bytes, now: float) -> OpenedTGT | None: ...

    def put(self, key: bytes, entry: OpenedTGT) -> None: ...


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


def ticket_server(
    name: Principal, entry: PrincipalEntry | None, policy: RealmPolicy
) -> PrincipalEntry:
    """``entry`` if the KDC may seal a ticket for ``name`` under its key (RFC 4120 §3.1.3,
    §3.3.3 "the server is not known"), else the ``KDC_ERR_*`` that applies.

    A ticket is a ciphertext under the server's long-term key that anyone with a TGT can
    ask for. When that key comes from a password, the ticket lets its holder guess the
    password offline with no lockout (user roasting, "Kerberoasting"), so such a principal
    is refused as a server, as MIT's ``-allow_svr`` does with ``KDC_ERR_MUST_USE_USER2USER``,
    unless an administrator allowed it (``allow_svr``). With ``hide_unknown_principals`` a
    refused name and an unknown one get the same error, so the refusal does not tell users
    from names that do not exist.
    """
    if entry is not None and (entry.kdf is None or entry.allow_svr):
        return entry
    if policy.hide_unknown_principals:
        raise KDCError(
            "KDC_ERR_S_PRINCIPAL_UNKNOWN",
            f"server {name} is not in the database or may not be given tickets; check the "
            "service name (a user is not a service unless an administrator allowed it: "
            "orthrus-kdc modprinc --allow-svr)",
        )
    if entry is None:
        raise KDCError(
            "KDC_ERR_S_PRINCIPAL_UNKNOWN",
            f"server {name} is not in the database; check the service name",
        )
    raise KDCError(
        "KDC_ERR_MUST_USE_USER2USER",
        f"the key of {name} comes from a password (a user's, or an old service's): a ticket "
        "for it would let whoever holds it guess that password offline, so none is issued; "
        f"if {name} is a user, ask for a service's ticket instead; if it is a service, ask an "
        "administrator to give it a random key (orthrus-kdc cpw --randkey) or to allow it: "
        f"orthrus-kdc modprinc --allow-svr {name}",
    )
