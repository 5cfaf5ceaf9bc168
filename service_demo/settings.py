"""Settings of the demo service: where its keytab, database and replay cache live."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec

from orthrus_io.settings import redacted_repr
from service_lib import VerifierSettings

__all__ = ["DemoSettings"]


class DemoSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What ``python -m service_demo`` and :func:`service_demo.create_app` take.

    ``replay_cache`` is the SQLite file the workers share, which survives restarts (default
    ``DB.replay``, beside the database); ``"memory"`` asks for an in-process cache, only right
    with one worker; ``redis_url`` replaces it with Redis, shared by replicas on other hosts
    too. ``principals`` are the principals the service is (default ``HTTP/<host name>``), or
    every principal of the keytab with ``accept_any_keytab_principal``. ``realm`` defaults
    to the keytab principal's realm.
    """

    keytab: str
    #: The Orthrus KDC's JWKS file, for the groups of Negotiate tickets with an MIT keytab.
    kdc_jwks: str = ""
    db: str = "notes.sqlite"
    realm: str | None = None
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8080
    workers: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1
    replay_cache: str | None = None
    principals: list[str] = []
    accept_any_keytab_principal: bool = False
    sessions: bool = True
    #: Also hand sessions to browsers, as an HTTPS-only cookie (docs/http.md §4).
    browser_sessions: bool = False
    bind_requests: bool = False
    max_skew: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 300
    #: Redis replay cache shared by every worker and replica (wins over ``replay_cache``).
    redis_url: str = ""
    redis_prefix: str = "orthrus-service"
    #: JSON-lines audit log, one line per verification ("": none).
    audit_log: str = ""
    #: Serve HTTPS with this certificate and key (PEM).
    certfile: str | None = None
    keyfile: str | None = None
    #: Lab realms only (``orthrus-lab``), each refused unless the KDC at ``kdc_url`` says the
    #: realm is a lab: append every verification, token included, to this trace file...
    trace: str | None = None
    #: ...and turn a defence off: the replay cache, or the check of the KDC's signature.
    lab_replay_cache_off: bool = False
    lab_unsigned_authz: bool = False
    kdc_url: str = ""

    def __repr__(self) -> str:
        return redacted_repr(self)  # no database or Redis password in logs and tracebacks

    def verifier_settings(self) -> VerifierSettings:
        if self.redis_url:
            cache: Literal["memory", "sqlite", "redis"] = "redis"
        else:
            cache = "memory" if self.replay_cache == "memory" else "sqlite"
        return VerifierSettings(
            keytab=self.keytab,
            kdc_jwks=self.kdc_jwks,
            principals=self.principals,
            accept_any_keytab_principal=self.accept_any_keytab_principal,
            realm=self.realm,
            max_skew=self.max_skew,
            bind_requests=self.bind_requests,
            replay_cache=cache,
            replay_cache_path=self.replay_cache_path,
            redis_url=self.redis_url,
            redis_prefix=self.redis_prefix,
            record_messages=self.trace is not None,
            lab_replay_cache_off=self.lab_replay_cache_off,
            lab_unsigned_authz=self.lab_unsigned_authz,
            kdc_url=self.kdc_url,
        )

    def trace_labels(self) -> dict[str, str]:
        """The defences this service runs with, recorded in each lab trace line."""
        return {
            "replay_cache": "off" if self.lab_replay_cache_off else "on",
            "authz": "off" if self.lab_unsigned_authz else "on",
        }

    @property
    def audit_log_path(self) -> Path | None:
        return Path(self.audit_log) if self.audit_log else None

    @property
    def replay_cache_path(self) -> str | None:
        """The replay cache file: ``replay_cache``, or ``DB.replay`` (None: not a file)."""
        if self.replay_cache == "memory" or self.redis_url:
            return None
        return self.replay_cache or f"{self.db}.replay"

    @property
    def db_path(self) -> Path:
        return Path(self.db)
