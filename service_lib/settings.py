"""Service verifier settings: which keytab, which principals, how strict (RFC 4120 §3.2.3).

Settings come from the ``[service]`` table of a TOML file, with environment variables on
top (``ORTHRUS_KEYTAB``, ``ORTHRUS_SERVICE_PRINCIPALS``, ``ORTHRUS_ACCEPT_ANY_KEYTAB_PRINCIPAL``,
``ORTHRUS_REPLAY_CACHE``, ``ORTHRUS_REPLAY_CACHE_PATH``, ``ORTHRUS_MAX_SKEW``,
``ORTHRUS_REDIS_URL``); a bad value is a ``ConfigError`` naming the key
or variable.

Safe by default: a service is ``HTTP/<its host name>`` only (a ticket for another principal
of the same keytab is ``KRB_AP_ERR_NOT_US``), and its replay cache is a file in its state
directory, so that a restart forgets nothing (RFC 4120 §3.2.3).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from orthrus.errors import ConfigError, MalformedMessage
from orthrus.principal import Principal
from orthrus.timecheck import DEFAULT_MAX_SKEW
from orthrus_io.settings import build_settings, load_toml, redacted_repr

__all__ = [
    "ENV_NAMES",
    "PRINCIPALS_ENV",
    "VerifierSettings",
    "default_state_dir",
    "load_verifier_settings",
]

#: Environment variables that override settings, by field.
ENV_NAMES: Mapping[str, str] = {
    "keytab": "ORTHRUS_KEYTAB",
    "replay_cache": "ORTHRUS_REPLAY_CACHE",
    "replay_cache_path": "ORTHRUS_REPLAY_CACHE_PATH",
    "max_skew": "ORTHRUS_MAX_SKEW",
    "redis_url": "ORTHRUS_REDIS_URL",
    "accept_any_keytab_principal": "ORTHRUS_ACCEPT_ANY_KEYTAB_PRINCIPAL",
    "kdc_jwks": "ORTHRUS_KDC_JWKS",
}
#: The principals a service is, separated by commas or spaces (a list, so not in ENV_NAMES).
PRINCIPALS_ENV = "ORTHRUS_SERVICE_PRINCIPALS"


class VerifierSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How a service checks tickets.

    - ``keytab``: the keytab file (mode 0600), reloaded when it changes (key rotation):
      Orthrus's (``orthrus-kdc ktadd``: the ``Ticket`` scheme and the KDC's public keys) or
      MIT's (``ktadd --format mit``, ``kadmin ktadd``, ``ktutil``: the ``Negotiate`` scheme),
      told apart by its first octets; or both, comma-separated, for both schemes; required by
      :meth:`~service_lib.verifier.Verifier.from_settings` and :func:`load_verifier_settings`,
      unused by a ``Verifier`` given a ``KeytabSource``;
    - ``principals``: the service principals this service is, ``name/instance[@REALM]``
      (default ``HTTP/<host name>``; a name without realm is in ``realm``, else the
      keytab's); a ticket for any other is ``KRB_AP_ERR_NOT_US``;
    - ``accept_any_keytab_principal``: accept tickets for every principal in the keytab
      instead (default False);
    - ``realm``: the realm named in the ``WWW-Authenticate`` challenge (default: the realm of
      the accepted principals);
    - ``max_skew``: the allowed clock skew in seconds (RFC 4120 §1.6, default 300);
    - ``require_authz``: refuse tickets without KDC-signed authorization data (default True;
      for ``Negotiate`` only when the KDC's public keys are known: a ticket of another KDC
      gives an identity and no groups);
    - ``kdc_jwks``: a file with the Orthrus KDC's public keys (its
      ``/.well-known/orthrus/jwks.json``), for an MIT keytab, which has none: the groups of
      ``Negotiate`` tickets from that KDC are then checked and used;
    - ``bind_requests``: require the authenticator's checksum to bind the HTTP method and path
      (default False: a binding is still checked whenever the client sends one);
    - ``replay_cache``: ``sqlite`` (default: a file that survives restarts and that the
      processes of one host share, ``replay_cache_path``, by default ``replay.sqlite`` in
      :func:`default_state_dir`, holding at most ``replay_cache_max_entries``), ``redis``
      (every host shares ``redis_url``, keys under ``redis_prefix``) or ``memory`` (one
      process; after a restart it refuses authenticators made before it started);
    - ``ticket_cache_size``: tickets kept decrypted and checked, so a ticket's signature is
      verified once, not on every request;
    - ``reload_interval``: at most how often (s) the keytab file is looked at;
    - ``session_lifetime``: the longest life (s) of a session token (never past the ticket);
    - ``record_messages``, ``lab_replay_cache_off``, ``lab_unsigned_authz``,
      ``lab_no_authenticator``, ``lab_no_session_key``, ``lab_no_timestamp``: lab switches,
      refused unless the KDC at ``kdc_url`` serves the realm as a lab (:mod:`service_lib.lab`).
    """

    keytab: str = ""
    kdc_jwks: str = ""
    principals: list[str] = []
    accept_any_keytab_principal: bool = False
    realm: str | None = None
    max_skew: Annotated[int, msgspec.Meta(ge=1, le=3600)] = DEFAULT_MAX_SKEW
    require_authz: bool = True
    bind_requests: bool = False
    replay_cache: Literal["memory", "sqlite", "redis"] = "sqlite"
    replay_cache_path: str | None = None
    replay_cache_max_entries: Annotated[int, msgspec.Meta(ge=1, le=100_000_000)] = 1_000_000
    redis_url: str = ""
    redis_prefix: str = "orthrus-service"
    ticket_cache_size: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 10_000
    reload_interval: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 1.0
    session_lifetime: Annotated[int, msgspec.Meta(ge=1, le=86_400)] = 3600
    #: Lab switches (service_lib.lab), refused unless the KDC at ``kdc_url`` says the realm
    #: is a lab realm: keep tokens, methods and paths in events (traces; never in
    #: production), no replay cache, unchecked authorization data, no authenticator, no
    #: session key, no timestamp (Bryant's *Dialogue*).
    record_messages: bool = False
    lab_replay_cache_off: bool = False
    lab_unsigned_authz: bool = False
    lab_no_authenticator: bool = False
    lab_no_session_key: bool = False
    lab_no_timestamp: bool = False
    kdc_url: str = ""

    def __repr__(self) -> str:
        return redacted_repr(self)  # no database or Redis password in logs and tracebacks

    def __post_init__(self) -> None:
        if self.principals and self.accept_any_keytab_principal:
            raise ConfigError(
                "set either principals or accept_any_keytab_principal = true, not both"
            )
        if self.replay_cache == "redis" and not self.redis_url:
            raise ConfigError("replay_cache = 'redis' needs redis_url (or ORTHRUS_REDIS_URL)")

    @property
    def lab_switches(self) -> list[str]:
        """The lab switches that are on, by name."""
        return [
            name
            for name, on in (
                ("record_messages", self.record_messages),
                ("lab_replay_cache_off", self.lab_replay_cache_off),
                ("lab_unsigned_authz", self.lab_unsigned_authz),
                ("lab_no_authenticator", self.lab_no_authenticator),
                ("lab_no_session_key", self.lab_no_session_key),
                ("lab_no_timestamp", self.lab_no_timestamp),
            )
            if on
        ]

    @property
    def keytab_paths(self) -> list[Path]:
        """The keytab file, or the files ``keytab`` names separated by commas (read as one)."""
        return [Path(name.strip()) for name in self.keytab.split(",") if name.strip()]

    @property
    def replay_cache_file(self) -> Path:
        """The file of the ``sqlite`` replay cache: ``replay_cache_path``, or the default."""
        if self.replay_cache_path:
            return Path(self.replay_cache_path)
        return default_state_dir() / "replay.sqlite"

    def accepted_principals(self, keytab_realms: Collection[str]) -> frozenset[Principal]:
        """The principals this service is (RFC 4120 §3.2.3, ``KRB_AP_ERR_NOT_US``).

        ``principals`` parsed, or ``HTTP/<host name>``; a name without realm is in
        ``realm``, else in the realm of the keytab (``keytab_realms``, the realms of its
        principals). Empty with ``accept_any_keytab_principal``: every principal of the
        keytab. A bad name is a ``ConfigError`` naming the key.
        """
        if self.accept_any_keytab_principal:
            return frozenset()
        names = self.principals or [f"HTTP/{socket.gethostname().lower()}"]
        realms = sorted({self.realm} if self.realm else set(keytab_realms))
        try:
            return frozenset(
                Principal.parse(name, realms[0] if len(realms) == 1 else None) for name in names
            )
        except MalformedMessage as exc:
            raise ConfigError(
                f"key 'principals': {exc.message} (the keytab's realms: {', '.join(realms)}; "
                "set realm to choose one)"
            ) from None


def default_state_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where a service keeps its state: ``$XDG_STATE_HOME/orthrus``, else
    ``~/.local/state/orthrus`` (the XDG Base Directory specification's state home)."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "orthrus"


def load_verifier_settings(
    path: Path | None = None, env: Mapping[str, str] | None = None
) -> VerifierSettings:
    """Settings from ``path``'s ``[service]`` table (if given) and the environment."""
    env = os.environ if env is None else env
    table: dict[str, object] = {}
    source = "the environment"
    if path is not None:
        section = load_toml(path).get("service", {})
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: [service] must be a table")
        table, source = section, str(path)
    if "keytab" not in table and not env.get(ENV_NAMES["keytab"]):
        raise ConfigError(f"no keytab: set 'keytab' in [service] of {source} or ORTHRUS_KEYTAB")
    if env.get(PRINCIPALS_ENV):
        table = {**table, "principals": env[PRINCIPALS_ENV].replace(",", " ").split()}
    return build_settings(VerifierSettings, table, env, ENV_NAMES, source)
