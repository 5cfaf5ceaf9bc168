"""The credential cache: one file per user (mode 0600, replaced atomically) holding the
default principal and its tickets with their session keys (RFC 4120 §3.1.5 "store").

Readers need no lock: a rename replaces the file whole, so a reader sees the old cache or the
new one, never a mix. Writers take an exclusive ``flock`` on a lock file beside the cache for
their read-modify-write, so two processes sharing one cache (a program storing service
tickets, ``orthrus kinit --keep`` renewing its TGT) never lose each other's update.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from client_lib.errors import NoCredentials
from orthrus.codec import decode, encode
from orthrus.credentials import Credential
from orthrus.errors import ConfigError, MalformedMessage
from orthrus.principal import Principal
from orthrus_io.files import (
    MAX_PRIVATE_FILE,
    destroy_private,
    locked_private,
    read_private,
    write_private,
)

__all__ = ["CredentialCache"]


class _CacheFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    format: str
    principal: Principal
    credentials: list[Credential] = []


class CredentialCache:
    """A credential cache file."""

    FORMAT = "orthrus-ccache/1"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.exists()

    def _load(self) -> _CacheFile:
        if not self.path.exists() and not self.path.is_symlink():
            raise NoCredentials(
                f"no credentials cache found (filename: {self.path}); run 'orthrus kinit'"
            )
        try:
            data = read_private(self.path, "credentials cache")
            return decode(data, _CacheFile, MAX_PRIVATE_FILE)
        except MalformedMessage as exc:
            raise ConfigError(f"credentials cache {self.path} is damaged: {exc.message}") from None

    def principal(self) -> Principal:
        return self._load().principal

    def credentials(self) -> list[Credential]:
        return list(self._load().credentials)

    @property
    def lock_path(self) -> Path:
        """The file whose ``flock`` writers hold; never the cache, which each write replaces."""
        return self.path.with_name(f"{self.path.name}.lock")

    def initialize(self, principal: Principal, tgt: Credential) -> None:
        """Start the cache afresh for ``principal`` with its TGT (what ``kinit`` does)."""
        with locked_private(self.lock_path, "credentials cache lock file"):
            write_private(self.path, encode(_CacheFile(self.FORMAT, principal, [tgt])))

    def store(self, credential: Credential) -> None:
        """Add or replace the ticket for ``credential.server``."""
        with locked_private(self.lock_path, "credentials cache lock file"):
            cache = self._load()
            if credential.client != cache.principal:
                raise ConfigError(
                    f"the cache belongs to {cache.principal}, not {credential.client}; "
                    "run 'orthrus kinit' for the other principal with another ORTHRUS_CCACHE"
                )
            kept = [c for c in cache.credentials if c.server != credential.server]
            cache = _CacheFile(self.FORMAT, cache.principal, [*kept, credential])
            write_private(self.path, encode(cache))

    def find(self, server: Principal) -> Credential | None:
        return next((c for c in self.credentials() if c.server == server), None)

    def destroy(self) -> bool:
        """Overwrite and delete the cache; False if there was none (``kdestroy``)."""
        if not self.path.exists() and not self.path.is_symlink():
            return False
        with locked_private(self.lock_path, "credentials cache lock file"):
            return destroy_private(self.path, "credentials cache")
