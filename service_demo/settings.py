"""Settings of the demo service: where its keytab, database and replay cache live."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec

from service_lib import VerifierSettings

__all__ = ["DemoSettings"]


class DemoSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What ``python -m service_demo`` and :func:`service_demo.create_app` take.

    ``replay_cache`` is the SQLite file the workers share; None means an in-process cache,
    which is only right with one worker (the command line picks a file next to the
    database when ``workers`` > 1). ``realm`` defaults to the keytab principal's realm.
    """

    keytab: str
    db: str = "notes.sqlite"
    realm: str | None = None
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8080
    workers: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1
    replay_cache: str | None = None
    sessions: bool = True
    bind_requests: bool = False
    max_skew: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 300

    def verifier_settings(self) -> VerifierSettings:
        return VerifierSettings(
            keytab=self.keytab,
            realm=self.realm,
            max_skew=self.max_skew,
            bind_requests=self.bind_requests,
            replay_cache="sqlite" if self.replay_cache else "memory",
            replay_cache_path=self.replay_cache,
        )

    @property
    def db_path(self) -> Path:
        return Path(self.db)
