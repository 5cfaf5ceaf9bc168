"""The KDC's settings: ``kdc.toml`` in the KDC directory, environment variables on top."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec

from orthrus.crossrealm import CrossRealmPolicy
from orthrus.enctypes import ENCTYPES, UnsupportedEnctype, enctype
from orthrus.enctypes.rfc3962 import MAX_ITERATIONS as MAX_S2K_ITERATIONS
from orthrus.errors import ConfigError
from orthrus.pwkdf import (
    DEFAULT_ITERATIONS,
    DEFAULT_LANES,
    DEFAULT_MEMORY_KIB,
    MAX_ITERATIONS,
    MAX_LANES,
    MAX_MEMORY_KIB,
)
from orthrus.realm import RealmPolicy
from orthrus_io.settings import build_settings, load_toml, redacted_repr

__all__ = [
    "CONFIG_NAME",
    "DEFAULT_ENCTYPES",
    "DEFAULT_KERBEROS_ITERATIONS",
    "ENV_OVERRIDES",
    "MAX_KERBEROS_ITERATIONS",
    "MIN_KERBEROS_ITERATIONS",
    "KDCSettings",
    "check_enctypes",
    "check_rate_limit",
    "kdc_dir",
    "load_settings",
]

CONFIG_NAME = "kdc.toml"

#: Settings an environment variable may override, and the variable's name.
ENV_OVERRIDES: Mapping[str, str] = {
    "database_url": "ORTHRUS_DB_URL",
    "redis_url": "ORTHRUS_REDIS_URL",
    "redis_prefix": "ORTHRUS_REDIS_PREFIX",
    "max_skew": "ORTHRUS_MAX_SKEW",
    "rate_limit": "ORTHRUS_RATE_LIMIT",
}

Seconds = Annotated[int, msgspec.Meta(ge=1, le=10 * 365 * 86400)]

#: The Kerberos keys a new realm gives every principal (issue 14 §4): RFC 8009's strongest
#: type first, then RFC 3962's, which every MIT and Heimdal release since 2005 has.
DEFAULT_ENCTYPES = ("aes256-cts-hmac-sha384-192", "aes256-cts-hmac-sha1-96")
#: PBKDF2 count of new Kerberos password keys: RFC 8009's default, 8 times MIT's 4096 for
#: RFC 3962 types. RFC 8018 §4.2 recommends at least 1,000; MIT clients refuse 2**24 or more.
DEFAULT_KERBEROS_ITERATIONS = 32768
MIN_KERBEROS_ITERATIONS = 1000
MAX_KERBEROS_ITERATIONS = MAX_S2K_ITERATIONS - 1


class KDCSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Everything ``kdc.toml`` may hold; ``directory`` is where it was found."""

    realm: str
    database_url: str
    directory: str = "."
    master_key_file: str = "master.key"
    max_life: Seconds = 10 * 3600
    max_renewable_life: Seconds = 7 * 86400
    max_skew: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 300
    #: Argon2id costs of new password keys: never below the floor every client holds a KDC
    #: to (orthrus.pwkdf.DEFAULT_ITERATIONS, DEFAULT_MEMORY_KIB), or no client would log in.
    kdf_iterations: Annotated[int, msgspec.Meta(ge=DEFAULT_ITERATIONS, le=MAX_ITERATIONS)] = (
        DEFAULT_ITERATIONS
    )
    kdf_memory_kib: Annotated[int, msgspec.Meta(ge=DEFAULT_MEMORY_KIB, le=MAX_MEMORY_KIB)] = (
        DEFAULT_MEMORY_KIB
    )
    kdf_lanes: Annotated[int, msgspec.Meta(ge=1, le=MAX_LANES)] = DEFAULT_LANES
    #: The RFC 3961 enctypes of the Kerberos keys of new keys (orthrus.enctypes.registry
    #: names), strongest first: the order the KDC prefers them in.
    enctypes: tuple[str, ...] = DEFAULT_ENCTYPES
    #: PBKDF2 iterations of new Kerberos password keys, sent to clients in s2kparams.
    kerberos_iterations: Annotated[
        int, msgspec.Meta(ge=MIN_KERBEROS_ITERATIONS, le=MAX_KERBEROS_ITERATIONS)
    ] = DEFAULT_KERBEROS_ITERATIONS
    #: The longest request body the server keeps, on every path; a longer one is 413.
    max_request_bytes: Annotated[int, msgspec.Meta(ge=1024, le=1024 * 1024)] = 64 * 1024
    #: Password policy: minimum length, and how many previous passwords cannot be reused.
    min_password_length: Annotated[int, msgspec.Meta(ge=1, le=1024)] = 8
    password_history: Annotated[int, msgspec.Meta(ge=0, le=24)] = 3
    #: Lockout: this many failed pre-authentications within the window lock for the duration
    #: (0 attempts: no lockout). Counters are per process unless redis_url is set.
    lockout_attempts: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 5
    lockout_window: Seconds = 600
    lockout_duration: Seconds = 900
    #: Redis for lockout counters and the TGS replay cache shared by every KDC process.
    redis_url: str = ""
    redis_prefix: str = "orthrus"
    #: The audit log (JSON lines), relative to the KDC directory; "" turns it off.
    audit_log: str = "audit.log"
    #: A lab realm (``orthrus-lab up``): traces keep the wire messages, lab switches work.
    lab: bool = False
    #: A lab switch (``orthrus-lab switch kdc tgt-signature off``): the TGS believes a TGT
    #: without checking the KDC's signature on it, so a golden ticket works. Only with lab.
    lab_unsigned_tgts: bool = False
    #: User enumeration: an unknown client gets what a known one would (KDC_ERR_PREAUTH_REQUIRED
    #: with a stable made-up salt, then KDC_ERR_PREAUTH_FAILED), not C_PRINCIPAL_UNKNOWN; so
    #: does a random-key service, and an unknown server (or a user asked for as one) until the
    #: client proved its key.
    hide_unknown_principals: bool = False
    #: Requests per client address to /v1/* and Kerberos (``limits`` syntax; "" off), counted
    #: in Redis when redis_url is set; addresses in rate_limit_exempt (comma-separated) are
    #: never limited: loopback by default, where a local proxy must limit for its clients.
    rate_limit: str = "20/second;600/minute"
    rate_limit_exempt: str = "127.0.0.1,::1"
    #: A request (from its first byte to its answer; the first on a connection from its
    #: accept, TLS handshake included) taking longer than this many seconds is cut off, so
    #: slow clients cannot hold the server (kdc.http_server); also per Kerberos TCP message.
    request_timeout: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 30
    #: Cross-realm trust (``[capaths]``): for a client realm, the realms its tickets may cross,
    #: in order, to reach this one; clients of the realm whose KDC shares the trust key with
    #: this one need no entry (orthrus.crossrealm, docs/operations.md).
    capaths: dict[str, tuple[str, ...]] = {}
    #: ``[foreign_groups]``: this realm's groups for clients of other realms, by name
    #: (``"alice@A.EXAMPLE"``) or for a realm (``"*@A.EXAMPLE"``); none otherwise.
    foreign_groups: dict[str, tuple[str, ...]] = {}
    #: ``[domain_realm]``: hosts of other realms' services (``"web.b.example"`` or
    #: ``".b.example"`` = ``"B.EXAMPLE"``), for referrals to clients that ask with
    #: canonicalize (RFC 6806 §8).
    domain_realm: dict[str, str] = {}

    def __repr__(self) -> str:
        return redacted_repr(self)  # no database or Redis password in logs and tracebacks

    def __post_init__(self) -> None:
        check_rate_limit(self.rate_limit)
        if self.lab_unsigned_tgts and not self.lab:
            raise ConfigError(
                "key 'lab_unsigned_tgts': a lab switch that lets forged TGTs through, allowed "
                "only in a lab realm (lab = true, made by orthrus-lab up); remove it"
            )
        check_enctypes(self.enctypes)

    @property
    def policy(self) -> RealmPolicy:
        return RealmPolicy(
            self.realm,
            self.max_life,
            self.max_renewable_life,
            self.max_skew,
            self.hide_unknown_principals,
        )

    @property
    def cross_realm(self) -> CrossRealmPolicy:
        """What the TGS believes of clients of other realms (RFC 4120 §3.3.3.2)."""
        return CrossRealmPolicy(self.capaths, self.foreign_groups, self.domain_realm)

    @property
    def enctype_numbers(self) -> tuple[int, ...]:
        """The numbers of :attr:`enctypes`, in their order (RFC 3961 §8)."""
        return tuple(enctype(name).number for name in self.enctypes)

    def mit_iterations_warning(self) -> str | None:
        """Why MIT's clients would refuse this realm's password keys, or None: libk5crypto
        refuses a PBKDF2 count below each enctype's default (RFC 3962 §4: 4,096; RFC 8009
        §4: 32,768) with "Invalid key generation parameters from KDC"."""
        needed = max(enctype(n).default_iterations for n in self.enctype_numbers)
        if self.kerberos_iterations >= needed:
            return None
        return (
            f"kerberos_iterations = {self.kerberos_iterations} is below the {needed} MIT's "
            "clients require for these enctypes: their kinit with a password will fail "
            "('Invalid key generation parameters'); raise it in kdc.toml (existing keys keep "
            "their count until their next cpw)"
        )

    @property
    def master_key_path(self) -> Path:
        return Path(self.directory) / self.master_key_file

    @property
    def audit_log_path(self) -> Path | None:
        return Path(self.directory) / self.audit_log if self.audit_log else None

    def to_toml(self) -> str:
        """The file ``init`` writes (without ``directory``, which is where it lies)."""
        lines = [
            "# Orthrus KDC settings; environment variables override: "
            + ", ".join(f"{v} ({k})" for k, v in ENV_OVERRIDES.items())
        ]
        for key, value in msgspec.structs.asdict(self).items():
            if key == "directory" or isinstance(value, dict):
                continue  # the tables (capaths, foreign_groups) start empty: none written
            if isinstance(value, tuple):
                lines.append(f"{key} = [" + ", ".join(f'"{v}"' for v in value) + "]")
            elif isinstance(value, bool):
                lines.append(f"{key} = {str(value).lower()}")
            elif isinstance(value, int):
                lines.append(f"{key} = {value}")
            else:
                lines.append(f'{key} = "{value}"')
        return "\n".join(lines) + "\n"


def check_rate_limit(value: str) -> None:
    """``ConfigError`` naming the key if ``value`` is not a Flask-Limiter rate string."""
    if not value:
        return
    import limits  # when settings are made, not at import: `orthrus-kdc --help` needs none

    try:
        limits.parse_many(value)
    except ValueError:
        raise ConfigError(
            f"key 'rate_limit': {value!r} is not a rate limit; write e.g. '20/second;600/minute'"
        ) from None


def check_enctypes(names: tuple[str, ...]) -> None:
    """``ConfigError`` naming the key unless ``names`` are distinct enctypes of the registry."""
    supported = ", ".join(e.name for e in ENCTYPES.values())
    if not names:
        raise ConfigError(f"key 'enctypes': name at least one of {supported}")
    numbers = []
    for name in names:
        try:
            numbers.append(enctype(name).number)
        except UnsupportedEnctype:
            raise ConfigError(
                f"key 'enctypes': {name!r:.40} is not an encryption type Orthrus supports; "
                f"use some of {supported}"
            ) from None
    if len(set(numbers)) != len(numbers):
        raise ConfigError(f"key 'enctypes': {list(names)} names an encryption type twice")


def kdc_dir(option: str | None, env: Mapping[str, str] = os.environ) -> Path:
    """The KDC directory: ``--dir``, else ``ORTHRUS_KDC_DIR``."""
    chosen = option or env.get("ORTHRUS_KDC_DIR")
    if not chosen:
        raise ConfigError("no KDC directory: pass --dir DIR or set ORTHRUS_KDC_DIR")
    return Path(chosen).resolve()


def load_settings(directory: Path, env: Mapping[str, str] = os.environ) -> KDCSettings:
    """Read ``DIR/kdc.toml`` with environment overrides."""
    path = directory / CONFIG_NAME
    if not path.exists():
        raise ConfigError(
            f"{directory} holds no KDC ({CONFIG_NAME} missing); "
            "create one with: orthrus-kdc init --realm REALM"
        )
    table = load_toml(path)
    table["directory"] = str(directory)
    return build_settings(KDCSettings, table, env, ENV_OVERRIDES, str(path))
