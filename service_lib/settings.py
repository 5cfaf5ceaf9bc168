"""Service verifier settings: which keytab, which principals, how strict (RFC 4120 §3.2.3).

Settings come from the ``[service]`` table of a TOML file, with environment variables on
top (``ORTHRUS_KEYTAB``, ``ORTHRUS_REPLAY_CACHE``, ``ORTHRUS_REPLAY_CACHE_PATH``,
``ORTHRUS_MAX_SKEW``, ``ORTHRUS_REDIS_URL``); a bad value is a ``ConfigError`` naming the key
or variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from orthrus.errors import ConfigError, MalformedMessage
from orthrus.principal import Principal
from orthrus.timecheck import DEFAULT_MAX_SKEW
from orthrus_io.settings import build_settings, load_toml, redacted_repr

__all__ = ["ENV_NAMES", "VerifierSettings", "load_verifier_settings"]

#: Environment variables that override settings, by field.
ENV_NAMES: Mapping[str, str] = {
    "keytab": "ORTHRUS_KEYTAB",
    "replay_cache": "ORTHRUS_REPLAY_CACHE",
    "replay_cache_path": "ORTHRUS_REPLAY_CACHE_PATH",
    "max_skew": "ORTHRUS_MAX_SKEW",
    "redis_url": "ORTHRUS_REDIS_URL",
}


class VerifierSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How a service checks tickets.

    - ``keytab``: the keytab file (mode 0600), reloaded when it changes (key rotation);
    - ``principals``: the service principals accepted (empty: every principal in the keytab);
    - ``realm``: the realm named in the ``WWW-Authenticate`` challenge (default: the realm of
      the accepted principals);
    - ``max_skew``: the allowed clock skew in seconds (RFC 4120 §1.6, default 300);
    - ``require_authz``: refuse tickets without KDC-signed authorization data (default True);
    - ``bind_requests``: require the authenticator's checksum to bind the HTTP method and path
      (default False: a binding is still checked whenever the client sends one);
    - ``replay_cache``: ``memory`` (one process), ``sqlite`` (processes of one host share
      ``replay_cache_path``) or ``redis`` (every host shares ``redis_url``, keys under
      ``redis_prefix``);
    - ``ticket_cache_size``: tickets kept decrypted and checked, so a ticket's signature is
      verified once, not on every request;
    - ``reload_interval``: at most how often (s) the keytab file is looked at;
    - ``session_lifetime``: the longest life (s) of a session token (never past the ticket);
    - ``record_messages``, ``lab_replay_cache_off``, ``lab_unsigned_authz``: lab switches,
      refused unless the KDC at ``kdc_url`` serves the realm as a lab (:mod:`service_lib.lab`).
    """

    keytab: str
    principals: list[str] = []
    realm: str | None = None
    max_skew: Annotated[int, msgspec.Meta(ge=1, le=3600)] = DEFAULT_MAX_SKEW
    require_authz: bool = True
    bind_requests: bool = False
    replay_cache: Literal["memory", "sqlite", "redis"] = "memory"
    replay_cache_path: str | None = None
    redis_url: str = ""
    redis_prefix: str = "orthrus-service"
    ticket_cache_size: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 10_000
    reload_interval: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 1.0
    session_lifetime: Annotated[int, msgspec.Meta(ge=1, le=86_400)] = 3600
    #: Lab switches (service_lib.lab), refused unless the KDC at ``kdc_url`` says the realm
    #: is a lab realm: keep tokens in events, no replay cache, unchecked authorization data.
    record_messages: bool = False
    lab_replay_cache_off: bool = False
    lab_unsigned_authz: bool = False
    kdc_url: str = ""

    def __repr__(self) -> str:
        return redacted_repr(self)  # no database or Redis password in logs and tracebacks

    def __post_init__(self) -> None:
        if self.replay_cache == "sqlite" and not self.replay_cache_path:
            raise ConfigError("replay_cache = 'sqlite' needs replay_cache_path (a file path)")
        if self.replay_cache == "redis" and not self.redis_url:
            raise ConfigError("replay_cache = 'redis' needs redis_url (or ORTHRUS_REDIS_URL)")

    @property
    def keytab_path(self) -> Path:
        return Path(self.keytab)

    def accepted_principals(self) -> frozenset[Principal]:
        """The ``principals`` setting parsed (``ConfigError`` naming a bad one)."""
        try:
            return frozenset(Principal.parse(name) for name in self.principals)
        except MalformedMessage as exc:
            raise ConfigError(f"key 'principals': {exc.message}") from None


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
    return build_settings(VerifierSettings, table, env, ENV_NAMES, source)
